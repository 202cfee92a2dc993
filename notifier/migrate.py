"""Run Alembic from code (`notifier db upgrade`, tests): the migrations live in the top-level migrations/.

Every command checks the database is at `SCHEMA_HEAD` before it runs; the check does not import
Alembic (a tenth of a second per command). tests/test_migrations.py holds the constant to Alembic's
one head, so a new migration that forgets it fails the suite.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from notifier.config import REPO_ROOT

if TYPE_CHECKING:
    from alembic.config import Config

SCHEMA_HEAD = "0011"


def alembic_config(url: str) -> Config:
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command
    command.upgrade(alembic_config(url), revision)


def heads(url: str = "sqlite://") -> list[str]:
    """Alembic's heads, read from the migration scripts."""
    from alembic.script import ScriptDirectory
    return list(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def current(engine) -> str | None:
    """The revision the database is at (None: not migrated yet)."""
    from sqlalchemy import inspect, text
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def out_of_date(engine) -> str | None:
    """Why the schema cannot be used (not migrated, or behind the code), or None when it is at head."""
    at = current(engine)
    if at is None:
        return "the database has no schema yet: run `notifier db upgrade` first"
    if at != SCHEMA_HEAD:
        return f"the database schema is at {at}, the code expects {SCHEMA_HEAD}: run `notifier db upgrade`"
    return None
