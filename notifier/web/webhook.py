"""POST /line/webhook: verify the signature on the raw body, record each event once, acknowledge fast.

Bodies are bounded twice: MAX_CONTENT_LENGTH (413 before the body is read) and WEBHOOK_MAX_EVENTS.

Events are processed after they are stored: inline (tests, `WEBHOOK_INLINE=True`) or by one
background thread per process, in the order received. Each `webhookEventId` has effect once.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager

from flask import Blueprint, Flask, abort, current_app, request
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from notifier import clock, db
from notifier.line.errors import LineError
from notifier.line.flows import handle_event
from notifier.models import WebhookEvent
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
    with _acking():
        new = record_events(events)
    if new:
        if current_app.config.get("WEBHOOK_INLINE"):
            process_pending(current_app._get_current_object())
        else:
            _wake_worker(current_app._get_current_object())
    return {"status": "ok"}


def record_events(events: list[dict]) -> int:
    """Insert events not seen before; returns how many were new."""
    rows = [{"webhook_event_id": str(e.get("webhookEventId") or ""), "event_type": str(e.get("type") or "unknown")[:32],
             "payload": e, "received_at": clock.now()} for e in events if e.get("webhookEventId")]
    if not rows:
        return 0
    s = db.session()
    dialect = s.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(WebhookEvent).values(rows).on_conflict_do_nothing(index_elements=["webhook_event_id"])
    with _writing(dialect):
        result = s.execute(stmt)
        s.commit()
    return result.rowcount or 0


_acks_in_flight = 0
_acks_lock = threading.Lock()
ACK_PRIORITY_MAX_WAIT = 0.05


@contextmanager
def _acking():
    """Marks a webhook request recording its events, so this process's worker waits for it (below)."""
    global _acks_in_flight
    with _acks_lock:
        _acks_in_flight += 1
    try:
        yield
    finally:
        with _acks_lock:
            _acks_in_flight -= 1


def _let_acks_pass() -> None:
    """Acknowledging LINE in time comes first: before each event, the worker waits (at most
    ACK_PRIORITY_MAX_WAIT) while requests of its process are recording events. Processing is CPU- and
    GIL-heavy; without this it slows the answers, not the other way round."""
    deadline = time.monotonic() + ACK_PRIORITY_MAX_WAIT
    while _acks_in_flight and time.monotonic() < deadline:
        time.sleep(0.001)


_sqlite_writer = threading.Lock()


@contextmanager
def _writing(dialect: str):
    """On SQLite, one writing transaction at a time per process: threads queue on a lock (woken at once)
    instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms."""
    if dialect != "sqlite":
        yield
        return
    with _sqlite_writer:
        yield


class _RepliesAfterCommit:
    """Stands in for the LineClient while an event's transaction is open: replies are queued and sent
    once the event's changes are committed, so no database write lock is held across a call to LINE
    (on SQLite that lock blocks every webhook insert), and no reply goes out for a rolled-back change."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, list]] = []

    def reply(self, reply_token: str, messages: list) -> None:
        self.pending.append((reply_token, messages))

    def send(self, client) -> None:
        for reply_token, messages in self.pending:
            try:
                client.reply(reply_token, messages)
            except LineError as exc:  # the state change stands; only the courtesy reply failed
                log.warning("reply failed", extra={"status": exc.status, "permanent": exc.permanent})
        self.pending.clear()


def process_pending(app: Flask, limit: int = 1000) -> int:
    """Process stored events in arrival order; each is claimed and applied in one transaction."""
    maker = app.extensions["db_sessionmaker"]
    client = line_client(app)
    done = 0
    with maker() as s:
        ids = s.scalars(select(WebhookEvent.id).where(WebhookEvent.processed_at.is_(None))
                        .order_by(WebhookEvent.id).limit(limit)).all()
    dialect = app.extensions["db_engine"].dialect.name
    for event_id in ids:
        _let_acks_pass()
        replies = _RepliesAfterCommit()
        with app.app_context(), maker() as s, _writing(dialect):
            claimed = s.execute(update(WebhookEvent).where(WebhookEvent.id == event_id,
                                                           WebhookEvent.processed_at.is_(None))
                                .values(processed_at=clock.now())).rowcount
            if claimed != 1:
                s.rollback()
                continue
            event = s.get(WebhookEvent, event_id)
            try:
                outcome = handle_event(s, event.payload, replies)
            except Exception:
                s.rollback()
                log.exception("webhook event failed", extra={"event_row": event_id})
                with maker() as s2:
                    s2.execute(update(WebhookEvent).where(WebhookEvent.id == event_id)
                               .values(processed_at=clock.now(), outcome="error"))
                    s2.commit()
                continue
            event.outcome = outcome
            s.commit()
            done += 1
        replies.send(client)  # after the commit and outside the write lock
    return done


_wakeups: dict[int, threading.Event] = {}
_lock = threading.Lock()


def _wake_worker(app: Flask) -> None:
    with _lock:
        wake = _wakeups.get(id(app))
        if wake is None:
            wake = threading.Event()
            _wakeups[id(app)] = wake
            threading.Thread(target=_worker, args=(app, wake), name="webhook-worker", daemon=True).start()
    wake.set()


def _worker(app: Flask, wake: threading.Event) -> None:
    while True:
        wake.wait(timeout=30)
        wake.clear()
        try:
            process_pending(app)
        except Exception:  # keep the worker alive; the next wake-up retries
            log.exception("webhook worker pass failed")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(webhook)
