"""LINE's documented message limits that its OpenAPI spec does not encode, as explicit checks.

The spec (checked in `spec.py`) knows types, required fields, enums and a few sizes; LINE's
reference pages add character limits, action counts, URI schemes and where an action may be used.
These checks run beside the schema on the same request body and answer in the same detail shape.
They look only at values of the right type: a wrong type is the schema's error, reported once.

Lengths are counted in UTF-16 code units, as LINE counts them (an emoji outside the BMP is 2).
Sources: LINE's Messaging API reference (message, template, Flex, action and quick-reply objects)
and /work/shared/line-notes.md. Where the spec also encodes a limit (≤ 5 messages, ≤ 13 quick-reply
items, postback data ≤ 300, ≤ 500 multicast recipients) the spec is the check; the constants here
name them for the service's own code.
"""

from __future__ import annotations

import re
from typing import Any

from .spec import property_path

# Also in the spec (maxItems / maxLength there):
MAX_MESSAGES = 5
MAX_QUICK_REPLY_ITEMS = 13
MAX_POSTBACK_DATA = 300
MAX_MULTICAST = 500

# Documented only:
MAX_TEXT = 5000
MAX_FLEX_ALT_TEXT = 1500
MAX_TEMPLATE_ALT_TEXT = 400
MAX_IMAGEMAP_ALT_TEXT = 1500
MAX_ACTION_LABEL = 20          # template actions, quick-reply buttons
MAX_FLEX_BUTTON_LABEL = 40
MAX_IMAGE_CAROUSEL_LABEL = 12
MAX_ACTION_TEXT = 300          # message action text, postback displayText / text
MAX_TEMPLATE_TITLE = 40
MAX_BUTTONS_TEXT = 160
MAX_BUTTONS_TEXT_WITH_HEADER = 60   # with a title or a thumbnail image
MAX_BUTTONS_ACTIONS = 4
MAX_CONFIRM_TEXT = 240
CONFIRM_ACTIONS = 2
MAX_CAROUSEL_COLUMNS = 10
MAX_CAROUSEL_TEXT = 120
MAX_CAROUSEL_TEXT_WITH_HEADER = 60
MAX_CAROUSEL_ACTIONS = 3
MAX_FLEX_CAROUSEL_BUBBLES = 12
MAX_IMAGEMAP_ACTIONS = 50
# The spec revision vendored here has no limit on URIAction.uri; LINE documents 1,000 (the SDK's
# later spec allows 10,000: see openapi/README.md). 1,000 is what the service keeps to.
MAX_URI = 1000
URI_SCHEMES = ("http", "https", "line", "tel")
MAX_IMAGE_URL = 2000           # image, video, icon and thumbnail URLs: HTTPS only
MAX_QUICK_REPLY_ICON_URL = 1000

# Where an action type may appear (LINE: "can be configured only with quick reply buttons" /
# "only with rich menus"); a message can never carry a rich menu switch.
QUICK_REPLY_ONLY_ACTIONS = ("camera", "cameraRoll", "location")
RICH_MENU_ONLY_ACTIONS = ("richmenuswitch",)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def utf16_len(text: str) -> int:
    """Length the way LINE counts it: UTF-16 code units (a surrogate-pair emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


class _Details:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, path: list, message: str) -> None:
        self.items.append({"message": message, "property": property_path(path)})

    def text(self, obj: dict, key: str, path: list, limit: int, *, required: bool = False) -> None:
        """A string property of at most `limit` UTF-16 units; an empty one when required."""
        value = obj.get(key)
        if not isinstance(value, str):
            return  # absent (the schema says whether it must be there) or of a wrong type
        if required and value == "":
            self.add([*path, key], "May not be empty")
        elif utf16_len(value) > limit:
            self.add([*path, key], f"Length must be between {1 if required else 0} and {limit}")

    def must_have(self, obj: dict, key: str, path: list) -> None:
        """Documented as required where the spec leaves it optional."""
        if key not in obj or obj[key] is None:
            self.add([*path, key], "must be specified")

    def count(self, obj: dict, key: str, path: list, low: int, high: int) -> list:
        value = obj.get(key)
        if not isinstance(value, list):
            return []
        if not low <= len(value) <= high:
            self.add([*path, key], f"Size must be between {low} and {high}")
        return value

    def https(self, obj: dict, key: str, path: list, limit: int = MAX_IMAGE_URL) -> None:
        value = obj.get(key)
        if not isinstance(value, str):
            return
        if not value.lower().startswith("https://"):
            self.add([*path, key], "Must be an HTTPS URL")
        elif utf16_len(value) > limit:
            self.add([*path, key], f"Length must be between 1 and {limit}")

    def uri(self, obj: dict, key: str, path: list) -> None:
        value = obj.get(key)
        if not isinstance(value, str):
            return
        scheme = _SCHEME.match(value)
        if scheme is None or scheme.group(1).lower() not in URI_SCHEMES:
            self.add([*path, key], "Invalid URI scheme: must be one of [" + ", ".join(URI_SCHEMES) + "]")
        elif utf16_len(value) > MAX_URI:
            self.add([*path, key], f"Length must be between 1 and {MAX_URI}")


def limit_errors(body: Any) -> list[dict]:
    """The documented limits broken by a request body's `messages` (push, multicast, reply, validate)."""
    details = _Details()
    if isinstance(body, dict) and isinstance(body.get("messages"), list):
        for i, message in enumerate(body["messages"]):
            if isinstance(message, dict):
                _message(details, message, ["messages", i])
    return details.items


