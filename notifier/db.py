"""Database engine and sessions: one engine per app, one session per request or job."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        from pathlib import Path
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    app.extensions["db_engine"] = engine
    # Services below the web layer never read Flask's config; the key the outbox signs its /r/ links
    # with travels on every session instead (outbox/enqueue.py).
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False,
                                                     info={"link_signing_key": app.config["SECRET_KEY"]})
    app.teardown_appcontext(_close_request_session)


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def session() -> Session:
    """The session of the current request or CLI command (created on first use)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def _close_request_session(_exc) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


@contextmanager
def transaction() -> Iterator[Session]:
    """A job-owned transaction: commit on success, roll back on any error."""
    s = current_app.extensions["db_sessionmaker"]()
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()


def ping() -> None:
    """The health check: one round trip to the database."""
    from sqlalchemy import text
    session().execute(text("SELECT 1"))
