"""Flask app factory and servers for the local LINE simulator (`notifier line-sim`)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, g, request
from gunicorn.app.base import BaseApplication
from werkzeug.serving import make_server, run_simple

from . import DEFAULT_LOGIN_CHANNEL_ID, api, control, phone, spec
from .core import LineSim, SimConfig
from .signing import line_user_id
from .state import SimState

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_API_PREFIXES = ("/v2/", "/oauth2/")


def templates_dir() -> Path:
    """The repository's top-level templates/ (the one holding line_sim/), found from this file."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "templates"
        if (candidate / "line_sim").is_dir():
            return candidate
    return here.parents[3] / "templates"


def create_sim_app(
    channel_secret: str,
    access_token: str,
    webhook_url: str | None,
    login_channel_id: str = DEFAULT_LOGIN_CHANNEL_ID,
    rate_limit_per_second: float | None = None,
    *,
    bot_user_id: str | None = None,
    bot_display_name: str = "和泉市",
    reply_token_ttl: float = 60.0,
    seed: int | None = 0,
) -> Flask:
    """A Flask app that answers like LINE's Messaging API and Login verify, plus /_sim/ and /phone/."""
    app = Flask(__name__, template_folder=str(templates_dir()), static_folder=str(STATIC_DIR),
                static_url_path="/_sim/static")
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    config = SimConfig(
        channel_secret=channel_secret,
        access_token=access_token,
        webhook_url=webhook_url,
        login_channel_id=str(login_channel_id),
        bot_user_id=bot_user_id or line_user_id(),
        bot_display_name=bot_display_name,
    )
    state = SimState(seed=seed, reply_token_ttl=reply_token_ttl,
                     rate_limit_per_second=rate_limit_per_second)
    app.extensions["line_sim"] = LineSim(config, state)
    spec.warm()

    app.register_blueprint(api.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(phone.bp)

    @app.before_request
    def _start() -> None:
        g.request_id = str(uuid.uuid4())
        g.started = time.monotonic()

    @app.after_request
    def _finish(response):
        response.headers["X-Line-Request-Id"] = g.get("request_id") or str(uuid.uuid4())
        if response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
        if request.path.startswith(_API_PREFIXES):
            state.log_request({
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "request_id": g.get("request_id"),
                "retry_key": g.get("retry_key"),
                "accepted_request_id": g.get("accepted_request_id"),
                "delivered": g.get("delivered"),
                "at": state.now(),
                "elapsed_ms": round((time.monotonic() - g.get("started", time.monotonic())) * 1000),
            })
        return response

    return app


@dataclass
class SimServer:
    """A simulator served on a background thread (tests, the demo)."""

    app: Flask
    host: str
    port: int
    _server: object
    _thread: threading.Thread

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def sim(self) -> LineSim:
        return self.app.extensions["line_sim"]

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def serve_in_thread(app: Flask, host: str = "127.0.0.1", port: int = 0) -> SimServer:
    """Serve `app` threaded on host:port (0 picks a free port) and return at once."""
    server = make_server(host, port, app, threaded=True)
    # A short poll interval keeps shutdown() fast; tests start and stop many simulators.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="line-sim", daemon=True)
    thread.start()
    return SimServer(app=app, host=host, port=server.server_port, _server=server, _thread=thread)


def run_sim(host: str = "127.0.0.1", port: int = 8765, *, server: str = "werkzeug", threads: int = 8,
            **kw) -> None:
    """Run the simulator in the foreground until interrupted (`notifier line-sim`).

    server "werkzeug": Flask's development server (one thread per request, every request logged).
    server "gunicorn": one gunicorn gthread worker with `threads` threads and no access log, for load
    (`notifier bench --dispatch`). One worker only: users, retry keys and the quota live in this
    process's memory, so a second worker would be a second LINE. Every body is validated either way.
    """
    kw.setdefault("channel_secret", "sim-channel-secret")
    kw.setdefault("access_token", "sim-access-token")
    kw.setdefault("webhook_url", None)
    app = create_sim_app(**kw)
    logger.info("LINE simulator on http://%s:%s/phone/", host, port)
    if server == "gunicorn":
        _SimGunicorn(app, {"bind": f"{host}:{port}", "workers": 1, "threads": threads,
                           "worker_class": "gthread", "timeout": 120, "keepalive": 30, "accesslog": None,
                           "loglevel": "warning"}).run()
        return
    run_simple(host, port, app, threaded=True, use_reloader=False)


class _SimGunicorn(BaseApplication):
    def __init__(self, app, options: dict):
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._app
