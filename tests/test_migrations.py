"""The migration history has one head, and the migrated schema equals the models."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from notifier import migrate
from notifier.models import Base


def test_it_has_exactly_one_head():
    assert len(migrate.heads()) == 1


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
