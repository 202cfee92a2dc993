"""LineClient against answers that break LINE's documented shape (issue 10 item 8).

A local HTTP server (pytest-httpserver) answers through the real line-bot-sdk. A 2xx means LINE
accepted the send: it must come back as sent (with the request id), never as an error that someone
would retry without the retry key; anything odd becomes a LineError for that call only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid

import pytest
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, PushMessageRequest, TextMessage
from sqlalchemy import select

from notifier import create_app
from notifier.line.client import LineClient, LineError
from notifier.models import WebhookEvent
from tests.conftest import TEST_SECRET

from .conftest import ACCESS_TOKEN

USER = "U" + "4" * 32
TEXT = [{"type": "text", "text": "こんにちは"}]
PUSH = "/v2/bot/message/push"
REQUEST_ID = "req-0001"

# 200 bodies the SDK's own response models cannot parse (or parse into nothing)
MALFORMED_2XX = [
    ("empty sentMessages", b'{"sentMessages": []}'),
    ("sent message without an id", b'{"sentMessages": [{"quoteToken": "q"}]}'),
    ("sentMessages not a list", b'{"sentMessages": "yes"}'),
    ("not JSON", b"<html>OK</html>"),
    ("not UTF-8", b"\xff\xfe\x00o\x00k"),
    ("empty body", b""),
    ("a JSON list", b"[]"),
]


@pytest.fixture
def client(httpserver):
    with LineClient(httpserver.url_for("/").rstrip("/"), ACCESS_TOKEN, timeout=(2, 5)) as line:
        yield line


def answer(httpserver, path: str, body: bytes, status: int = 200, **headers: str) -> None:
    httpserver.expect_request(path, method="POST").respond_with_data(
        body, status=status, headers={"X-Line-Request-Id": REQUEST_ID, **headers},
        content_type="application/json")


@pytest.mark.parametrize("name, body", MALFORMED_2XX, ids=[m[0] for m in MALFORMED_2XX])
def test_the_sdk_itself_would_raise_or_parse_nothing(httpserver, name, body):
    """Why LineClient reads answers raw: the SDK's parsing of these bodies fails or loses them."""
    answer(httpserver, PUSH, body)
    with ApiClient(Configuration(access_token=ACCESS_TOKEN, host=httpserver.url_for("/").rstrip("/"))) as api:
        try:
            response = MessagingApi(api).push_message_with_http_info(
                PushMessageRequest(to=USER, messages=[TextMessage(text="x")]), x_line_retry_key=str(uuid.uuid4()))
        except Exception as exc:  # whichever the SDK raises: the point is that it raises
            assert not isinstance(exc, LineError)
            return
    assert response.status_code == 200
    assert response.data is None or not response.data.sent_messages


@pytest.mark.parametrize("name, body", MALFORMED_2XX, ids=[m[0] for m in MALFORMED_2XX])
def test_a_malformed_200_to_a_push_is_sent_with_its_request_id(client, httpserver, caplog, name, body):
    answer(httpserver, PUSH, body)
    retry_key = str(uuid.uuid4())
    caplog.set_level(logging.DEBUG, logger="notifier.line")

    result = client.push(USER, TEXT, retry_key)

    assert result.outcome == "sent" and result.status == 200 and not result.duplicate
    assert result.request_id == REQUEST_ID and result.line_request_id == REQUEST_ID
    (sent_request, _response), = httpserver.log
    assert sent_request.headers["X-Line-Retry-Key"] == retry_key
    for record in caplog.records:
        assert USER not in record.getMessage() + repr(record.__dict__)


def test_the_sent_messages_that_are_objects_are_kept(client, httpserver):
    answer(httpserver, PUSH, b'{"sentMessages": [{"id": "1", "quoteToken": "q"}, "junk"]}')
    assert client.push(USER, TEXT, str(uuid.uuid4())).sent_messages == [{"id": "1", "quoteToken": "q"}]


@pytest.mark.parametrize("name, body", MALFORMED_2XX, ids=[m[0] for m in MALFORMED_2XX])
def test_a_malformed_200_to_reply_multicast_and_validate_is_accepted(client, httpserver, name, body):
    for path in ("/v2/bot/message/reply", "/v2/bot/message/multicast", "/v2/bot/message/validate/push"):
        answer(httpserver, path, body)
    assert client.reply("token", TEXT).status == 200
    assert client.multicast([USER], TEXT, str(uuid.uuid4())).request_id == REQUEST_ID
    assert client.validate_push(TEXT) is None


