"""LineClient driving the real line-bot-sdk against the simulator over real HTTP."""

from __future__ import annotations

import logging
import socket
import uuid

import pytest

from notifier.line.client import LineClient, LineError, SendResult

from .conftest import ACCESS_TOKEN, LOGIN_CHANNEL_ID

PUSH = "/v2/bot/message/push"

NOTICE_FLEX = {
    "type": "flex",
    "altText": "和泉市からのお知らせ",
    "contents": {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical",
                   "contents": [{"type": "text", "text": "和泉市からのお知らせ", "weight": "bold"}]},
        "body": {"type": "box", "layout": "vertical",
                 "contents": [{"type": "text", "text": "申請できる制度があります。", "wrap": True}]},
        "footer": {"type": "box", "layout": "vertical", "contents": [
            {"type": "button", "style": "primary",
             "action": {"type": "uri", "label": "申請する", "uri": "https://example.jp/r/abc"}},
        ]},
    },
}


def key() -> str:
    return str(uuid.uuid4())


def test_it_pushes_and_the_user_sees_it(line, sim, friend):
    retry_key = key()
    result = line.push(friend, [{"type": "text", "text": "こんにちは"}, NOTICE_FLEX], retry_key)

    assert isinstance(result, SendResult)
    assert result.outcome == "sent" and result.status == 200 and not result.duplicate
    assert result.request_id and len(result.sent_messages) == 2
    delivered = sim.messages(friend)
    assert [m["message"]["type"] for m in delivered] == ["text", "flex"]
    assert delivered[0]["message"]["text"] == "こんにちは"
    assert {m["retry_key"] for m in delivered} == {retry_key}
    assert {m["request_id"] for m in delivered} == {result.request_id}


def test_it_sends_flex_dicts_through_the_sdk_unchanged(line, sim, friend):
    line.push(friend, [NOTICE_FLEX], key())

    sent = sim.messages(friend)[0]["message"]
    assert sent["altText"] == NOTICE_FLEX["altText"]
    assert sent["contents"]["footer"]["contents"][0]["action"]["uri"] == "https://example.jp/r/abc"
    assert sent["contents"]["body"]["contents"][0]["wrap"] is True


def test_it_counts_a_replayed_retry_key_as_sent_and_delivers_once(line, sim, friend):
    retry_key = key()
    first = line.push(friend, [{"type": "text", "text": "一度だけ"}], retry_key)
    again = line.push(friend, [{"type": "text", "text": "一度だけ"}], retry_key)

    assert again.outcome == "sent" and again.status == 409 and again.duplicate
    assert again.accepted_request_id == first.request_id
    assert again.line_request_id == first.request_id
    assert len(sim.messages(friend)) == 1


def test_it_treats_500_as_temporary_and_the_retry_delivers_once(line, sim, friend):
    retry_key = key()
    sim.faults(error_rate=1.0)
    with pytest.raises(LineError) as failed:
        line.push(friend, [{"type": "text", "text": "再送"}], retry_key)
    assert failed.value.status == 500 and failed.value.temporary and not failed.value.quota_exhausted
    assert sim.messages(friend) == []

    sim.faults(error_rate=0.0)
    assert line.push(friend, [{"type": "text", "text": "再送"}], retry_key).status == 200
    assert len(sim.messages(friend)) == 1


def test_a_500_after_acceptance_then_retry_is_a_409_not_a_second_message(line, sim, friend):
    retry_key = key()
    sim.faults(error_after_accept_rate=1.0)
    with pytest.raises(LineError) as failed:
        line.push(friend, [{"type": "text", "text": "届いているかも"}], retry_key)
    assert failed.value.status == 500 and not failed.value.permanent

    sim.faults(error_after_accept_rate=0.0)
    retried = line.push(friend, [{"type": "text", "text": "届いているかも"}], retry_key)
    assert retried.duplicate
    assert len(sim.messages(friend)) == 1


