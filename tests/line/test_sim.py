"""The LINE simulator: API answers (raw HTTP and the SDK itself), signed webhooks, phone pages."""

from __future__ import annotations

import re
import threading
import uuid

import pytest
import requests
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    TextMessage,
)
from linebot.v3.webhooks import (
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
)

from notifier.line.sim.phone import safe_href
from notifier.line.sim.signing import sign_body
from notifier.line.sim.spec import load_spec, validator
from notifier.line.sim.validation import utf16_len, validate_messages

from .conftest import ACCESS_TOKEN, CHANNEL_SECRET

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def post(sim, path: str, payload: dict, **headers) -> requests.Response:
    return requests.post(f"{sim.base_url}{path}", json=payload, headers={**AUTH, **headers}, timeout=10)


def text(value: str) -> dict:
    return {"type": "text", "text": value}


@pytest.fixture
def sdk(sim_server):
    with ApiClient(Configuration(access_token=ACCESS_TOKEN, host=sim_server.base_url)) as client:
        yield MessagingApi(client)


# -- Messaging API, raw HTTP ------------------------------------------------------------------------

def test_it_answers_six_messages_with_a_line_style_400(sim, friend):
    response = post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("x")] * 6})
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "The request body has 1 error(s)"
    assert body["details"] == [{"message": "Size must be between 1 and 5", "property": "messages"}]


@pytest.mark.parametrize("messages, prop", [
    ([], "messages"),
    ([{"type": "bogus"}], "messages[0].type"),
    ([text("")], "messages[0].text"),
    ([text("a" * 5001)], "messages[0].text"),
    ([{"type": "template", "altText": "a", "template": {"type": "buttons", "text": "t", "actions": [
        {"type": "postback", "label": "l", "data": "d" * 301}]}}], "messages[0].template.actions[0].data"),
    ([{**text("q"), "quickReply": {"items": [
        {"type": "action", "action": {"type": "message", "label": str(i), "text": "t"}} for i in range(14)]}}],
     "messages[0].quickReply.items"),
])
def test_it_names_the_invalid_property(sim, friend, messages, prop):
    response = post(sim, "/v2/bot/message/push", {"to": friend, "messages": messages})
    assert response.status_code == 400
    assert prop in [d["property"] for d in response.json()["details"]]


def test_it_needs_the_bearer_token_and_always_sends_a_request_id(sim):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = requests.post(f"{sim.base_url}/v2/bot/message/push", json={}, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.headers["x-line-request-id"]
    assert requests.get(f"{sim.base_url}/v2/bot/unknown", headers=AUTH, timeout=10).headers["x-line-request-id"]


def test_a_retry_key_must_be_a_uuid_and_is_refused_on_reply(sim, friend):
    bad = post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("x")]}, **{"X-Line-Retry-Key": "abc"})
    assert bad.status_code == 400
    reply = post(sim, "/v2/bot/message/reply", {"replyToken": "t", "messages": [text("x")]},
                 **{"X-Line-Retry-Key": str(uuid.uuid4())})
    assert reply.status_code == 400
    assert sim.messages(friend) == []


def test_a_replayed_retry_key_answers_409_with_the_accepted_request_id(sim, friend):
    retry_key = str(uuid.uuid4())
    first = post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("x")]}, **{"X-Line-Retry-Key": retry_key})
    second = post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("x")]}, **{"X-Line-Retry-Key": retry_key})
    assert first.status_code == 200 and second.status_code == 409
    assert second.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert second.headers["x-line-request-id"] != first.headers["x-line-request-id"]
    assert len(sim.messages(friend)) == 1


def test_concurrent_attempts_with_one_retry_key_deliver_once(sim, friend):
    retry_key = str(uuid.uuid4())
    statuses: list[int] = []

    def attempt():
        statuses.append(post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("x")]},
                             **{"X-Line-Retry-Key": retry_key}).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 11
    assert len(sim.messages(friend)) == 1


def test_a_retry_key_is_remembered_for_24_hours(sim, friend):
    retry_key = str(uuid.uuid4())
    headers = {"X-Line-Retry-Key": retry_key}
    post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("x")]}, **headers)
    sim.config(advance_seconds=23 * 3600)
    assert post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("x")]}, **headers).status_code == 409
    sim.config(advance_seconds=2 * 3600)
    assert post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("x")]}, **headers).status_code == 200


def lines_429(path: str = "/v2/bot/message/push") -> dict:
    """What LINE's spec (messaging-api.yml) says a 429 from `path` is."""
    return load_spec()["paths"][path]["post"]["responses"]["429"]


