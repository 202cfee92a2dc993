"""POST /line/webhook: verify the signature on the raw body, record each event once, acknowledge fast.

Bodies are bounded twice: MAX_CONTENT_LENGTH (413 before the body is read) and WEBHOOK_MAX_EVENTS.

Events are stored and processed by `notifier.line.inbox`: inline (tests, `WEBHOOK_INLINE=True`) or by
one background thread per process, in the order received. Each `webhookEventId` has effect once.
"""
from __future__ import annotations

import json
import logging
import threading

from flask import Blueprint, Flask, abort, current_app, request

from notifier import db
from notifier.line import inbox
from notifier.web import public

log = logging.getLogger(__name__)
bp = Blueprint("line_webhook", __name__)


def line_client(app: Flask):
    """The app's one LineClient (one connection pool), pointed at LINE_API_BASE_URL."""
    client = app.extensions.get("line_client")
    if client is None:
        from notifier.line.client import LineClient
        client = LineClient.from_config(app.config)
        app.extensions["line_client"] = client
    return client


@bp.route("/line/webhook", methods=["POST"])
@public
def webhook():
    secret = current_app.config["LINE_CHANNEL_SECRET"]
    body = request.get_data(as_text=True)
    signature = request.headers.get("X-Line-Signature", "")
    if not secret or not signature:
        abort(400)
    from linebot.v3.exceptions import InvalidSignatureError
    from linebot.v3.webhook import SignatureValidator
    try:
        valid = SignatureValidator(secret).validate(body, signature)
    except (InvalidSignatureError, ValueError):
        valid = False
    if not valid:
        abort(400)
    try:
        events = json.loads(body).get("events") or []
    except (ValueError, AttributeError):
        abort(400)
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        abort(400)
    if len(events) > current_app.config["WEBHOOK_MAX_EVENTS"]:
        # LINE sends a handful of events per body; thousands in one signed body are not LINE's.
        log.warning("webhook body refused: too many events", extra={"events": len(events)})
        abort(400)
    app = current_app._get_current_object()
    if inbox.record_events(db.session(), events):
        if app.config.get("WEBHOOK_INLINE"):
            inbox.process_pending(app.extensions["db_sessionmaker"], line_client(app))
        else:
            _worker(app).wake()
    return {"status": "ok"}


def _worker(app: Flask) -> inbox.Worker:
    """The app's one inbox worker thread, started on first use."""
    with _lock:
        worker = app.extensions.get("webhook_worker")
        if worker is None:
            worker = inbox.Worker(app.extensions["db_sessionmaker"], line_client(app))
            app.extensions["webhook_worker"] = worker
    return worker


_lock = threading.Lock()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(webhook)