def _message(d: _Details, message: dict, path: list) -> None:
    kind = message.get("type")
    if kind in ("text", "textV2"):
        d.text(message, "text", path, MAX_TEXT, required=True)
    elif kind == "flex":
        d.text(message, "altText", path, MAX_FLEX_ALT_TEXT, required=True)
        if isinstance(message.get("contents"), dict):
            _flex_container(d, message["contents"], [*path, "contents"])
    elif kind == "template":
        d.text(message, "altText", path, MAX_TEMPLATE_ALT_TEXT, required=True)
        if isinstance(message.get("template"), dict):
            _template(d, message["template"], [*path, "template"])
    elif kind in ("image", "video"):
        d.https(message, "originalContentUrl", path)
        d.https(message, "previewImageUrl", path)
    elif kind == "audio":
        d.https(message, "originalContentUrl", path)
    elif kind == "imagemap":
        d.text(message, "altText", path, MAX_IMAGEMAP_ALT_TEXT, required=True)
        d.https(message, "baseUrl", path)
        for j, action in enumerate(d.count(message, "actions", path, 1, MAX_IMAGEMAP_ACTIONS)):
            if isinstance(action, dict) and action.get("type") == "uri":
                d.uri(action, "linkUri", [*path, "actions", j])

    quick = message.get("quickReply")
    if isinstance(quick, dict):
        qpath = [*path, "quickReply"]
        d.must_have(quick, "items", qpath)
        for j, item in enumerate(d.count(quick, "items", qpath, 1, MAX_QUICK_REPLY_ITEMS)):
            if not isinstance(item, dict):
                continue
            ipath = [*qpath, "items", j]
            if item.get("type") != "action":
                d.add([*ipath, "type"], "Must be one of the following values: [action]")
            d.https(item, "imageUrl", ipath, MAX_QUICK_REPLY_ICON_URL)
            d.must_have(item, "action", ipath)
            if isinstance(item.get("action"), dict):
                _action(d, item["action"], [*ipath, "action"], "quick_reply")


def _template(d: _Details, template: dict, path: list) -> None:
    kind = template.get("type")
    if kind == "buttons":
        header = bool(template.get("title") or template.get("thumbnailImageUrl"))
        d.https(template, "thumbnailImageUrl", path)
        d.text(template, "title", path, MAX_TEMPLATE_TITLE)
        d.text(template, "text", path, MAX_BUTTONS_TEXT_WITH_HEADER if header else MAX_BUTTONS_TEXT, required=True)
        _actions(d, template, path, 1, MAX_BUTTONS_ACTIONS)
        if isinstance(template.get("defaultAction"), dict):
            _action(d, template["defaultAction"], [*path, "defaultAction"], "default")
    elif kind == "confirm":
        d.text(template, "text", path, MAX_CONFIRM_TEXT, required=True)
        _actions(d, template, path, CONFIRM_ACTIONS, CONFIRM_ACTIONS)
    elif kind == "carousel":
        columns = d.count(template, "columns", path, 1, MAX_CAROUSEL_COLUMNS)
        counts = set()
        for j, column in enumerate(columns):
            if not isinstance(column, dict):
                continue
            cpath = [*path, "columns", j]
            header = bool(column.get("title") or column.get("thumbnailImageUrl"))
            d.https(column, "thumbnailImageUrl", cpath)
            d.text(column, "title", cpath, MAX_TEMPLATE_TITLE)
            d.text(column, "text", cpath, MAX_CAROUSEL_TEXT_WITH_HEADER if header else MAX_CAROUSEL_TEXT,
                   required=True)
            actions = _actions(d, column, cpath, 1, MAX_CAROUSEL_ACTIONS)
            counts.add(len(actions))
            if isinstance(column.get("defaultAction"), dict):
                _action(d, column["defaultAction"], [*cpath, "defaultAction"], "default")
        if len(counts) > 1:
            d.add([*path, "columns"], "Must have the same number of actions in every column")
    elif kind == "image_carousel":
        for j, column in enumerate(d.count(template, "columns", path, 1, MAX_CAROUSEL_COLUMNS)):
            if isinstance(column, dict):
                d.https(column, "imageUrl", [*path, "columns", j])
                if isinstance(column.get("action"), dict):
                    _action(d, column["action"], [*path, "columns", j, "action"], "image_carousel")


