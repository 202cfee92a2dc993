"""What the service sends passes LINE's spec and limits; broken variants get LINE's 400.

Everything goes through the real line-bot-sdk (`LineClient`) to the simulator over HTTP. Where the
SDK refuses a payload itself (its pydantic models), the raw JSON is also posted with `requests` to
show that the simulator, like LINE, refuses it too.
"""

from __future__ import annotations

import copy
import json
import uuid

import pytest
import requests

from notifier.consent import service as consent
from notifier.line import flex, messages
from notifier.line.client import LineError

from .conftest import ACCESS_TOKEN

PUSH = "/v2/bot/message/push"
AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


def notice(**overrides) -> dict:
    args = {
        "title": "和泉市からのお知らせ",
        "service_name": "児童扶養手当",
        "sentences": ["ひとり親家庭などの生活の安定のための手当です。", "オンラインで申請できます。",
                      "ご不明な点は市役所へお問い合わせください。"],
        "apply_url": "https://notice.example.jp/r/" + "A" * 43,
        "info_url": "https://notice.example.jp/services/jido-fuyo",
        "alt_text": "和泉市からのお知らせ",
    }
    return flex.notice_message(**{**args, **overrides})


def key() -> str:
    return str(uuid.uuid4())


def raw_push(sim, messages_: list, to: str) -> requests.Response:
    return requests.post(f"{sim.base_url}{PUSH}", json={"to": to, "messages": messages_}, headers=AUTH, timeout=10)


# -- the notice helper -------------------------------------------------------------------------------

def test_the_notice_is_the_agreed_bubble():
    message = notice()
    bubble = message["contents"]
    assert message["type"] == "flex" and message["altText"] == "和泉市からのお知らせ"
    assert bubble["header"]["contents"][0]["text"] == "和泉市からのお知らせ"
    body = [c["text"] for c in bubble["body"]["contents"]]
    assert body[0] == "児童扶養手当" and len(body) == 4
    primary, secondary = bubble["footer"]["contents"]
    assert (primary["style"], primary["action"]["label"]) == ("primary", "オンラインで申請する")
    assert primary["action"] == {"type": "uri", "label": "オンラインで申請する",
                                 "uri": "https://notice.example.jp/r/" + "A" * 43}
    assert (secondary["style"], secondary["action"]["label"]) == ("secondary", "詳しく見る")
    (stop,) = message["quickReply"]["items"]
    assert stop["action"] == {"type": "message", "label": "配信停止", "text": "配信停止"}


def test_the_stop_quick_reply_is_a_word_the_webhook_withdraws_on():
    assert flex.STOP_TEXT in messages.STOP_WORDS


@pytest.mark.parametrize("overrides", [
    {"sentences": []},
    {"sentences": ["一。", "二。", "三。", "四。"]},
    {"sentences": ["一。", "  "]},
    {"title": ""},
    {"service_name": None},
    {"apply_url": "javascript:alert(1)"},
    {"apply_url": "/r/relative"},
    {"info_url": "https://example.jp/a b"},
    {"apply_url": "https://example.jp/" + "a" * 1000},
    {"alt_text": "あ" * 1501},
])
def test_the_helper_refuses_a_notice_line_would_refuse_or_that_breaks_its_shape(overrides):
    with pytest.raises(ValueError):
        notice(**overrides)


def test_the_notice_goes_through_the_sdk_unchanged_and_the_phone_shows_it(line, sim, friend):
    message = notice()
    line.validate_push([message])
    result = line.push(friend, [message], key())
    assert result.status == 200 and len(result.sent_messages) == 1
    (delivered,) = sim.messages(friend)
    assert delivered["message"] == message
    page = requests.get(f"{sim.base_url}/phone/{friend}", timeout=10).text
    assert "オンラインで申請する" in page and "配信停止" in page


def test_a_notice_at_the_limits_the_helper_allows_still_passes(line, friend):
    message = notice(alt_text="お" * 1500, apply_url="https://notice.example.jp/r/" + "A" * 972)
    assert len(message["contents"]["footer"]["contents"][0]["action"]["uri"]) == 1000
    line.validate_push([message])
    assert line.push(friend, [message] * 5, key()).status == 200


# -- every message the service sends today --------------------------------------------------------

SHIPPED_TEXTS = sorted(name for name, value in vars(messages).items()
                       if name.isupper() and isinstance(value, str) and name != "CITY")


def test_the_list_of_shipped_texts_is_not_empty():
    assert {"GREETING", "HELP", "ID_NOT_CONFIRMED", "WITHDRAWN"} <= set(SHIPPED_TEXTS)


