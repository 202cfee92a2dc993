"""Test fixtures: the real schema built by running the migrations, on SQLite or PostgreSQL.

DATABASE_URL chooses the database: unset → a fresh SQLite file per test (copied from one migrated
template); a postgresql URL → that database, migrated once per run, tables truncated after each test.
With CI=true an unreachable PostgreSQL fails the run instead of skipping.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from notifier import create_app, migrate
from notifier.cli import register
from notifier.config import normalise_database_url

# Shared fixtures that live beside the tests that use them most.
pytest_plugins = ["tests.outreach.casework"]

PG_URL = os.environ.get("DATABASE_URL", "")
USE_PG = PG_URL.startswith(("postgresql", "postgres://"))
TEST_SECRET = "test-secret-key-not-for-production"


def pytest_collection_modifyitems(config, items):
    """Tests that use the database carry the `db` marker (`-m db` / `-m "not db"`), wherever they live."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + PG_URL.rsplit('@', 1)[-1] if USE_PG else 'SQLite (file per test)'}"


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate once per run; yields the URL (PostgreSQL) or the template file path (SQLite)."""
    if USE_PG:
        url = normalise_database_url(PG_URL)
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any connection failure
            pytest.exit(f"PostgreSQL at {PG_URL.rsplit('@', 1)[-1]} is unreachable: {exc}", returncode=3)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        migrate.upgrade(url)
        yield url
        return
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    yield path


@pytest.fixture(scope="session")
def migration_seed(database_template):
    """Rows the migrations themselves insert (e.g. consent texts v1), restored after each PG test."""
    if not USE_PG:
        return {}
    from sqlalchemy import MetaData
    engine = create_engine(database_template)
    meta = MetaData()
    meta.reflect(engine)
    seed = {}
    with engine.connect() as conn:
        for name, table in meta.tables.items():
            if name == "alembic_version":
                continue
            rows = [dict(r) for r in conn.execute(table.select()).mappings()]
            if rows:
                seed[table] = rows
    engine.dispose()
    return seed


@pytest.fixture
def database_url(database_template, migration_seed, tmp_path):
    if USE_PG:
        yield database_template
        engine = create_engine(database_template)
        with engine.begin() as conn:
            tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            if tables:
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            for table, rows in migration_seed.items():
                conn.execute(table.insert(), rows)
                if "id" in table.c:
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                      f"(SELECT MAX(id) FROM {table.name}))"))
        engine.dispose()
        return
    path = tmp_path / "test.sqlite3"
    shutil.copy(database_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def app(database_url):
    app = create_app({"ENV": "test", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url,
                      "SERVER_NAME": "localhost"})
    register(app)          # the commands, as `flask --app wsgi …` finds them (the `runner` fixture)
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db_session(app):
    """A session outside any app context (an open context would share `g` across test requests)."""
    s = app.extensions["db_sessionmaker"]()
    yield s
    s.close()


LINE_SECRET = "test-channel-secret"
LINE_TOKEN = "test-access-token"


@pytest.fixture
def line_stack(database_url):
    """The app served over real HTTP and the LINE simulator, wired to each other.

    The app reaches the simulator only through LINE_API_BASE_URL (the real SDK), and the simulator
    delivers signed webhook events to the app's /line/webhook.
    """
    from types import SimpleNamespace

    from werkzeug.serving import make_server

    from notifier.line.sim.app import create_sim_app, serve_in_thread

    app = create_app({"ENV": "test", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url,
                      "LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
                      "LINE_LOGIN_CHANNEL_ID": "1650000000", "WEBHOOK_INLINE": True})
    import threading
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app_url = f"http://127.0.0.1:{server.server_port}"
    sim_server = serve_in_thread(create_sim_app(LINE_SECRET, LINE_TOKEN, f"{app_url}/line/webhook",
                                                login_channel_id="1650000000"))
    app.config["LINE_API_BASE_URL"] = sim_server.base_url
    yield SimpleNamespace(app=app, app_url=app_url, sim=sim_server.sim, sim_url=sim_server.base_url)
    sim_server.shutdown()
    server.shutdown()
    server.server_close()
    client = app.extensions.get("line_client")
    if client is not None:
        client.close()
    app.extensions["db_engine"].dispose()


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory):
    """A tiny generated city's exports (generated once per run; the job and ops tests drop them)."""
    from notifier.synth import generate
    out = tmp_path_factory.mktemp("tiny_city")
    generate("tiny", 5, out)
    return out


CITY_CACHE = Path(__file__).resolve().parent.parent / "instance" / "test-cities"


def generated_city(scale: str, seed: int) -> tuple[Path, dict]:
    """A generated city, made once and kept on disk under instance/test-cities/ for later runs (the
    SQLite and PostgreSQL runs of CI share it). The key includes a hash of the generator's code and the
    data contract, so a change to either makes a new city. Read-only: copy it before changing files."""
    import hashlib
    import json
    import uuid

    import notifier.contract
    import notifier.synth
    from notifier.synth import generate
    code = sorted(Path(notifier.synth.__file__).parent.rglob("*.py")) + [Path(notifier.contract.__file__)]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in code)).hexdigest()[:12]
    final = CITY_CACHE / f"{scale}-{seed}-{digest}"
    if not (final / "summary.json").exists():
        building = CITY_CACHE / f".building-{uuid.uuid4().hex}"
        summary = generate(scale, seed, building / "city")
        (building / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, default=str))
        try:
            building.rename(final)                    # atomic: a parallel run that won keeps its copy
        except OSError:
            shutil.rmtree(building, ignore_errors=True)
    return final / "city", json.loads((final / "summary.json").read_text())


@pytest.fixture(scope="session")
def small_city() -> tuple[Path, dict]:
    """The `small` city (seed 11), shared by every test that needs a whole city: (directory, summary)."""
    return generated_city("small", 11)


