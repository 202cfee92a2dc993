"""Without chromium the browser tests skip loudly on a laptop and fail under CI=true."""
from __future__ import annotations

import os
import subprocess
import sys

from notifier.config import REPO_ROOT


def _run(env: dict) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "DATABASE_URL")}
    environment.update(CHROMIUM_PATH="/nonexistent/chromium", **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                           "tests/web/test_liff_browser.py"], cwd=REPO_ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_without_chromium_the_browser_tests_skip_with_the_reason_and_a_banner():
    proc = _run({})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout
    assert "SKIPPED" in proc.stdout and "/nonexistent/chromium is missing" in proc.stdout
    banner = proc.stdout.split("BROWSER TESTS", 1)[1]
    assert "apt-get install chromium fonts-noto-cjk" in banner


def test_without_chromium_the_browser_tests_fail_under_ci():
    proc = _run({"CI": "true"})
    assert proc.returncode != 0
    assert "CI=true: browser tests must run, not skip" in proc.stdout
