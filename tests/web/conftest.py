"""Browser fixtures: the app served over real HTTP on 127.0.0.1 and headless Debian chromium.

Without /usr/bin/chromium the browser tests are skipped, except under CI=true, where they fail.
Screenshots go to $SCREENSHOT_DIR when set (to look at them), else to the test's tmp_path.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from notifier import create_app
from notifier.cli import register

TEST_SECRET = "test-secret-key-not-for-production"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing (CI=true: browser tests must run)")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_app(database_url):
    """The staff app on a free port of 127.0.0.1, served by werkzeug in a thread."""
    from werkzeug.serving import make_server
    app = create_app({"ENV": "test", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url})
    register(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(app=app, url=f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    server.server_close()
    app.extensions["db_engine"].dispose()


@pytest.fixture
def live_session(live_app):
    s = live_app.app.extensions["db_sessionmaker"]()
    yield s
    s.close()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    d = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d
