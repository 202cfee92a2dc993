"""Browser fixtures: the app served over real HTTP on 127.0.0.1 and headless Debian chromium.

Without /usr/bin/chromium the browser tests are skipped locally — with the reason in the summary and a
banner at the end of the run saying how to install it — and fail under CI=true. Without the Noto CJK
fonts they run, but the banner says screenshots will show boxes instead of Japanese.
Screenshots go to $SCREENSHOT_DIR when set (to look at them), else to the test's tmp_path.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from notifier import create_app
from notifier.cli import register

TEST_SECRET = "test-secret-key-not-for-production"
# CHROMIUM_PATH points elsewhere (a test of this fixture points it at nothing).
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


INSTALL_HINT = ("install them with: sudo apt-get install chromium fonts-noto-cjk "
                "(Debian/Ubuntu; see README 'Two commands')")
_problems: list[str] = []


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: the browser tests did not run; {INSTALL_HINT}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[test]'"
    return None


def fonts_missing() -> str | None:
    if shutil.which("fc-list") is None:
        return None
    listed = subprocess.run(["fc-list", ":lang=ja", "family"], capture_output=True, text=True).stdout
    if "Noto Sans CJK" in listed:
        return None
    return f"the Noto Sans CJK fonts are missing: screenshots show boxes instead of Japanese; {INSTALL_HINT}"


def pytest_terminal_summary(terminalreporter):
    for problem in dict.fromkeys(_problems):
        terminalreporter.write_sep("!", "BROWSER TESTS", red=True, bold=True)
        terminalreporter.write_line(problem, red=True, bold=True)


@pytest.fixture(scope="session")
def chromium():
    missing = browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} (CI=true: browser tests must run, not skip)", pytrace=False)
        _problems.append(missing)
        pytest.skip(missing)
    fonts = fonts_missing()
    if fonts:
        _problems.append(fonts)
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
