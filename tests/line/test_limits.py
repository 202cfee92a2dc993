"""LINE's documented limits, each on both sides of its boundary (the simulator's pure checks).

The HTTP and SDK paths are in test_notice_messages.py; here every limit the service relies on is
pinned exactly: the last accepted value passes, the first refused one names its property.
"""

from __future__ import annotations

import pytest

from notifier.line.sim.validation import validate_messages, validate_request


def props(messages: list) -> list[str]:
    return [d["property"] for d in validate_messages(messages)]


def text(value: str, **extra) -> dict:
    return {"type": "text", "text": value, **extra}


def postback(label="はい", data="d", **extra) -> dict:
    return {"type": "postback", "label": label, "data": data, **extra}


def buttons(text_="選んでください", actions=None, alt="お知らせ", **extra) -> dict:
    return {"type": "template", "altText": alt, "template": {
        "type": "buttons", "text": text_, "actions": actions or [postback()], **extra}}


def confirm(text_="よろしいですか", actions=None) -> dict:
    return {"type": "template", "altText": "確認", "template": {
        "type": "confirm", "text": text_, "actions": actions if actions is not None else [postback(), postback("いいえ")]}}


def flex_button(action: dict) -> dict:
    return {"type": "flex", "altText": "お知らせ", "contents": {"type": "bubble", "footer": {
        "type": "box", "layout": "vertical", "contents": [{"type": "button", "action": action}]}}}


def quick(items: list, **message) -> dict:
    return text("選んでください", quickReply={"items": items}, **message)


def qr_item(label="配信停止", **action) -> dict:
    return {"type": "action", "action": {"type": "message", "label": label, "text": "配信停止", **action}}


E = "😀"  # one emoji: 2 UTF-16 units


@pytest.mark.parametrize("ok, bad, prop", [
    # ≤ 5 messages
    ([text("a")] * 5, [text("a")] * 6, "messages"),
    # text ≤ 5,000 UTF-16 units
    ([text("あ" * 5000)], [text("あ" * 5001)], "messages[0].text"),
    ([text(E * 2500)], [text(E * 2500 + "a")], "messages[0].text"),
    # altText: flex ≤ 1,500, template ≤ 400
    ([{**flex_button({"type": "uri", "label": "l", "uri": "https://e.jp"}), "altText": "あ" * 1500}],
     [{**flex_button({"type": "uri", "label": "l", "uri": "https://e.jp"}), "altText": "あ" * 1501}],
     "messages[0].altText"),
    ([buttons(alt="あ" * 400)], [buttons(alt="あ" * 401)], "messages[0].altText"),
    # template and quick-reply action labels ≤ 20, Flex button labels ≤ 40
    ([buttons(actions=[postback("あ" * 20)])], [buttons(actions=[postback("あ" * 21)])],
     "messages[0].template.actions[0].label"),
    ([quick([qr_item("あ" * 20)])], [quick([qr_item("あ" * 21)])], "messages[0].quickReply.items[0].action.label"),
    ([flex_button({"type": "uri", "label": "あ" * 40, "uri": "https://e.jp"})],
     [flex_button({"type": "uri", "label": "あ" * 41, "uri": "https://e.jp"})],
     "messages[0].contents.footer.contents[0].action.label"),
    # buttons text ≤ 160, ≤ 60 with a title or an image
    ([buttons("あ" * 160)], [buttons("あ" * 161)], "messages[0].template.text"),
    ([buttons("あ" * 60, title="題")], [buttons("あ" * 61, title="題")], "messages[0].template.text"),
    ([buttons("あ" * 60, thumbnailImageUrl="https://e.jp/a.png")],
     [buttons("あ" * 61, thumbnailImageUrl="https://e.jp/a.png")], "messages[0].template.text"),
    # ≤ 4 buttons actions
    ([buttons(actions=[postback()] * 4)], [buttons(actions=[postback()] * 5)], "messages[0].template.actions"),
    # confirm text ≤ 240, exactly 2 actions
    ([confirm("あ" * 240)], [confirm("あ" * 241)], "messages[0].template.text"),
    ([confirm()], [confirm(actions=[postback()])], "messages[0].template.actions"),
    ([confirm()], [confirm(actions=[postback()] * 3)], "messages[0].template.actions"),
    # ≤ 13 quick-reply items
    ([quick([qr_item()] * 13)], [quick([qr_item()] * 14)], "messages[0].quickReply.items"),
    # postback data ≤ 300 (UTF-16 units)
    ([buttons(actions=[postback(data="d" * 300)])], [buttons(actions=[postback(data="d" * 301)])],
     "messages[0].template.actions[0].data"),
    ([buttons(actions=[postback(data=E * 150)])], [buttons(actions=[postback(data=E * 151)])],
     "messages[0].template.actions[0].data"),
    # URIs ≤ 1,000 and of an allowed scheme
    ([flex_button({"type": "uri", "label": "l", "uri": "https://e.jp/" + "a" * 987})],
     [flex_button({"type": "uri", "label": "l", "uri": "https://e.jp/" + "a" * 988})],
     "messages[0].contents.footer.contents[0].action.uri"),
    ([flex_button({"type": "uri", "label": "l", "uri": "tel:0725411551"})],
     [flex_button({"type": "uri", "label": "l", "uri": "javascript:alert(1)"})],
     "messages[0].contents.footer.contents[0].action.uri"),
    ([flex_button({"type": "uri", "label": "l", "uri": "line://nv/chat"})],
     [flex_button({"type": "uri", "label": "l", "uri": "data:text/html,<b>x</b>"})],
     "messages[0].contents.footer.contents[0].action.uri"),
    ([buttons(actions=[{"type": "uri", "label": "l", "uri": "http://e.jp"}])],
     [buttons(actions=[{"type": "uri", "label": "l", "uri": "file:///etc/passwd"}])],
     "messages[0].template.actions[0].uri"),
])
def test_each_documented_limit_holds_exactly_at_its_boundary(ok, bad, prop):
    assert validate_messages(ok) == []
    assert prop in props(bad)


