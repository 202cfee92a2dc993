"""Run Alembic from code (`notifier db upgrade`, tests): the migrations live in the top-level migrations/."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from notifier.config import REPO_ROOT


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def heads(url: str = "sqlite://") -> list[str]:
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
    head = heads()
    if at is None:
        return "the database has no schema yet: run `notifier db upgrade` first"
    if at not in head:
        return f"the database schema is at {at}, the code expects {', '.join(head)}: run `notifier db upgrade`"
    return None