def test_a_409_with_an_undecodable_body_is_still_the_earlier_acceptance(client, httpserver):
    answer(httpserver, PUSH, b"\xff\xfe", status=409, **{"X-Line-Accepted-Request-Id": "req-first"})
    result = client.push(USER, TEXT, str(uuid.uuid4()))
    assert result.duplicate and result.outcome == "sent"
    assert result.accepted_request_id == "req-first" and result.line_request_id == "req-first"


def test_a_409_with_a_malformed_json_body_is_still_the_earlier_acceptance(client, httpserver):
    answer(httpserver, PUSH, b'{"sentMessages": 3}', status=409, **{"X-Line-Accepted-Request-Id": "req-first"})
    result = client.push(USER, TEXT, str(uuid.uuid4()))
    assert result.duplicate and result.sent_messages == []


@pytest.mark.parametrize("status, temporary", [(502, True), (503, True), (400, False), (429, True)])
def test_an_error_with_a_body_in_another_encoding_keeps_its_status(client, httpserver, status, temporary):
    answer(httpserver, PUSH, "<h1>Fehler: Überlastung</h1>".encode("latin-1"), status=status)
    with pytest.raises(LineError) as failed:
        client.push(USER, TEXT, str(uuid.uuid4()))
    assert failed.value.status == status and failed.value.temporary is temporary
    assert failed.value.request_id == REQUEST_ID


@pytest.mark.parametrize("body", [b"<html></html>", b"[]", b"\xff"])
def test_a_profile_that_is_not_an_object_is_a_temporary_line_error(client, httpserver, body):
    httpserver.expect_request(f"/v2/bot/profile/{USER}", method="GET").respond_with_data(
        body, status=200, content_type="application/json")
    with pytest.raises(LineError) as failed:
        client.get_profile(USER)
    assert failed.value.temporary and failed.value.status == 200


def test_a_profile_is_read_from_the_raw_answer(client, httpserver):
    httpserver.expect_request(f"/v2/bot/profile/{USER}", method="GET").respond_with_json(
        {"userId": USER, "displayName": "和泉 花子", "language": "ja"})
    assert client.get_profile(USER) == {"userId": USER, "displayName": "和泉 花子", "language": "ja"}


# -- the webhook worker goes on ------------------------------------------------------------------------

SECRET = "malformed-answers-secret"


def test_a_malformed_reply_answer_does_not_stop_the_webhook_pass(database_url, httpserver):
    """Two events, each answered with a reply that LINE 'accepts' with a malformed body: both are
    processed and both replies were sent once (before, the first one's pydantic error aborted the pass
    and the inline webhook answered 500)."""
    httpserver.expect_request("/v2/bot/message/reply", method="POST").respond_with_data(
        b'{"sentMessages": []}', status=200, content_type="application/json")
    app = create_app({"ENV": "test", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url,
                      "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
                      "LINE_API_BASE_URL": httpserver.url_for("/").rstrip("/"), "WEBHOOK_INLINE": True})
    try:
        events = [{"type": "message", "mode": "active", "timestamp": 1767225600000 + i,
                   "webhookEventId": f"01JMALFORMED{i:014d}", "deliveryContext": {"isRedelivery": False},
                   "source": {"type": "user", "userId": "U" + str(i) * 32}, "replyToken": f"token-{i}",
                   "message": {"type": "text", "id": str(i), "text": "こんにちは", "quoteToken": "q"}}
                  for i in (1, 2)]
        body = json.dumps({"destination": "U" + "0" * 32, "events": events}).encode()
        signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        response = app.test_client().post("/line/webhook", data=body, content_type="application/json",
                                          headers={"X-Line-Signature": signature})
        assert response.status_code == 200
        replies = [json.loads(req.get_data())["replyToken"] for req, _ in httpserver.log]
        assert replies == ["token-1", "token-2"]
        with app.extensions["db_sessionmaker"]() as s:
            outcomes = s.scalars(select(WebhookEvent.outcome).order_by(WebhookEvent.id)).all()
        assert outcomes == ["help", "help"]
    finally:
        client = app.extensions.get("line_client")
        if client is not None:
            client.close()
        app.extensions["db_engine"].dispose()
