"""Run the WSGI app under gunicorn from the command line (`notifier serve`, `notifier demo`)."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app, options: dict):
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._app


def run_gunicorn(app, *, host: str, port: int, workers: int = 2, threads: int = 4) -> None:
    _Gunicorn(app, {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
                    "worker_class": "gthread" if threads > 1 else "sync",
                    "accesslog": "-", "timeout": 60}).run()
