"""The app served for real on 127.0.0.1: werkzeug in a thread of the test process, or gunicorn as a
separate process (two workers, threads), with its access log captured."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from notifier import create_app
from notifier.config import REPO_ROOT

TEST_SECRET = "test-secret-key-not-for-production"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:     # not listening yet, or a worker still booting
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.1)


@contextmanager
def werkzeug_server(database_url: str, **config):
    from werkzeug.serving import make_server
    app = create_app({"ENV": "test", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url, **config})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["db_engine"].dispose()


class Gunicorn:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path):
        self.url, self.proc, self.log_path = url, proc, log

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def gunicorn_server(database_url: str, tmp_path: Path, *, workers: int = 2, threads: int = 8, env: dict | None = None):
    """`gunicorn -c python:notifier.gunicorn_config wsgi:app`, as the README runs it in production."""
    port = free_port()
    log = tmp_path / f"gunicorn-{port}.log"
    environment = {**os.environ, "NOTIFIER_ENV": "test", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url,
                   **(env or {})}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:notifier.gunicorn_config",
                                 "-w", str(workers), "-k", "gthread", "--threads", str(threads),
                                 "-b", f"127.0.0.1:{port}", "wsgi:app"],
                                cwd=REPO_ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield Gunicorn(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
