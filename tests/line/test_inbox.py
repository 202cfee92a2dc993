"""The webhook inbox: stored once, applied in order, by the background worker when not inline."""
from __future__ import annotations

import json
import time

from sqlalchemy import select

from notifier.line import inbox
from notifier.models import LineAccount, WebhookEvent
from tests.web.test_webhook import sign


def _follow(event_id: str, user_id: str) -> dict:
    return {"type": "follow", "webhookEventId": event_id, "timestamp": 1_760_000_000_000,
            "source": {"type": "user", "userId": user_id}, "replyToken": "r" * 32}


def test_a_redelivered_event_is_stored_once(line_stack):
    maker = line_stack.app.extensions["db_sessionmaker"]
    events = [_follow("01A", "U" + "a" * 32), _follow("01B", "U" + "b" * 32)]
    with maker() as s:
        assert inbox.record_events(s, events) == 2
        assert inbox.record_events(s, events + [_follow("01C", "U" + "c" * 32)]) == 1
        assert inbox.record_events(s, [{"type": "follow"}]) == 0      # no webhookEventId: nothing to key on
        assert s.scalars(select(WebhookEvent.webhook_event_id).order_by(WebhookEvent.id)).all() == ["01A", "01B", "01C"]


def test_without_inline_processing_the_worker_applies_events_after_the_answer(line_stack):
    app = line_stack.app
    app.config["WEBHOOK_INLINE"] = False
    user_id = "U" + "d" * 32
    body = json.dumps({"destination": "U0", "events": [_follow("01D", user_id)]}).encode()
    resp = app.test_client().post("/line/webhook", data=body, headers={"X-Line-Signature": sign(body)})
    assert resp.status_code == 200
    maker = app.extensions["db_sessionmaker"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with maker() as s:
            outcome = s.scalars(select(WebhookEvent.outcome).where(WebhookEvent.webhook_event_id == "01D")).one()
            if outcome is not None:
                break
        time.sleep(0.05)
    with maker() as s:
        assert s.scalars(select(WebhookEvent.processed_at).where(WebhookEvent.webhook_event_id == "01D")).one()
        assert s.scalars(select(LineAccount).where(LineAccount.line_user_id == user_id)).one_or_none() is not None
    assert app.extensions["webhook_worker"] is not None
    # a second pass finds nothing left to do
    assert inbox.process_pending(maker, app.extensions["line_client"]) == 0