def test_over_the_rate_limit_it_answers_lines_429_and_no_retry_after_by_default(sim, friend):
    # LINE documents no Retry-After header: its spec declares only a body for the 429.
    assert "headers" not in lines_429()
    error_shape = validator(lines_429()["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1])
    sim.config(rate_limit_per_second=1)
    retry_key = str(uuid.uuid4())
    assert post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("1")]}).status_code == 200
    limited = post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("2")]},
                   **{"X-Line-Retry-Key": retry_key})
    assert limited.status_code == 429
    assert limited.json() == {"message": "Too Many Requests"} and error_shape.is_valid(limited.json())
    assert "Retry-After" not in limited.headers and limited.headers["x-line-request-id"]
    # LINE processes nothing it answers 429: the key was not used up.
    sim.config(rate_limit_per_second=None)
    again = post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("2")]}, **{"X-Line-Retry-Key": retry_key})
    assert again.status_code == 200
    assert [m["message"]["text"] for m in sim.messages(friend)] == ["1", "2"]


def test_a_retry_after_on_the_rate_limit_429_is_sent_only_when_configured(sim, friend):
    assert sim.config()["rate_limit_retry_after"] is None
    assert sim.config(rate_limit_per_second=1, rate_limit_retry_after=7)["rate_limit_retry_after"] == 7
    assert post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("1")]}).status_code == 200
    limited = post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("2")]})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert limited.json() == {"message": "Too Many Requests"}
    assert sim.config(rate_limit_retry_after=None)["rate_limit_retry_after"] is None
    unasked = post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("3")]})
    assert unasked.status_code == 429 and "Retry-After" not in unasked.headers
    # Only the rate limit waits: the monthly quota's 429 never carries the header.
    sim.config(rate_limit_per_second=None, rate_limit_retry_after=7)
    sim.faults(quota_exhausted=True)
    quota = post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("4")]})
    assert quota.status_code == 429 and "Retry-After" not in quota.headers
    for bad in (-1, 1.5, "7", True):
        assert requests.post(f"{sim.base_url}/_sim/config", json={"rate_limit_retry_after": bad},
                             timeout=10).status_code == 400
    assert len(sim.messages(friend)) == 1


def test_multicast_refuses_more_than_500_recipients(sim):
    to = ["U" + uuid.uuid4().hex for _ in range(501)]
    response = post(sim, "/v2/bot/message/multicast", {"to": to, "messages": [text("x")]})
    assert response.status_code == 400
    assert response.json()["details"][0]["property"] == "to"


def test_it_counts_requests_and_can_be_reset(sim, friend):
    post(sim, "/v2/bot/message/push", {"to": friend, "messages": [text("x")]})
    post(sim, "/v2/bot/message/push", {"to": friend, "messages": []})
    assert sim.request_count("/v2/bot/message/push") == 2
    assert sim.request_count("/v2/bot/message/push", status=400) == 1
    requests.post(f"{sim.base_url}/_sim/reset", timeout=10).raise_for_status()
    assert sim.request_count("/v2/bot/message/push") == 0
    assert requests.get(f"{sim.base_url}/_sim/users", timeout=10).json()["users"] == []


def test_unknown_faults_are_refused(sim):
    response = requests.post(f"{sim.base_url}/_sim/faults", json={"explode": True}, timeout=10)
    assert response.status_code == 400


def test_seeded_error_share_is_repeatable(sim, friend):
    def run() -> list[int]:
        requests.post(f"{sim.base_url}/_sim/reset", timeout=10)
        user = sim.add_user("再現")
        sim.faults(error_rate=0.5)
        return [post(sim, "/v2/bot/message/push", {"to": user, "messages": [text("x")]}).status_code
                for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert set(first) == {200, 500}


# -- the real SDK, directly -------------------------------------------------------------------------

def test_the_sdk_pushes_and_reads_the_request_id(sdk, sim, friend):
    response = sdk.push_message_with_http_info(
        PushMessageRequest(to=friend, messages=[TextMessage(text="SDK から")]),
        x_line_retry_key=str(uuid.uuid4()))
    assert response.status_code == 200
    assert response.headers["x-line-request-id"]
    assert response.data.sent_messages[0].id
    assert sim.messages(friend)[0]["message"]["text"] == "SDK から"


def test_the_sdk_raises_a_plain_api_exception_for_409(sdk, friend):
    request = PushMessageRequest(to=friend, messages=[TextMessage(text="x")])
    retry_key = str(uuid.uuid4())
    first = sdk.push_message_with_http_info(request, x_line_retry_key=retry_key)
    with pytest.raises(ApiException) as conflict:
        sdk.push_message_with_http_info(request, x_line_retry_key=retry_key)
    assert conflict.value.status == 409
    assert conflict.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]


def test_the_sdk_raises_raw_urllib3_errors_on_timeout(sdk, sim, friend):
    sim.faults(delay=1.0)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        sdk.push_message(PushMessageRequest(to=friend, messages=[TextMessage(text="x")]),
                         x_line_retry_key=str(uuid.uuid4()), _request_timeout=(1, 0.2))