def test_it_treats_a_timeout_as_temporary(sim_server, sim, friend):
    retry_key = key()
    impatient = LineClient(sim_server.base_url, ACCESS_TOKEN, timeout=(1, 0.3))
    sim.faults(delay=1.0)
    try:
        with pytest.raises(LineError) as failed:
            impatient.push(friend, [{"type": "text", "text": "遅い"}], retry_key)
        assert failed.value.status is None and failed.value.temporary
        assert "ReadTimeoutError" in failed.value.reason

        # LINE accepted it while we gave up waiting: the retry with the same key is a 409.
        sim.faults(delay=0.0)
        assert impatient.push(friend, [{"type": "text", "text": "遅い"}], retry_key).duplicate
        assert len(sim.messages(friend)) == 1
    finally:
        impatient.close()


def test_it_treats_a_refused_connection_as_temporary():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with LineClient(f"http://127.0.0.1:{port}", ACCESS_TOKEN, timeout=(0.5, 0.5)) as client:
        with pytest.raises(LineError) as failed:
            client.push("U" + "0" * 32, [{"type": "text", "text": "x"}], key())
    assert failed.value.status is None and failed.value.temporary


def test_it_flags_the_monthly_quota_so_sending_stops(line, sim, friend):
    sim.faults(quota_exhausted=True)
    with pytest.raises(LineError) as failed:
        line.push(friend, [{"type": "text", "text": "上限"}], key())
    assert failed.value.status == 429
    assert failed.value.quota_exhausted
    assert "monthly limit" in failed.value.reason
    assert sim.messages(friend) == []


def test_it_flags_a_monthly_limit_reached_by_counting(line, sim, friend):
    sim.faults(monthly_limit=1)
    line.push(friend, [{"type": "text", "text": "1通目"}], key())
    with pytest.raises(LineError) as failed:
        line.push(friend, [{"type": "text", "text": "2通目"}], key())
    assert failed.value.quota_exhausted


def test_it_treats_the_rate_limit_as_temporary(line, sim, friend):
    sim.config(rate_limit_per_second=2)
    line.push(friend, [{"type": "text", "text": "1"}], key())
    line.push(friend, [{"type": "text", "text": "2"}], key())
    with pytest.raises(LineError) as failed:
        line.push(friend, [{"type": "text", "text": "3"}], key())
    assert failed.value.status == 429
    assert failed.value.temporary and not failed.value.quota_exhausted
    assert failed.value.reason == "Too Many Requests"
    assert len(sim.messages(friend)) == 2


def test_it_rejects_six_messages_before_calling_line(line, sim, friend):
    with pytest.raises(LineError) as failed:
        line.push(friend, [{"type": "text", "text": str(i)} for i in range(6)], key())
    assert failed.value.permanent and failed.value.status is None
    assert "5" in failed.value.reason
    assert sim.request_count(PUSH) == 0


def test_it_fails_permanently_on_text_longer_than_5000_utf16_units(line, sim, friend):
    with pytest.raises(LineError) as failed:
        line.push(friend, [{"type": "text", "text": "あ" * 5001}], key())
    assert failed.value.status == 400 and failed.value.permanent
    assert "messages[0].text" in failed.value.reason and "5000" in failed.value.reason

    # 2,500 emoji outside the BMP are exactly 5,000 UTF-16 units; one more is too many.
    assert line.push(friend, [{"type": "text", "text": "😀" * 2500}], key()).status == 200
    with pytest.raises(LineError):
        line.push(friend, [{"type": "text", "text": "😀" * 2501}], key())


def test_it_fails_permanently_on_an_unknown_message_type_dict(line):
    with pytest.raises(LineError) as failed:
        line.push("U" + "1" * 32, [{"type": "hologram"}], key())
    assert failed.value.permanent


def test_it_fails_permanently_with_a_bad_token(sim_server, friend):
    with LineClient(sim_server.base_url, "wrong-token") as client:
        with pytest.raises(LineError) as failed:
            client.push(friend, [{"type": "text", "text": "x"}], key())
    assert failed.value.status == 401 and failed.value.permanent
    assert "Authentication failed" in failed.value.reason


def test_it_fails_permanently_for_a_user_line_does_not_know(line):
    with pytest.raises(LineError) as failed:
        line.push("U" + "a" * 32, [{"type": "text", "text": "x"}], key())
    assert failed.value.status == 400 and failed.value.permanent
    assert failed.value.reason == "Failed to send messages"


