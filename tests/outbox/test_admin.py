"""「お知らせの送信」's service and page: counts and pages without bodies or LINE user IDs, and the
retry / cancel / resolve actions, each allowed only from the right status and audited."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from notifier import audit, clock
from notifier.models import AuditEvent, Delivery, LineAccount, Notice, OutboxAlert
from notifier.outbox import admin
from tests.factories import create_staff, csrf_token, sign_in
from tests.outbox import builders

DAY = date(2026, 7, 1)
ACTOR = audit.Actor(label="test")
BODY = "就学援助のご案内（本文・表示してはいけない）"


def make_delivery(s, status: str = "queued", **values) -> Delivery:
    """A delivery whose body is BODY: no page or count may show it."""
    return builders.make_delivery(s, status, message=json.dumps([{"type": "text", "text": BODY}], ensure_ascii=False),
                                  **values)


def test_counts_and_pages_say_nothing_of_bodies_or_line_users(db_session):
    for status in ("queued", "sent", "sent", "failed", "cancelled", "unknown"):
        make_delivery(db_session, status, sent_at=clock.now() if status == "sent" else None)
    counts = admin.status_counts(db_session)
    assert counts == {"queued": 1, "sending": 0, "sent": 2, "failed": 1, "cancelled": 1, "unknown": 1}
    rows, pages = admin.deliveries(db_session, admin.Filters(status="sent"))
    assert [r.status for r in rows] == ["sent", "sent"] and pages == 1
    assert not any(hasattr(r, "message") or hasattr(r, "line_user_id") for r in rows)
    assert admin.quota_use(db_session, 1000)["sent"] == 2
    later = admin.deliveries(db_session, admin.Filters(date_from=DAY + timedelta(days=1)))[0]
    assert later == []


def test_a_failed_delivery_is_sent_again_with_a_new_retry_key_and_audited(db_session):
    d = make_delivery(db_session, "failed", attempts=8, error_status=400, error_message="bad")
    old_key = d.retry_key
    admin.retry(db_session, d.id, actor=ACTOR)
    db_session.refresh(d)
    assert (d.status, d.attempts, d.error_message) == ("queued", 0, None) and d.retry_key != old_key
    row = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery_change")).one()
    assert row.detail == {"from": "failed", "change": "retry", "to": "queued"} and row.target_id == str(d.id)


@pytest.mark.parametrize("status", ["sent", "queued", "sending", "cancelled"])
def test_only_failed_or_unknown_deliveries_can_be_retried(db_session, status):
    d = make_delivery(db_session, status)
    with pytest.raises(admin.ActionRefused):
        admin.retry(db_session, d.id, actor=ACTOR)
    db_session.refresh(d)
    assert d.status == status


def test_an_unknown_delivery_is_resolved_by_what_staff_found(db_session):
    received, lost = make_delivery(db_session, "unknown"), make_delivery(db_session, "unknown")
    admin.resolve_unknown(db_session, received.id, received=True, actor=ACTOR)
    admin.resolve_unknown(db_session, lost.id, received=False, actor=ACTOR)
    db_session.refresh(received)
    db_session.refresh(lost)
    assert received.status == "sent" and db_session.get(Notice, received.notice_id).first_sent_at is not None
    assert lost.status == "failed"
    with pytest.raises(admin.ActionRefused):                 # a sent delivery is never "resolved" again
        admin.resolve_unknown(db_session, received.id, received=False, actor=ACTOR)


def test_a_sending_delivery_cannot_be_cancelled_under_a_dispatcher(db_session):
    d = make_delivery(db_session, "sending")
    with pytest.raises(admin.ActionRefused):
        admin.cancel(db_session, d.id, actor=ACTOR)
    q = make_delivery(db_session, "queued")
    admin.cancel(db_session, q.id, actor=ACTOR)
    db_session.refresh(q)
    assert (q.status, q.cancel_reason) == ("cancelled", "staff")


def test_the_page_shows_counts_reasons_and_actions_to_coordinators_only(app, client, db_session):
    failed = make_delivery(db_session, "failed", setai_no="0000900001", error_status=400,
                           error_message="The property, 'to', is invalid")
    make_delivery(db_session, "sent", sent_at=clock.now())
    db_session.add(OutboxAlert(kind="quota", detail={"status": 429}))
    db_session.commit()
    coordinator = create_staff(db_session, "coord", ["coordinator"])
    sign_in(client, db_session, coordinator)
    page = client.get("/sending/").get_data(as_text=True)
    assert 'data-status-count="failed"' in page and "The property, &#39;to&#39;, is invalid" in page
    assert 'data-alert="quota"' in page and "0000900001" in page
    assert BODY not in page and "U" + "0" * 5 not in page
    assert all(a.line_user_id not in page for a in db_session.scalars(select(LineAccount)))

    token = csrf_token(client, "/sending/")
    answer = client.post(f"/sending/{failed.id}/retry", data={"csrf_token": token})
    assert answer.status_code == 302
    db_session.expire_all()
    assert db_session.get(Delivery, failed.id).status == "queued"
    again = client.post(f"/sending/{failed.id}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "この操作はできません" in again.get_data(as_text=True)
    assert client.get("/sending/?status=nonsense").status_code == 400
    assert client.get("/sending/?from=9999-12-31").status_code == 400

    auditor = create_staff(db_session, "aud", ["auditor"])
    c2 = app.test_client()
    sign_in(c2, db_session, auditor)
    page = c2.get("/sending/").get_data(as_text=True)
    assert "0000900001" not in page and "もう一度送る" not in page        # no households, no actions
    assert c2.post(f"/sending/{failed.id}/cancel", data={"csrf_token": csrf_token(c2, "/sending/")}).status_code == 403
    author = create_staff(db_session, "author", ["rule_author"])
    c3 = app.test_client()
    sign_in(c3, db_session, author)
    assert c3.get("/sending/").status_code == 403


def test_the_operations_page_points_to_failures_unknowns_and_the_quota(client, db_session):
    make_delivery(db_session, "failed")
    make_delivery(db_session, "unknown")
    db_session.add(OutboxAlert(kind="quota"))
    db_session.commit()
    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))
    page = client.get("/ops/").get_data(as_text=True)
    assert "送信できなかったお知らせが 1 件" in page and "確認が必要な送信が 1 件" in page
    assert "LINEの今月の送信上限に達したため" in page and 'href="/sending/"' in page