def test_the_sdk_reads_a_profile(sdk, friend):
    profile = sdk.get_profile(friend)
    assert profile.display_name == "和泉 花子" and profile.user_id == friend


# -- webhooks ----------------------------------------------------------------------------------------

def test_the_signature_matches_lines_known_vector():
    assert sign_body("channel_secret", b"bodybodybodybody") == "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="


def parse(webhook, secret: str = CHANNEL_SECRET):
    return WebhookParser(secret).parse(webhook.last_body.decode("utf-8"), webhook.last_signature, as_payload=True)


def test_follow_is_signed_like_line_and_parses_as_a_follow_event(sim, webhook, sim_server):
    user = sim.add_user("新規", friend=False)
    result = sim.follow(user)

    assert result["webhook_status"] == 200
    payload = parse(webhook)
    assert payload.destination == sim_server.sim.config.bot_user_id
    (event,) = payload.events
    assert isinstance(event, FollowEvent)
    assert event.follow.is_unblocked is False
    assert event.source.user_id == user
    assert event.mode.value == "active"
    assert event.reply_token
    assert ULID_RE.match(event.webhook_event_id)
    assert event.delivery_context.is_redelivery is False
    assert webhook.calls[-1][1]["Content-Type"].startswith("application/json")


def test_a_wrong_secret_does_not_verify(sim, webhook, friend):
    sim.text(friend, "こんにちは")
    with pytest.raises(InvalidSignatureError):
        parse(webhook, secret="another-secret")


def test_block_then_follow_again_is_an_unblock(sim, webhook, friend):
    sim.block(friend)
    (event,) = parse(webhook).events
    assert isinstance(event, UnfollowEvent)
    assert "replyToken" not in webhook.last_payload()["events"][0]

    sim.follow(friend)
    (event,) = parse(webhook).events
    assert isinstance(event, FollowEvent) and event.follow.is_unblocked is True


def test_text_parses_as_a_message_event_with_text_content(sim, webhook, friend):
    sim.text(friend, "申請番号 1234")
    (event,) = parse(webhook).events
    assert isinstance(event, MessageEvent)
    assert isinstance(event.message, TextMessageContent)
    assert event.message.text == "申請番号 1234"
    assert event.message.id and event.message.quote_token and event.reply_token


def test_postback_parses_with_its_data(sim, webhook, friend):
    sim.postback(friend, "action=consent&scope=notify", display_text="同意する")
    (event,) = parse(webhook).events
    assert isinstance(event, PostbackEvent)
    assert event.postback.data == "action=consent&scope=notify"
    assert event.reply_token


def test_redelivery_repeats_the_event_id_and_says_so(sim, webhook, friend):
    sim.text(friend, "一度目")
    (original,) = parse(webhook).events
    result = sim.redeliver(friend)
    assert result["webhook_status"] == 200
    (again,) = parse(webhook).events
    assert again.webhook_event_id == original.webhook_event_id
    assert again.delivery_context.is_redelivery is True
    assert len(webhook.calls) == 2


def test_the_action_reports_the_webhooks_status(sim, webhook, friend):
    webhook.status = 400
    assert sim.text(friend, "x")["webhook_status"] == 400


def test_users_who_are_not_friends_cannot_send(sim):
    user = sim.add_user("未追加", friend=False)
    response = requests.post(f"{sim.base_url}/_sim/users/{user}/text", json={"text": "x"}, timeout=10)
    assert response.status_code == 409


# -- phone pages -------------------------------------------------------------------------------------

FLEX = {"type": "flex", "altText": "和泉市からのお知らせ", "contents": {
    "type": "bubble",
    "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "児童扶養手当のご案内"}]},
    "footer": {"type": "box", "layout": "vertical", "contents": [
        {"type": "button", "action": {"type": "uri", "label": "申請する", "uri": "https://example.jp/r/t1"}}]}}}
CONFIRM = {"type": "template", "altText": "同意の確認", "template": {
    "type": "confirm", "text": "お知らせの受け取りに同意しますか？", "actions": [
        {"type": "postback", "label": "同意する", "data": "consent=notify", "displayText": "同意する"},
        {"type": "message", "label": "やめる", "text": "やめる"}]},
    "quickReply": {"items": [{"type": "action", "action": {"type": "message", "label": "配信停止", "text": "配信停止"}}]}}


def test_the_phone_page_shows_the_chat(sim, line, friend):
    line.push(friend, [text("<b>こんにちは</b>"), FLEX, CONFIRM], str(uuid.uuid4()))
    response = requests.get(f"{sim.base_url}/phone/{friend}", timeout=10)

    assert response.status_code == 200
    page = response.text
    assert "&lt;b&gt;こんにちは&lt;/b&gt;" in page  # escaped, never markup
    assert "児童扶養手当のご案内" in page
    assert 'href="https://example.jp/r/t1"' in page
    assert "お知らせの受け取りに同意しますか？" in page
    assert 'value="consent=notify"' in page
    assert "配信停止" in page  # the quick reply
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r"\sstyle=", page)


