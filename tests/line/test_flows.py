"""Follow → send ID → consent (notify only) → household consented without tax → 「配信停止」 → withdrawn.

Everything goes through signed webhook calls from the LINE simulator, and every reply the service
sends is observed at the simulator, sent by the real line-bot-sdk.
"""
from __future__ import annotations

import re

import pandas as pd
from sqlalchemy import select

from notifier.consent.state import household_state, person_state
from notifier.models import ConsentEvent, LineAccount, WebhookEvent
from tests.factories import import_sources

RESIDENTS = [
    {"宛名番号": "0000101", "世帯番号": "500001", "続柄": "世帯主"},
    {"宛名番号": "0000102", "世帯番号": "500001", "続柄": "子", "氏名カナ": "イズミ タロウ", "生年月日": "2015-06-01"},
]
APPLICATIONS = [{"申請ID": "IZM-7K3P-9QX2", "申請者宛名番号": "0000101", "手続きコード": "kyufukin",
                 "申請日時": "2026-10-01 10:00"}]


def bot_texts(stack, user_id):
    out = []
    for item in stack.sim.state.messages_for(user_id, sender="bot"):
        m = item.message
        out.append(m.get("text") or m.get("altText") or m["type"])
    return out


def household_consent(session):
    rows = session.execute(select(ConsentEvent.id, ConsentEvent.atena_no, ConsentEvent.scope,
                                  ConsentEvent.action, ConsentEvent.occurred_at)).all()
    persons = person_state(pd.DataFrame(rows, columns=["id", "atena_no", "scope", "action", "occurred_at"]))
    residents = pd.DataFrame({"atena_no": ["0000101", "0000102"], "setai_no": ["500001", "500001"]})
    return household_state(persons, residents)


def test_it_links_consents_and_withdraws_through_the_simulator(line_stack, tmp_path):
    stack = line_stack
    import_sources(stack.app, tmp_path, {"juminhyo": RESIDENTS, "online_shinsei": APPLICATIONS})
    user = stack.sim.state.add_user("和泉 花子")
    uid = user.user_id

    assert stack.sim.follow(uid)["webhook_status"] == 200
    assert "オンライン申請ID" in bot_texts(stack, uid)[-1]

    # Full-width, lower case, no hyphens: still the same ID.
    assert stack.sim.send_text(uid, "ｉｚｍ７ｋ３ｐ９ｑｘ２")["webhook_status"] == 200
    texts = bot_texts(stack, uid)
    assert "IDを確認しました" in texts[-3]
    assert "今後、ご希望の場合は、市から年齢、お住いの地域などにあわせてお知らせをLINEで送付させていただきます。" in texts[-2]
    assert "市職員が私と同居している世帯員全員の課税台帳を確認することを承諾します。" in texts[-2]

    assert stack.sim.postback(uid, "consent=notify")["webhook_status"] == 200
    assert "お知らせの送付を希望する" in bot_texts(stack, uid)[-1]
    maker = stack.app.extensions["db_sessionmaker"]
    with maker() as s:
        state = household_consent(s)
        assert state.loc["500001"].to_dict() == {"notify": True, "tax": False}
        account = s.scalars(select(LineAccount)).one()
        assert account.atena_no == "0000101" and account.link_channel == "LINE"

    assert stack.sim.send_text(uid, "配信停止")["webhook_status"] == 200
    assert "配信を停止しました" in bot_texts(stack, uid)[-1]
    with maker() as s:
        assert household_consent(s).loc["500001"].to_dict() == {"notify": False, "tax": False}
        events = s.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
        assert [(e.scope, e.action, e.channel) for e in events] == [
            ("notify", "grant", "LINE"), ("notify", "withdraw", "LINE")]
        assert all(e.setai_no == "500001" for e in events)

    # Every reply went out through the SDK to the simulator's Messaging API.
    replies = [r for r in stack.sim.state.requests if r["path"] == "/v2/bot/message/reply"]
    assert len(replies) == 4 and all(r["status"] == 200 for r in replies)
    with maker() as s:
        assert {e.outcome for e in s.scalars(select(WebhookEvent))} == {
            "followed", "linked", "consented", "withdrawn"}


def test_a_residents_own_consent_and_stop_are_in_the_audit_trail(line_stack, tmp_path):
    """Issue 10 item 14: 「同意の変更」 lists a LINE consent and 「配信停止」, recorded as the resident's own."""
    from notifier.models import AuditEvent
    from tests.factories import create_staff, sign_in
    stack = line_stack
    import_sources(stack.app, tmp_path, {"juminhyo": RESIDENTS, "online_shinsei": APPLICATIONS})
    uid = stack.sim.state.add_user("和泉 花子").user_id
    stack.sim.follow(uid)
    stack.sim.send_text(uid, "IZM-7K3P-9QX2")
    stack.sim.postback(uid, "consent=notify,tax")
    stack.sim.send_text(uid, "配信停止")
    maker = stack.app.extensions["db_sessionmaker"]
    with maker() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == "consent_change")
                         .order_by(AuditEvent.id)).all()
        assert [(r.actor, r.target_type, r.target_id, r.detail["granted"], r.detail["withdrawn"],
                 r.detail.get("cause")) for r in rows] == [
            ("line", "resident", "0000101", ["notify", "tax"], [], None),
            ("line", "resident", "0000101", [], ["notify", "tax"], "stop")]
        events = s.scalars(select(ConsentEvent.id).order_by(ConsentEvent.id)).all()
        assert rows[0].detail["events"] + rows[1].detail["events"] == events
        auditor = create_staff(s, "kansa", ["auditor"])
        s.commit()
        client = sign_in(stack.app.test_client(), s, auditor)
    html = client.get("/audit/?action=consent_change").get_data(as_text=True)
    assert html.count("LINE（住民の操作）") == 2
    body = html.split("<tbody>", 1)[1]
    assert "同意：お知らせの送付・所得状況の確認（課税情報）" in body, re.sub(r"<[^>]+>", " ", body)[:1500]
    assert "きっかけ：「配信停止」の送信" in html