def _actions(d: _Details, holder: dict, path: list, low: int, high: int) -> list:
    actions = d.count(holder, "actions", path, low, high)
    for j, action in enumerate(actions):
        if isinstance(action, dict):
            _action(d, action, [*path, "actions", j], "template")
    return actions


# Where an action sits → (label required, label limit).
_LABELS = {
    "template": (True, MAX_ACTION_LABEL),
    "quick_reply": (True, MAX_ACTION_LABEL),
    "flex_button": (True, MAX_FLEX_BUTTON_LABEL),
    "image_carousel": (False, MAX_IMAGE_CAROUSEL_LABEL),
    "default": (False, MAX_ACTION_LABEL),       # a template's defaultAction
    "flex": (False, MAX_FLEX_BUTTON_LABEL),     # a box, image, text or bubble action
}


def _action(d: _Details, action: dict, path: list, where: str) -> None:
    kind = action.get("type")
    if kind in RICH_MENU_ONLY_ACTIONS:
        d.add([*path, "type"], f"The {kind} action can be used in rich menus only")
    elif kind in QUICK_REPLY_ONLY_ACTIONS and where != "quick_reply":
        d.add([*path, "type"], f"The {kind} action can be used in quick reply buttons only")

    label_required, label_limit = _LABELS[where]
    if label_required:
        d.must_have(action, "label", path)
    d.text(action, "label", path, label_limit, required=label_required)

    if kind == "postback":
        d.must_have(action, "data", path)
        d.text(action, "data", path, MAX_POSTBACK_DATA)
        d.text(action, "displayText", path, MAX_ACTION_TEXT)
        d.text(action, "text", path, MAX_ACTION_TEXT)
        if action.get("displayText") is not None and action.get("text") is not None:
            d.add([*path, "text"], "displayText and text cannot both be set")
    elif kind == "message":
        d.must_have(action, "text", path)
        d.text(action, "text", path, MAX_ACTION_TEXT, required=True)
    elif kind == "uri":
        d.must_have(action, "uri", path)
        d.uri(action, "uri", path)
        if isinstance(action.get("altUri"), dict):
            d.uri(action["altUri"], "desktop", [*path, "altUri"])
    elif kind == "datetimepicker":
        d.must_have(action, "data", path)
        d.must_have(action, "mode", path)
        d.text(action, "data", path, MAX_POSTBACK_DATA)


def _flex_container(d: _Details, container: dict, path: list) -> None:
    if container.get("type") == "carousel":
        for j, bubble in enumerate(d.count(container, "contents", path, 1, MAX_FLEX_CAROUSEL_BUBBLES)):
            if isinstance(bubble, dict):
                _bubble(d, bubble, [*path, "contents", j])
    elif container.get("type") == "bubble":
        _bubble(d, container, path)


def _bubble(d: _Details, bubble: dict, path: list) -> None:
    for block in ("header", "hero", "body", "footer"):
        if isinstance(bubble.get(block), dict):
            _component(d, bubble[block], [*path, block])
    if isinstance(bubble.get("action"), dict):
        _action(d, bubble["action"], [*path, "action"], "flex")


def _component(d: _Details, component: dict, path: list) -> None:
    kind = component.get("type")
    if kind == "box" and isinstance(component.get("contents"), list):
        for j, child in enumerate(component["contents"]):
            if isinstance(child, dict):
                _component(d, child, [*path, "contents", j])
    elif kind == "text":
        # `text` may be left out only when spans (`contents`) carry the text.
        if not component.get("contents"):
            d.must_have(component, "text", path)
    elif kind in ("image", "icon"):
        d.https(component, "url", path)
    elif kind == "video":
        d.https(component, "url", path)
        d.https(component, "previewUrl", path)
        if isinstance(component.get("altContent"), dict):
            _component(d, component["altContent"], [*path, "altContent"])
    if isinstance(component.get("action"), dict):
        _action(d, component["action"], [*path, "action"], "flex_button" if kind == "button" else "flex")