def test_only_safe_schemes_become_links():
    assert safe_href("https://example.jp/") == "https://example.jp/"
    assert safe_href("javascript:alert(1)") is None
    assert safe_href(None) is None


def test_tapping_a_postback_button_reaches_the_webhook(sim, line, friend, webhook):
    line.push(friend, [CONFIRM], str(uuid.uuid4()))
    response = requests.post(f"{sim.base_url}/phone/{friend}/tap",
                             data={"type": "postback", "data": "consent=notify", "display_text": "同意する"},
                             allow_redirects=False, timeout=10)
    assert response.status_code == 302
    (event,) = parse(webhook).events
    assert isinstance(event, PostbackEvent) and event.postback.data == "consent=notify"
    assert "Webhook の応答: HTTP 200" in requests.get(f"{sim.base_url}{response.headers['Location']}", timeout=10).text


def test_typing_on_the_phone_sends_a_text_event(sim, friend, webhook):
    requests.post(f"{sim.base_url}/phone/{friend}/send", data={"text": "配信停止"}, timeout=10)
    (event,) = parse(webhook).events
    assert isinstance(event, MessageEvent) and event.message.text == "配信停止"


def test_the_chat_fragment_is_empty_until_something_changes(sim, line, friend):
    url = f"{sim.base_url}/phone/{friend}/chat"
    first = requests.get(url, timeout=10)
    seq = first.headers["X-Sim-Seq"]
    assert requests.get(url, params={"since": seq}, timeout=10).status_code == 204
    line.push(friend, [text("新着")], str(uuid.uuid4()))
    fresh = requests.get(url, params={"since": seq}, timeout=10)
    assert fresh.status_code == 200 and "新着" in fresh.text


def test_the_index_lists_users_and_adds_one(sim, friend):
    page = requests.get(f"{sim.base_url}/phone/", timeout=10)
    assert page.status_code == 200 and "和泉 花子" in page.text
    added = requests.post(f"{sim.base_url}/phone/", data={"display_name": "泉 太郎", "follow": "1"}, timeout=10)
    assert added.status_code == 200 and "泉 太郎" in added.text


def test_static_assets_are_served_locally(sim):
    for name in ("sim.css", "phone.js"):
        assert requests.get(f"{sim.base_url}/_sim/static/{name}", timeout=10).status_code == 200


# -- validation, property-based ----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(bmp=st.integers(0, 5010), astral=st.integers(0, 40))
def test_text_length_is_counted_in_utf16_units(bmp, astral):
    value = "あ" * bmp + "😀" * astral
    errors = validate_messages([text(value)]) if value else []
    assert utf16_len(value) == bmp + 2 * astral
    assert bool(errors) == (bmp + 2 * astral > 5000)


def test_many_friends_are_added_at_once_and_pushes_reach_them(sim):
    users = ["U" + uuid.uuid4().hex for _ in range(3)]
    response = requests.post(f"{sim.base_url}/_sim/users", timeout=10,
                             json={"users": [{"user_id": u, "display_name": "利用者"} for u in users]})
    assert response.status_code == 201 and response.json() == {"created": 3}
    assert post(sim, "/v2/bot/message/push", {"to": users[1], "messages": [text("x")]}).status_code == 200
    bad = requests.post(f"{sim.base_url}/_sim/users", json={"users": [{"user_id": "nope"}]}, timeout=10)
    assert bad.status_code == 400


def test_it_serves_under_gunicorn_in_its_own_process(tmp_path):
    """`notifier line-sim --server gunicorn` (the bench's simulator): one worker, bodies still validated."""
    import os
    import socket
    import subprocess
    import sys
    import time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = os.path.join(os.path.dirname(sys.executable), "notifier")
    proc = subprocess.Popen([exe, "line-sim", "--port", str(port), "--server", "gunicorn", "--threads", "2",
                             "--access-token", ACCESS_TOKEN], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/_sim/health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.1)
        user = "U" + uuid.uuid4().hex
        requests.post(f"{base}/_sim/users", json={"users": [{"user_id": user}]}, timeout=10).raise_for_status()
        ok = requests.post(f"{base}/v2/bot/message/push", headers=AUTH, timeout=10,
                           json={"to": user, "messages": [{"type": "text", "text": "x"}]})
        refused = requests.post(f"{base}/v2/bot/message/push", headers=AUTH, timeout=10,
                                json={"to": user, "messages": [{"type": "text"}]})
        assert ok.status_code == 200 and refused.status_code == 400
        assert refused.json()["details"][0]["property"] == "messages[0].text"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