def test_a_push_to_a_user_who_blocked_is_accepted_but_not_delivered(line, sim, friend):
    sim.block(friend)
    result = line.push(friend, [{"type": "text", "text": "届かない"}], key())
    assert result.status == 200
    assert sim.messages(friend) == []


def test_it_multicasts_to_many_and_replays_as_409(line, sim):
    users = [sim.add_user(f"利用者{i}") for i in range(3)]
    retry_key = key()
    assert line.multicast(users, [{"type": "text", "text": "皆さんへ"}], retry_key).status == 200
    assert line.multicast(users, [{"type": "text", "text": "皆さんへ"}], retry_key).duplicate
    assert all(len(sim.messages(u)) == 1 for u in users)


def test_it_refuses_multicast_to_more_than_500_before_calling_line(line, sim):
    too_many = ["U" + uuid.uuid4().hex for _ in range(501)]
    with pytest.raises(LineError) as failed:
        line.multicast(too_many, [{"type": "text", "text": "x"}], key())
    assert failed.value.permanent and "500" in failed.value.reason
    assert sim.request_count("/v2/bot/message/multicast") == 0


def test_it_replies_once_per_reply_token(line, sim, friend, webhook):
    sim.text(friend, "こんにちは")
    token = webhook.last_payload()["events"][0]["replyToken"]

    assert line.reply(token, [{"type": "text", "text": "返信です"}]).status == 200
    assert sim.messages(friend)[-1]["message"]["text"] == "返信です"
    with pytest.raises(LineError) as failed:
        line.reply(token, [{"type": "text", "text": "二度目"}])
    assert failed.value.status == 400 and failed.value.permanent
    assert failed.value.reason == "Invalid reply token"


def test_a_reply_token_expires(line, sim, friend, webhook):
    sim.text(friend, "こんにちは")
    token = webhook.last_payload()["events"][0]["replyToken"]
    sim.config(advance_seconds=120)
    with pytest.raises(LineError) as failed:
        line.reply(token, [{"type": "text", "text": "遅すぎ"}])
    assert failed.value.reason == "Invalid reply token"


def test_it_validates_a_payload_for_free(line, sim):
    line.validate_push([NOTICE_FLEX])
    bad_template = {"type": "template", "altText": "x", "template": {
        "type": "confirm", "text": "同意しますか" * 50, "actions": [
            {"type": "postback", "label": "はい", "data": "yes"},
            {"type": "postback", "label": "いいえ", "data": "no"}]}}
    with pytest.raises(LineError) as failed:
        line.validate_push([bad_template])
    assert failed.value.status == 400
    assert "messages[0].template.text" in failed.value.reason


def test_it_reads_a_profile_and_a_blocked_user_is_not_found(line, sim, friend):
    assert line.get_profile(friend)["displayName"] == "和泉 花子"
    sim.block(friend)
    with pytest.raises(LineError) as failed:
        line.get_profile(friend)
    assert failed.value.status == 404 and failed.value.permanent


def test_it_verifies_an_id_token(line, sim, friend):
    claims = line.verify_id_token(sim.id_token(friend), LOGIN_CHANNEL_ID)
    assert claims["sub"] == friend
    assert claims["aud"] == LOGIN_CHANNEL_ID


def test_it_rejects_an_id_token_for_another_channel(line, sim, friend):
    token = sim.id_token(friend, aud="9999999999")
    with pytest.raises(LineError) as failed:
        line.verify_id_token(token, LOGIN_CHANNEL_ID)
    assert failed.value.permanent and failed.value.status == 400
    assert failed.value.reason == "Invalid IdToken Audience."


def test_it_rejects_an_expired_id_token(line, sim, friend):
    token = sim.id_token(friend, expires_in=-10)
    with pytest.raises(LineError) as failed:
        line.verify_id_token(token, LOGIN_CHANNEL_ID)
    assert failed.value.permanent and failed.value.reason == "IdToken expired."


def test_it_rejects_a_tampered_id_token(line, sim, friend):
    header, payload, signature = sim.id_token(friend).split(".")
    with pytest.raises(LineError) as failed:
        line.verify_id_token(f"{header}.{payload}.{signature[::-1]}", LOGIN_CHANNEL_ID)
    assert failed.value.reason == "Invalid IdToken."