@pytest.mark.parametrize("name", SHIPPED_TEXTS)
def test_every_shipped_text_reply_passes(line, sim, friend, name):
    message = messages.text(getattr(messages, name))
    line.validate_push([message])
    assert line.push(friend, [message], key()).status == 200
    assert sim.messages(friend)[-1]["message"] == message


def test_the_consent_request_with_the_shipped_consent_texts_passes(line, sim, friend, db_session):
    notify = consent.current_text(db_session, "notify").text
    tax = consent.current_text(db_session, "tax").text
    sent = [messages.text(messages.LINKED), *messages.consent_request(notify, tax)]
    line.validate_push(sent)
    assert line.push(friend, sent, key()).status == 200
    assert [m["message"] for m in sim.messages(friend)] == sent


# -- broken variants ---------------------------------------------------------------------------------

def _footer_action(m: dict) -> dict:
    return m["contents"]["footer"]["contents"][0]["action"]


def _set(getter, key_, value):
    def mutate(m):
        getter(m)[key_] = value
    return mutate


def _drop(getter, key_):
    def mutate(m):
        del getter(m)[key_]
    return mutate


# (name, how to break the notice, how many messages, the property LINE names, the SDK refuses it itself)
BROKEN = [
    ("unknown message type", _set(lambda m: m, "type", "hologram"), 1, "messages[0].type", True),
    ("bad box layout", _set(lambda m: m["contents"]["body"], "layout", "grid"), 1,
     "messages[0].contents.body.layout", True),
    ("bad button style", _set(lambda m: m["contents"]["footer"]["contents"][0], "style", "huge"), 1,
     "messages[0].contents.footer.contents[0].style", True),
    ("bad button height", _set(lambda m: m["contents"]["footer"]["contents"][1], "height", "xl"), 1,
     "messages[0].contents.footer.contents[1].height", True),
    ("bad text weight", _set(lambda m: m["contents"]["header"]["contents"][0], "weight", "heavy"), 1,
     "messages[0].contents.header.contents[0].weight", True),
    ("bad text align", _set(lambda m: m["contents"]["body"]["contents"][1], "align", "justify"), 1,
     "messages[0].contents.body.contents[1].align", True),
    ("unknown flex component", _set(lambda m: m["contents"]["body"]["contents"][1], "type", "marquee"), 1,
     "messages[0].contents.body.contents[1].type", True),
    ("unknown container", _set(lambda m: m["contents"], "type", "scroll"), 1, "messages[0].contents.type", True),
    ("unknown action type", _set(_footer_action, "type", "teleport"), 1,
     "messages[0].contents.footer.contents[0].action.type", True),
    ("action without a type", _drop(_footer_action, "type"), 1,
     "messages[0].contents.footer.contents[0].action.type", True),
    ("component without a type", _drop(lambda m: m["contents"]["body"]["contents"][1], "type"), 1,
     "messages[0].contents.body.contents[1].type", True),
    ("missing box contents", _drop(lambda m: m["contents"]["body"], "contents"), 1,
     "messages[0].contents.body.contents", True),
    ("missing altText", _drop(lambda m: m, "altText"), 1, "messages[0].altText", True),
    ("missing button action", _drop(lambda m: m["contents"]["footer"]["contents"][0], "action"), 1,
     "messages[0].contents.footer.contents[0].action", True),
    ("six messages", lambda m: None, 6, "messages", True),
    ("14 quick-reply items", lambda m: m["quickReply"].__setitem__("items", m["quickReply"]["items"] * 14), 1,
     "messages[0].quickReply.items", True),
    # what the SDK lets through and only LINE (here: the simulator) refuses
    ("quick-reply label of 21", _set(lambda m: m["quickReply"]["items"][0]["action"], "label", "停" * 21), 1,
     "messages[0].quickReply.items[0].action.label", False),
    ("flex button label of 41", _set(_footer_action, "label", "申" * 41), 1,
     "messages[0].contents.footer.contents[0].action.label", False),
    ("altText of 1,501", _set(lambda m: m, "altText", "お" * 1501), 1, "messages[0].altText", False),
    ("empty altText", _set(lambda m: m, "altText", ""), 1, "messages[0].altText", False),
    ("javascript: URI", _set(_footer_action, "uri", "javascript:alert(1)"), 1,
     "messages[0].contents.footer.contents[0].action.uri", False),
    ("URI of 1,001", _set(_footer_action, "uri", "https://notice.example.jp/r/" + "A" * 974), 1,
     "messages[0].contents.footer.contents[0].action.uri", False),
    ("URI that is not one", _set(_footer_action, "uri", "https://notice.example.jp/r/a b"), 1,
     "messages[0].contents.footer.contents[0].action.uri", False),
    ("quick reply without text", _drop(lambda m: m["quickReply"]["items"][0]["action"], "text"), 1,
     "messages[0].quickReply.items[0].action.text", False),
    ("image without HTTPS", lambda m: m["contents"].__setitem__("hero", {
        "type": "image", "url": "http://notice.example.jp/a.png"}), 1, "messages[0].contents.hero.url", False),
    ("camera action in a flex button", lambda m: _footer_action(m).__setitem__("type", "camera"), 1,
     "messages[0].contents.footer.contents[0].action.type", False),
]


