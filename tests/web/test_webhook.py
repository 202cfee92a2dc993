"""The webhook: signatures, redeliveries, neutral answers, throttling, linking rules, withdrawal."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from sqlalchemy import func, select

from notifier.consent.service import resident_state
from notifier.models import AuditEvent, ConsentEvent, LineAccount, LinkAttempt, WebhookEvent
from tests.conftest import LINE_SECRET
from tests.factories import import_sources
from tests.line.test_flows import APPLICATIONS, RESIDENTS, bot_texts


@pytest.fixture
def city(line_stack, tmp_path):
    import_sources(line_stack.app, tmp_path, {"juminhyo": RESIDENTS + [
        {"宛名番号": "0000201", "世帯番号": "500002"}],
        "online_shinsei": APPLICATIONS + [{"申請ID": "IZM-AAAA-BBBB", "申請者宛名番号": "0000201",
                                           "手続きコード": "kyufukin", "申請日時": "2026-10-02 10:00"}]})
    return line_stack


def sign(body: bytes, secret: str = LINE_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def count(stack, model):
    with stack.app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model))


def new_user(stack, name="利用者"):
    user = stack.sim.state.add_user(name)
    stack.sim.follow(user.user_id)
    return user.user_id


def test_the_known_signature_vector_verifies():
    assert sign(b"bodybodybodybody", "channel_secret") == "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="


def test_a_bad_signature_is_rejected_with_nothing_stored(line_stack):
    client = line_stack.app.test_client()
    body = json.dumps({"destination": "U0", "events": [{"type": "follow", "webhookEventId": "01X",
                                                        "source": {"type": "user", "userId": "U" + "1" * 32}}]}).encode()
    for headers in ({"X-Line-Signature": sign(body, "wrong-secret")}, {}, {"X-Line-Signature": "not base64!"}):
        assert client.post("/line/webhook", data=body, headers=headers).status_code == 400
    assert count(line_stack, WebhookEvent) == 0 and count(line_stack, LineAccount) == 0


def test_the_verify_button_gets_200(line_stack):
    body = json.dumps({"destination": "U0", "events": []}).encode()
    resp = line_stack.app.test_client().post("/line/webhook", data=body, headers={"X-Line-Signature": sign(body)})
    assert resp.status_code == 200


def test_unknown_event_types_are_ignored_safely(line_stack):
    body = json.dumps({"destination": "U0", "events": [
        {"type": "videoPlayComplete", "webhookEventId": "01UNKNOWN", "timestamp": 1,
         "source": {"type": "user", "userId": "U" + "2" * 32}}]}).encode()
    resp = line_stack.app.test_client().post("/line/webhook", data=body, headers={"X-Line-Signature": sign(body)})
    assert resp.status_code == 200
    with line_stack.app.extensions["db_sessionmaker"]() as s:
        assert s.scalars(select(WebhookEvent.outcome)).one() == "ignored"


def test_a_redelivered_event_has_one_effect(city):
    uid = new_user(city)
    city.sim.send_text(uid, "IZM-7K3P-9QX2")
    city.sim.postback(uid, "consent=notify")
    before = count(city, ConsentEvent)
    assert city.sim.redeliver(uid)["webhook_status"] == 200
    assert city.sim.redeliver(uid)["webhook_status"] == 200
    assert count(city, ConsentEvent) == before == 1


def test_an_unknown_id_gets_the_neutral_answer_and_so_does_an_id_linked_elsewhere(city):
    first, second = new_user(city, "一人目"), new_user(city, "二人目")
    city.sim.send_text(first, "IZM-ZZZZ-ZZZZ")
    unknown_answer = bot_texts(city, first)[-1]
    city.sim.send_text(first, "IZM-7K3P-9QX2")
    city.sim.send_text(second, "IZM-7K3P-9QX2")
    taken_answer = bot_texts(city, second)[-1]
    assert unknown_answer == taken_answer and "確認できませんでした" in taken_answer
    with city.app.extensions["db_sessionmaker"]() as s:
        accounts = {a.line_user_id: a.atena_no for a in s.scalars(select(LineAccount))}
        assert accounts == {first: "0000101", second: None}
        refusals = s.scalars(select(AuditEvent).where(AuditEvent.action == "line_link")).all()
        assert [r.detail["result"] for r in refusals] == ["linked", "refused_already_linked"]


def test_five_failures_in_an_hour_throttle_the_user(city):
    uid = new_user(city)
    for n in range(5):
        city.sim.send_text(uid, f"IZM-WRNG-000{n}")
    city.sim.send_text(uid, "IZM-7K3P-9QX2")  # the right ID, but throttled now
    assert "しばらくの間IDの受付を停止" in bot_texts(city, uid)[-1]
    with city.app.extensions["db_sessionmaker"]() as s:
        assert s.scalars(select(LineAccount.atena_no)).one() is None
        assert s.scalar(select(func.count()).select_from(LinkAttempt)) == 5


def test_tax_without_notify_is_refused(city):
    uid = new_user(city)
    city.sim.send_text(uid, "IZM-7K3P-9QX2")
    city.sim.postback(uid, "consent=tax")
    assert "お知らせの送付を希望される場合にのみ" in bot_texts(city, uid)[-1]
    assert count(city, ConsentEvent) == 0
    city.sim.postback(uid, "consent=notify,tax")
    with city.app.extensions["db_sessionmaker"]() as s:
        assert resident_state(s, "0000101") == {"notify": True, "tax": True}


def test_unfollow_withdraws_at_once_and_marks_the_account_unreachable(city):
    uid = new_user(city)
    city.sim.send_text(uid, "IZM-7K3P-9QX2")
    city.sim.postback(uid, "consent=notify,tax")
    assert city.sim.block(uid)["webhook_status"] == 200
    with city.app.extensions["db_sessionmaker"]() as s:
        assert resident_state(s, "0000101") == {"notify": False, "tax": False}
        assert s.scalars(select(LineAccount.reachable)).one() is False
        actions = [(e.scope, e.action) for e in s.scalars(select(ConsentEvent).order_by(ConsentEvent.id))]
        assert actions[-2:] == [("notify", "withdraw"), ("tax", "withdraw")]


def test_a_moved_out_resident_cannot_link(line_stack, tmp_path):
    import_sources(line_stack.app, tmp_path, {"juminhyo": [
        {"宛名番号": "0000101", "世帯番号": "500001", "消除日": "2026-09-30", "消除事由": "転出"}],
        "online_shinsei": APPLICATIONS})
    uid = new_user(line_stack)
    line_stack.sim.send_text(uid, "IZM-7K3P-9QX2")
    assert "確認できませんでした" in bot_texts(line_stack, uid)[-1]


def test_only_current_consenting_reachable_residents_are_notifiable(city, tmp_path):
    from datetime import date

    from notifier.line.accounts import notifiable_accounts
    uid = new_user(city)
    city.sim.send_text(uid, "IZM-7K3P-9QX2")
    city.sim.postback(uid, "consent=notify")
    maker = city.app.extensions["db_sessionmaker"]
    with maker() as s:
        got = notifiable_accounts(s, date(2026, 11, 1))
        assert got[["setai_no", "atena_no", "line_user_id"]].values.tolist() == [["500001", "0000101", uid]]
    # The resident moves out: the link is no longer used for notices, from the day of removal.
    moved = [dict(r, **({"消除日": "2026-11-10", "消除事由": "転出"} if r["宛名番号"] == "0000101" else {}))
             for r in RESIDENTS]
    import_sources(city.app, tmp_path / "moved", {"juminhyo": moved})
    with maker() as s:
        assert len(notifiable_accounts(s, date(2026, 11, 9))) == 1
        assert len(notifiable_accounts(s, date(2026, 11, 10))) == 0
    # Blocking the account ends it too.
    city.sim.block(uid)
    with maker() as s:
        assert len(notifiable_accounts(s, date(2026, 11, 9))) == 0
