"""Run the WSGI app under gunicorn from the command line (`notifier serve`), and the access logs.

Access logs never keep personal numbers or tokens: query strings (an old bookmark such as `/consents/?by=setai&q=<世帯番号>`,
`?aid=…`) are left out, the Referer is not logged, and in the path every run of 4+ digits (宛名番号,
世帯番号, 児童生徒番号) and every long token-like segment is replaced by `*`. The same redaction serves
gunicorn (RedactingLogger; `gunicorn -c python:notifier.gunicorn_config wsgi:app` uses it too) and the
werkzeug server of `notifier demo` (RedactingRequestHandler).
"""
from __future__ import annotations

import re

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from werkzeug.serving import WSGIRequestHandler

# No %(q)s (query), %(r)s (request line with the query) or %(f)s (Referer, which carries the previous
# page's query): the method, the redacted path, the protocol, status, size, time and user agent.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'

_DIGITS = re.compile(r"\d{4,}")
_TOKEN_SEGMENT = re.compile(r"(?<=/)[A-Za-z0-9_\-.~%]{16,}(?=/|$)")


def redact_path(target: str) -> str:
    """A request target as it may be logged: no query or fragment, numbers and tokens masked."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    return _DIGITS.sub("*", _TOKEN_SEGMENT.sub("*", path))


class RedactingLogger(Logger):
    """gunicorn's logger with the atoms that could carry personal data redacted (whatever the format)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = redact_path(environ.get("PATH_INFO", ""))
        atoms.update({"U": path, "q": "", "f": "-", "{referer}i": "-",
                      "r": f"{environ.get('REQUEST_METHOD', '-')} {path} {environ.get('SERVER_PROTOCOL', '-')}"})
        return atoms


class RedactingRequestHandler(WSGIRequestHandler):
    """werkzeug's development server (the demo) logging the redacted request line."""

    def log_request(self, code="-", size="-") -> None:
        command = getattr(self, "command", None)
        if command is None:       # a request line that did not parse: log nothing of it
            line = "(malformed request line)"
        else:
            line = f"{command} {redact_path(getattr(self, 'path', ''))} {getattr(self, 'request_version', '')}"
        self.log("info", '"%s" %s %s', line.translate(self._control_char_table), getattr(code, "value", code), size)


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


def gunicorn_options(host: str, port: int, workers: int = 2, threads: int = 4) -> dict:
    return {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync", "timeout": 60,
            "accesslog": "-", "access_log_format": ACCESS_LOG_FORMAT, "logger_class": RedactingLogger}


def run_gunicorn(app, *, host: str, port: int, workers: int = 2, threads: int = 4) -> None:
    _Gunicorn(app, gunicorn_options(host, port, workers, threads)).run()
