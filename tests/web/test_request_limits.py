"""Request size limits: MAX_CONTENT_LENGTH for every request (413, a Japanese page or JSON for LINE),
and at most WEBHOOK_MAX_EVENTS events in one signed webhook body."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from notifier.models import AuditEvent, WebhookEvent
from tests.factories import csrf_token
from tests.web.test_webhook import sign


def _stored(app, model) -> int:
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model))


def _events(n: int) -> bytes:
    return json.dumps({"destination": "U0", "events": [
        {"type": "unknown", "webhookEventId": f"01E{i:05d}", "timestamp": 0, "mode": "active"} for i in range(n)]}
    ).encode()


def test_a_large_webhook_body_is_refused_unread_and_nothing_is_stored(line_stack):
    app = line_stack.app
    body = json.dumps({"destination": "U0", "events": [], "padding": "x" * (4 * 1024 * 1024)}).encode()
    resp = app.test_client().post("/line/webhook", data=body, headers={"X-Line-Signature": sign(body)})
    assert resp.status_code == 413 and resp.get_json() == {"error": 413}
    assert _stored(app, WebhookEvent) == 0


def test_a_signed_body_with_too_many_events_is_refused(line_stack):
    app, cap = line_stack.app, line_stack.app.config["WEBHOOK_MAX_EVENTS"]
    client = app.test_client()
    over = _events(cap + 1)
    assert len(over) < app.config["MAX_CONTENT_LENGTH"]          # refused for its count, not its size
    resp = client.post("/line/webhook", data=over, headers={"X-Line-Signature": sign(over)})
    assert resp.status_code == 400 and _stored(app, WebhookEvent) == 0
    at_cap = _events(cap)
    assert client.post("/line/webhook", data=at_cap, headers={"X-Line-Signature": sign(at_cap)}).status_code == 200
    assert _stored(app, WebhookEvent) == cap
    many = _events(3000)
    assert client.post("/line/webhook", data=many, headers={"X-Line-Signature": sign(many)}).status_code in (400, 413)


def test_events_that_are_not_objects_are_a_bad_request(line_stack):
    client = line_stack.app.test_client()
    for payload in ({"events": [1, 2]}, {"events": "x"}, {"events": [None]}):
        body = json.dumps(payload).encode()
        assert client.post("/line/webhook", data=body, headers={"X-Line-Signature": sign(body)}).status_code == 400


def test_a_huge_password_is_refused_before_any_check(client, db_session):
    token = csrf_token(client, "/login")
    resp = client.post("/login", data={"username": "tanaka", "password": "x" * (3 * 1024 * 1024), "csrf_token": token})
    assert resp.status_code == 413
    page = resp.get_data(as_text=True)
    assert 'lang="ja"' in page and "送信された内容が大きすぎます" in page and "Request Entity Too Large" not in page
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) == 0   # nothing was checked


def test_the_limit_is_configurable(monkeypatch):
    from notifier.config import ConfigError, load
    assert load(env={"MAX_CONTENT_LENGTH": "65536"}, overrides={"ENV": "test"})["MAX_CONTENT_LENGTH"] == 65536
    assert load(env={"WEBHOOK_MAX_EVENTS": "20"}, overrides={"ENV": "test"})["WEBHOOK_MAX_EVENTS"] == 20
    for bad in ("lots", "10"):
        try:
            load(env={"MAX_CONTENT_LENGTH": bad}, overrides={"ENV": "test"})
        except ConfigError:
            continue
        raise AssertionError(bad)
