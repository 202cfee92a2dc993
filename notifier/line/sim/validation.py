"""Message-object checks the simulator applies, with LINE-style error details.

Pure functions: a request body in, a list of `{"message", "property"}` details out. They cover the
limits we rely on (see shared line-notes), not every rule LINE has.
"""

from __future__ import annotations

import re
from typing import Any

MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ALT_TEXT = 400
MAX_FLEX_ALT_TEXT = 1500
MAX_POSTBACK_DATA = 300
MAX_QUICK_REPLY_ITEMS = 13
MAX_MULTICAST = 500

MESSAGE_TYPES = (
    "text", "textV2", "sticker", "image", "video", "audio", "location", "imagemap", "template",
    "flex", "coupon",
)
ACTION_TYPES = (
    "postback", "message", "uri", "datetimepicker", "camera", "cameraRoll", "location",
    "richmenuswitch", "clipboard",
)
USER_ID_RE = re.compile(r"^[UCR][0-9a-f]{32}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
URI_SCHEMES = ("http://", "https://", "line://", "tel:", "mailto:")


def utf16_len(text: str) -> int:
    """Length the way LINE counts it: UTF-16 code units (a surrogate-pair emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


def is_uuid(value: str) -> bool:
    return bool(UUID_RE.match(value or ""))


class _Errors:
    def __init__(self) -> None:
        self.details: list[dict] = []

    def add(self, prop: str, message: str) -> None:
        self.details.append({"message": message, "property": prop})


def error_body(details: list[dict]) -> dict:
    return {"message": f"The request body has {len(details)} error(s)", "details": details}


def validate_messages(messages: Any, prop: str = "messages") -> list[dict]:
    errors = _Errors()
    if not isinstance(messages, list):
        errors.add(prop, "May not be empty" if messages is None else "Must be an array")
        return errors.details
    if not 1 <= len(messages) <= MAX_MESSAGES:
        errors.add(prop, f"Size must be between 1 and {MAX_MESSAGES}")
        return errors.details
    for i, message in enumerate(messages):
        _message(errors, message, f"{prop}[{i}]")
    return errors.details


def validate_recipients(to: Any, prop: str = "to", limit: int = MAX_MULTICAST) -> list[dict]:
    errors = _Errors()
    if not isinstance(to, list) or not to:
        errors.add(prop, "May not be empty")
    elif len(to) > limit:
        errors.add(prop, f"Size must be between 1 and {limit}")
    else:
        for i, user_id in enumerate(to):
            if not isinstance(user_id, str) or not USER_ID_RE.match(user_id):
                errors.add(f"{prop}[{i}]", "Invalid user ID")
    return errors.details


def _text_len(errors: _Errors, value: Any, prop: str, limit: int, required: bool = True) -> None:
    if value is None or value == "":
        if required:
            errors.add(prop, "May not be empty")
        return
    if not isinstance(value, str):
        errors.add(prop, "Must be a string")
        return
    if utf16_len(value) > limit:
        errors.add(prop, f"Length must be between 0 and {limit}")


def _message(errors: _Errors, message: Any, prop: str) -> None:
    if not isinstance(message, dict):
        errors.add(prop, "Must be an object")
        return
    kind = message.get("type")
    if kind not in MESSAGE_TYPES:
        errors.add(f"{prop}.type", "Must be one of the following values: [" + ", ".join(MESSAGE_TYPES) + "]")
        return
    if kind == "text":
        _text_len(errors, message.get("text"), f"{prop}.text", MAX_TEXT)
    elif kind == "template":
        _text_len(errors, message.get("altText"), f"{prop}.altText", MAX_ALT_TEXT)
        _template(errors, message.get("template"), f"{prop}.template")
    elif kind == "flex":
        _text_len(errors, message.get("altText"), f"{prop}.altText", MAX_FLEX_ALT_TEXT)
        _flex_container(errors, message.get("contents"), f"{prop}.contents")
    elif kind == "sticker":
        for key in ("packageId", "stickerId"):
            if not message.get(key):
                errors.add(f"{prop}.{key}", "May not be empty")
    elif kind in ("image", "video"):
        for key in ("originalContentUrl", "previewImageUrl"):
            if not str(message.get(key) or "").startswith("https://"):
                errors.add(f"{prop}.{key}", "Must be an HTTPS URL")
    quick = message.get("quickReply")
    if quick is not None:
        items = quick.get("items") if isinstance(quick, dict) else None
        if not isinstance(items, list) or not items:
            errors.add(f"{prop}.quickReply.items", "May not be empty")
        elif len(items) > MAX_QUICK_REPLY_ITEMS:
            errors.add(f"{prop}.quickReply.items", f"Size must be between 1 and {MAX_QUICK_REPLY_ITEMS}")
        else:
            for i, item in enumerate(items):
                item_prop = f"{prop}.quickReply.items[{i}]"
                if not isinstance(item, dict) or item.get("type") != "action":
                    errors.add(f"{item_prop}.type", "Must be one of the following values: [action]")
                    continue
                _action(errors, item.get("action"), f"{item_prop}.action", label_limit=20)


def _template(errors: _Errors, template: Any, prop: str) -> None:
    if not isinstance(template, dict):
        errors.add(prop, "May not be empty")
        return
    kind = template.get("type")
    if kind == "buttons":
        short = bool(template.get("title") or template.get("thumbnailImageUrl"))
        _text_len(errors, template.get("title"), f"{prop}.title", 40, required=False)
        _text_len(errors, template.get("text"), f"{prop}.text", 60 if short else 160)
        _actions(errors, template.get("actions"), f"{prop}.actions", 1, 4)
    elif kind == "confirm":
        _text_len(errors, template.get("text"), f"{prop}.text", 240)
        _actions(errors, template.get("actions"), f"{prop}.actions", 2, 2)
    elif kind == "carousel":
        columns = template.get("columns")
        if not isinstance(columns, list) or not 1 <= len(columns) <= 10:
            errors.add(f"{prop}.columns", "Size must be between 1 and 10")
            return
        counts = set()
        for i, column in enumerate(columns):
            column_prop = f"{prop}.columns[{i}]"
            if not isinstance(column, dict):
                errors.add(column_prop, "Must be an object")
                continue
            short = bool(column.get("title") or column.get("thumbnailImageUrl"))
            _text_len(errors, column.get("text"), f"{column_prop}.text", 60 if short else 120)
            _actions(errors, column.get("actions"), f"{column_prop}.actions", 1, 3)
            counts.add(len(column.get("actions") or []))
        if len(counts) > 1:
            errors.add(f"{prop}.columns", "Must have the same number of actions in every column")
    elif kind == "image_carousel":
        columns = template.get("columns")
        if not isinstance(columns, list) or not 1 <= len(columns) <= 10:
            errors.add(f"{prop}.columns", "Size must be between 1 and 10")
    else:
        errors.add(f"{prop}.type", "Must be one of the following values: [buttons, confirm, carousel, image_carousel]")


def _actions(errors: _Errors, actions: Any, prop: str, low: int, high: int) -> None:
    if not isinstance(actions, list) or not low <= len(actions) <= high:
        errors.add(prop, f"Size must be between {low} and {high}")
        return
    for i, action in enumerate(actions):
        _action(errors, action, f"{prop}[{i}]", label_limit=20)


def _action(errors: _Errors, action: Any, prop: str, label_limit: int, label_required: bool = True) -> None:
    if not isinstance(action, dict):
        errors.add(prop, "May not be empty")
        return
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        errors.add(f"{prop}.type", "Must be one of the following values: [" + ", ".join(ACTION_TYPES) + "]")
        return
    _text_len(errors, action.get("label"), f"{prop}.label", label_limit, required=label_required)
    if kind == "postback":
        _text_len(errors, action.get("data"), f"{prop}.data", MAX_POSTBACK_DATA)
        _text_len(errors, action.get("displayText"), f"{prop}.displayText", 300, required=False)
    elif kind == "message":
        _text_len(errors, action.get("text"), f"{prop}.text", 300)
    elif kind == "uri":
        uri = action.get("uri")
        if not isinstance(uri, str) or not uri:
            errors.add(f"{prop}.uri", "May not be empty")
        elif len(uri) > 1000 or not uri.startswith(URI_SCHEMES):
            errors.add(f"{prop}.uri", "Invalid action URI")
    elif kind == "datetimepicker":
        _text_len(errors, action.get("data"), f"{prop}.data", MAX_POSTBACK_DATA)
        if action.get("mode") not in ("date", "time", "datetime"):
            errors.add(f"{prop}.mode", "Must be one of the following values: [date, time, datetime]")


def _flex_container(errors: _Errors, contents: Any, prop: str) -> None:
    if not isinstance(contents, dict):
        errors.add(prop, "May not be empty")
        return
    kind = contents.get("type")
    if kind == "bubble":
        _bubble(errors, contents, prop)
    elif kind == "carousel":
        bubbles = contents.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= 12:
            errors.add(f"{prop}.contents", "Size must be between 1 and 12")
            return
        for i, bubble in enumerate(bubbles):
            if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
                errors.add(f"{prop}.contents[{i}].type", "Must be one of the following values: [bubble]")
            else:
                _bubble(errors, bubble, f"{prop}.contents[{i}]")
    else:
        errors.add(f"{prop}.type", "Must be one of the following values: [bubble, carousel]")


def _bubble(errors: _Errors, bubble: dict, prop: str) -> None:
    if not any(bubble.get(k) for k in ("header", "hero", "body", "footer")):
        errors.add(prop, "A bubble needs at least one of header, hero, body, footer")
    for block in ("header", "hero", "body", "footer"):
        if bubble.get(block) is not None:
            _component(errors, bubble[block], f"{prop}.{block}")


FLEX_COMPONENTS = ("box", "text", "button", "image", "video", "icon", "span", "separator", "filler", "spacer")


def _component(errors: _Errors, component: Any, prop: str) -> None:
    if not isinstance(component, dict):
        errors.add(prop, "Must be an object")
        return
    kind = component.get("type")
    if kind not in FLEX_COMPONENTS:
        errors.add(f"{prop}.type", "Must be one of the following values: [" + ", ".join(FLEX_COMPONENTS) + "]")
        return
    if kind == "box":
        if component.get("layout") not in ("horizontal", "vertical", "baseline"):
            errors.add(f"{prop}.layout", "Must be one of the following values: [horizontal, vertical, baseline]")
        children = component.get("contents")
        if not isinstance(children, list):
            errors.add(f"{prop}.contents", "May not be empty")
        else:
            for i, child in enumerate(children):
                _component(errors, child, f"{prop}.contents[{i}]")
    elif kind == "text":
        if not component.get("text") and not component.get("contents"):
            errors.add(f"{prop}.text", "May not be empty")
    elif kind == "button":
        _action(errors, component.get("action"), f"{prop}.action", label_limit=40)
        return
    elif kind == "image":
        if not str(component.get("url") or "").startswith("https://"):
            errors.add(f"{prop}.url", "Must be an HTTPS URL")
    if kind in ("box", "image", "text") and component.get("action") is not None:
        _action(errors, component.get("action"), f"{prop}.action", label_limit=40, label_required=False)