@pytest.mark.parametrize("claims", [
    {"sub": "U" + "b" * 32, "aud": "someone-else", "exp": 4102444800},
    {"sub": "U" + "b" * 32, "aud": LOGIN_CHANNEL_ID, "exp": 1},
])
def test_it_checks_aud_and_exp_itself_even_if_the_endpoint_does_not(httpserver, claims):
    httpserver.expect_request("/oauth2/v2.1/verify", method="POST").respond_with_json(claims)
    with LineClient(httpserver.url_for("/").rstrip("/"), ACCESS_TOKEN) as client:
        with pytest.raises(LineError) as failed:
            client.verify_id_token("any", LOGIN_CHANNEL_ID)
    assert failed.value.permanent


def test_it_treats_an_unreachable_verify_endpoint_as_temporary():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with LineClient(f"http://127.0.0.1:{port}", ACCESS_TOKEN, timeout=(0.5, 0.5)) as client:
        with pytest.raises(LineError) as failed:
            client.verify_id_token("any", LOGIN_CHANNEL_ID)
    assert failed.value.temporary


def test_it_logs_status_and_request_id_but_never_user_ids_or_bodies(line, sim, friend, caplog):
    caplog.set_level(logging.DEBUG, logger="notifier.line")
    result = line.push(friend, [{"type": "text", "text": "個人的な内容"}], key())
    with pytest.raises(LineError):
        line.push(friend, [{"type": "text", "text": "個人的な内容" * 1000}], key())

    ours = [r for r in caplog.records if r.name.startswith("notifier.line")]
    assert ours
    assert any(getattr(r, "line_request_id", None) == result.request_id for r in ours)
    for record in ours:
        text = record.getMessage() + repr(record.__dict__)
        assert friend not in text and "個人的な内容" not in text


# --- push_plain: the dispatcher's push (the SDK checks the models; the checked dicts are the body) ---
def _outbox_notice() -> dict:
    from notifier.line.flex import notice_message
    return notice_message("和泉市からのお知らせ", "就学援助", ["学用品費などの援助があります。"],
                          "https://apply.example.lg.jp/r/x", "https://www.city.example.lg.jp/", "和泉市からのお知らせ")


@pytest.mark.parametrize("message", [NOTICE_FLEX, _outbox_notice(), {"type": "text", "text": "こんにちは"}])
def test_push_plain_sends_exactly_the_body_the_sdk_would_build(message):
    from linebot.v3.messaging import ApiClient, Configuration, PushMessageRequest

    from notifier.line.client import to_sdk_messages
    built = ApiClient(Configuration(access_token="x")).sanitize_for_serialization(
        PushMessageRequest(to="U" + "1" * 32, messages=to_sdk_messages([message])))
    assert built == {"to": "U" + "1" * 32, "messages": [message], "notificationDisabled": False}


def test_push_plain_delivers_once_per_retry_key(line, sim, friend):
    retry_key = key()
    first = line.push_plain(friend, [NOTICE_FLEX], retry_key)
    again = line.push_plain(friend, [NOTICE_FLEX], retry_key)
    assert first.outcome == "sent" and first.status == 200 and first.request_id
    assert again.status == 409 and again.accepted_request_id == first.request_id
    delivered = sim.messages(friend)
    assert len(delivered) == 1 and delivered[0]["message"] == NOTICE_FLEX
    assert delivered[0]["retry_key"] == retry_key


@pytest.mark.parametrize("messages", [[{"type": "text", "text": str(i)} for i in range(6)], [{"type": "hologram"}],
                                      [{"type": "text"}], "not a list"])
def test_push_plain_refuses_what_the_sdk_refuses_before_calling_line(line, sim, friend, messages):
    with pytest.raises(LineError) as failed:
        line.push_plain(friend, messages, key())
    assert failed.value.permanent and failed.value.status is None
    assert sim.request_count(PUSH) == 0


def test_push_plain_answers_lines_refusals_as_push_does(line, sim, friend):
    with pytest.raises(LineError) as failed:
        line.push_plain(friend, [{"type": "text", "text": "あ" * 5001}], key())
    assert failed.value.status == 400 and failed.value.permanent
    assert "messages[0].text" in failed.value.reason
