"""The migration history has one head, and the migrated schema equals the models."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from notifier import migrate
from notifier.models import Base


def test_it_has_exactly_one_head():
    assert len(migrate.heads()) == 1


def test_the_head_every_command_checks_is_alembics():
    # Commands compare the database with SCHEMA_HEAD without importing Alembic: a new migration
    # must move the constant too.
    assert migrate.heads() == [migrate.SCHEMA_HEAD]


def test_it_matches_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_it_is_at_head(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert version == migrate.heads()[0]


def test_a_command_on_a_database_without_the_latest_schema_says_so(tmp_path):
    import os
    import subprocess
    import sys
    env = {**os.environ, "NOTIFIER_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path}/old.sqlite3"}
    notifier = os.path.join(os.path.dirname(sys.executable), "notifier")
    proc = subprocess.run([notifier, "data", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "run `notifier db upgrade` first" in proc.stderr
    migrate.upgrade(env["DATABASE_URL"], "0004")
    proc = subprocess.run([notifier, "daily"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "schema is at 0004" in proc.stderr and "Traceback" not in proc.stderr
    assert subprocess.run([notifier, "db", "upgrade"], env=env, capture_output=True, timeout=60).returncode == 0
    assert subprocess.run([notifier, "data", "status"], env=env, capture_output=True, timeout=60).returncode == 0
