"""The webhook inbox: events LINE sent, stored once each and applied in the order received.

`record_events` stores a verified body's events (a redelivered `webhookEventId` is ignored);
`process_pending` claims and applies stored events, each in one transaction, and sends the replies
only after that transaction commits. `Worker` runs `process_pending` in one background thread per
process, woken by each new body. The web view only verifies, parses and calls these.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from notifier import clock
from notifier.line.errors import LineError
from notifier.line.flows import handle_event
from notifier.models import WebhookEvent

log = logging.getLogger(__name__)

ACK_PRIORITY_MAX_WAIT = 0.05

_acks_in_flight = 0
_acks_lock = threading.Lock()
_sqlite_writer = threading.Lock()


def record_events(session: Session, events: list[dict]) -> int:
    """Insert events not seen before and commit; returns how many were new."""
    rows = [{"webhook_event_id": str(e.get("webhookEventId") or ""), "event_type": str(e.get("type") or "unknown")[:32],
             "payload": e, "received_at": clock.now()} for e in events if e.get("webhookEventId")]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING names the rows inserted; rowcount of a multi-row INSERT … ON CONFLICT is -1 on psycopg.
    stmt = (insert(WebhookEvent).values(rows).on_conflict_do_nothing(index_elements=["webhook_event_id"])
            .returning(WebhookEvent.id))
    with _acking(), _writing(dialect):
        new = len(session.execute(stmt).all())
        session.commit()
    return new


@contextmanager
def _acking():
    """Marks a request recording its events, so this process's worker waits for it (below)."""
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


def process_pending(maker: Callable[[], Session], client, limit: int = 1000) -> int:
    """Process stored events in arrival order; each is claimed and applied in one transaction."""
    done = 0
    with maker() as s:
        ids = s.scalars(select(WebhookEvent.id).where(WebhookEvent.processed_at.is_(None))
                        .order_by(WebhookEvent.id).limit(limit)).all()
        dialect = s.get_bind().dialect.name
    for event_id in ids:
        _let_acks_pass()
        replies = _RepliesAfterCommit()
        with maker() as s, _writing(dialect):
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


class Worker:
    """One background thread that processes the inbox whenever it is woken (and every 30 s)."""

    def __init__(self, maker: Callable[[], Session], client) -> None:
        self._maker, self._client = maker, client
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=30)
            self._wake.clear()
            try:
                process_pending(self._maker, self._client)
            except Exception:  # keep the worker alive; the next wake-up retries
                log.exception("webhook worker pass failed")