@pytest.mark.parametrize("name, mutate, copies, prop, sdk_refuses", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_notice_gets_lines_400_naming_the_property(line, sim, friend, name, mutate, copies, prop,
                                                             sdk_refuses):
    message = copy.deepcopy(notice())
    mutate(message)
    payload = [message] * copies

    with pytest.raises(LineError) as failed:
        line.push(friend, payload, key())
    assert failed.value.permanent
    if sdk_refuses:
        # refused client-side: nothing reached the simulator
        assert failed.value.status is None
        assert sim.request_count(PUSH) == 0
    else:
        assert failed.value.status == 400
        assert prop in failed.value.reason

    response = raw_push(sim, payload, friend)
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == f"The request body has {len(body['details'])} error(s)"
    assert prop in [d["property"] for d in body["details"]]
    assert all(set(d) == {"message", "property"} for d in body["details"])
    assert sim.messages(friend) == []


@pytest.mark.parametrize("endpoint", ["push", "multicast", "reply", "validate/push", "validate/multicast",
                                      "validate/reply", "validate/broadcast", "validate/narrowcast"])
def test_every_send_endpoint_refuses_the_same_way(sim, friend, endpoint):
    message = notice()
    message["contents"]["body"]["layout"] = "grid"
    body = {"messages": [message]}
    if endpoint == "push":
        body["to"] = friend
    elif endpoint == "multicast":
        body["to"] = [friend]
    elif endpoint == "reply":
        body["replyToken"] = "any"
    response = requests.post(f"{sim.base_url}/v2/bot/message/{endpoint}", json=body, headers=AUTH, timeout=10)
    assert response.status_code == 400
    assert response.json()["details"] == [{
        "message": "Must be one of the following values: [horizontal, vertical, baseline]",
        "property": "messages[0].contents.body.layout"}]


@pytest.mark.parametrize("body, prop", [
    ({"messages": [{"type": "text", "text": "x"}]}, "to"),
    ({"to": "U" + "0" * 32}, "messages"),
    ({"to": ["U" + "0" * 32], "messages": [{"type": "text", "text": "x"}]}, "to"),
    ({"to": "U" + "0" * 32, "messages": [{"type": "text", "text": "x"}], "notificationDisabled": "yes"},
     "notificationDisabled"),
])
def test_the_request_envelope_is_checked_against_the_spec_too(sim, body, prop):
    response = requests.post(f"{sim.base_url}{PUSH}", json=body, headers=AUTH, timeout=10)
    assert response.status_code == 400
    assert prop in [d["property"] for d in response.json()["details"]]


def test_multicast_to_501_is_refused_by_the_simulator_as_by_the_sdk(sim):
    to = ["U" + uuid.uuid4().hex for _ in range(501)]
    response = requests.post(f"{sim.base_url}/v2/bot/message/multicast",
                             json={"to": to, "messages": [notice()]}, headers=AUTH, timeout=10)
    assert response.status_code == 400
    assert response.json()["details"] == [{"message": "Size must be between 1 and 500", "property": "to"}]


@pytest.mark.parametrize("broken", [
    {"type": "hologram", "text": "とても個人的な内容"},
    {"type": "text", "text": ["とても個人的な内容"]},
    {"type": "flex", "altText": "とても個人的な内容", "contents": {"type": "bubble", "body": {
        "type": "box", "layout": "vertical", "contents": [{"text": "とても個人的な内容"}]}}},
])
def test_an_sdk_refusal_never_quotes_the_message(line, sim, broken):
    with pytest.raises(LineError) as failed:
        line.push("U" + "1" * 32, [broken], key())
    assert failed.value.permanent and failed.value.status is None
    assert failed.value.reason.startswith("invalid request: ")
    assert "個人的" not in failed.value.reason
    assert json.dumps("個人的")[1:-1] not in failed.value.reason  # nor its JSON escape
    assert sim.request_count(PUSH) == 0