def test_multicast_takes_at_most_500_user_ids():
    users = [f"U{i:032x}" for i in range(501)]
    assert validate_request("/v2/bot/message/multicast", {"to": users[:500], "messages": [text("x")]}) == []
    details = validate_request("/v2/bot/message/multicast", {"to": users, "messages": [text("x")]})
    assert [d["property"] for d in details] == ["to"]
    assert validate_request("/v2/bot/message/multicast", {"to": ["nobody"], "messages": [text("x")]}) == [
        {"message": "Invalid user ID", "property": "to[0]"}]


@pytest.mark.parametrize("messages, prop", [
    ([text("")], "messages[0].text"),
    ([buttons(actions=[{"type": "postback", "data": "d"}])], "messages[0].template.actions[0].label"),
    ([buttons(actions=[{"type": "postback", "label": "l"}])], "messages[0].template.actions[0].data"),
    ([buttons(actions=[{"type": "message", "label": "l"}])], "messages[0].template.actions[0].text"),
    ([buttons(actions=[{"type": "uri", "label": "l"}])], "messages[0].template.actions[0].uri"),
    ([buttons(actions=[postback(displayText="a", text="b")])], "messages[0].template.actions[0].text"),
    ([quick([{"type": "button", "action": qr_item()["action"]}])], "messages[0].quickReply.items[0].type"),
    ([quick([{"type": "action"}])], "messages[0].quickReply.items[0].action"),
    ([quick([])], "messages[0].quickReply.items"),
    ([buttons(actions=[{"type": "camera", "label": "カメラ"}])], "messages[0].template.actions[0].type"),
    ([buttons(actions=[{"type": "richmenuswitch", "label": "l", "richMenuAliasId": "a", "data": "d"}])],
     "messages[0].template.actions[0].type"),
    ([{"type": "image", "originalContentUrl": "http://e.jp/a.jpg", "previewImageUrl": "https://e.jp/p.jpg"}],
     "messages[0].originalContentUrl"),
    ([{"type": "flex", "altText": "a", "contents": {"type": "bubble", "body": {
        "type": "box", "layout": "vertical", "contents": [{"type": "text"}]}}}],
     "messages[0].contents.body.contents[0].text"),
    ([{"type": "flex", "altText": "a", "contents": {"type": "carousel", "contents": [
        {"type": "bubble"}] * 13}}], "messages[0].contents.contents"),
    ([{"type": "template", "altText": "a", "template": {"type": "carousel", "columns": [
        {"text": "t", "actions": [postback()]}, {"text": "t", "actions": [postback(), postback()]}]}}],
     "messages[0].template.columns"),
])
def test_what_lines_reference_documents_but_the_spec_leaves_out(messages, prop):
    assert prop in props(messages)


def test_a_camera_action_is_fine_in_a_quick_reply():
    assert validate_messages([quick([{"type": "action", "action": {"type": "camera", "label": "カメラ"}}])]) == []


def test_a_property_is_reported_once_even_when_spec_and_limit_both_refuse_it():
    details = validate_messages([buttons(actions=[postback(data="d" * 400)])])
    assert [d["property"] for d in details] == ["messages[0].template.actions[0].data"]
