"""The notice as LINE shows it: one Flex bubble with a neutral header, the service, a few kind
sentences, an 「オンラインで申請する」 and a 「詳しく見る」 button, and a 「配信停止」 quick reply.

Plain LINE JSON (dicts), the form `LineClient.push` takes and the outbox stores. The builder checks
only the shape it promises (non-empty texts, at most three sentences, URIs with an allowed scheme
and length); whether a text is neutral enough for the lock screen is the template check's job.
The result passes LINE's schema and documented limits (tests/line/test_notice_messages.py sends it
through the real SDK to the simulator).
"""
from __future__ import annotations

import re

APPLY_LABEL = "オンラインで申請する"
INFO_LABEL = "詳しく見る"
# Sent as the resident's own text, which the webhook already treats as a withdrawal (a STOP_WORDS
# entry; a test holds the two together).
STOP_LABEL = "配信停止"
STOP_TEXT = "配信停止"
MAX_SENTENCES = 3
MAX_ALT_TEXT = 1500          # LINE's limit for a Flex message's altText (UTF-16 units)
MAX_URI = 1000               # LINE's documented limit for a URI action
_URI_SCHEMES = ("http://", "https://")  # a notice links to web pages only



def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    return value.strip()


def _uri(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.lower().startswith(_URI_SCHEMES):
        raise ValueError(f"{what} must be an http(s) URL")
    if re.search(r"\s", value):
        raise ValueError(f"{what} must not contain spaces")
    if len(value) > MAX_URI:
        raise ValueError(f"{what} is longer than {MAX_URI} characters")
    return value


def notice_bubble(title: str, service_name: str, sentences: list[str], apply_url: str,
                  info_url: str) -> dict:
    """The bubble: header `title` (e.g. 「和泉市からのお知らせ」), body with `service_name` and two
    or three `sentences`, footer with the primary apply button and the secondary info button."""
    sentences = [_text(s, "each sentence") for s in sentences]
    if not 1 <= len(sentences) <= MAX_SENTENCES:
        raise ValueError(f"a notice has 1 to {MAX_SENTENCES} sentences, not {len(sentences)}")
    return {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": _text(title, "title"), "weight": "bold", "size": "sm",
             "color": "#555555", "wrap": True},
        ]},
        "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": [
            {"type": "text", "text": _text(service_name, "service_name"), "weight": "bold", "size": "lg",
             "wrap": True},
            *({"type": "text", "text": s, "size": "sm", "wrap": True} for s in sentences),
        ]},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
            {"type": "button", "style": "primary", "height": "sm",
             "action": {"type": "uri", "label": APPLY_LABEL, "uri": _uri(apply_url, "apply_url")}},
            {"type": "button", "style": "secondary", "height": "sm",
             "action": {"type": "uri", "label": INFO_LABEL, "uri": _uri(info_url, "info_url")}},
        ]},
    }


def notice_message(title: str, service_name: str, sentences: list[str], apply_url: str, info_url: str,
                   alt_text: str) -> dict:
    """The whole Flex message: `alt_text` is what a lock screen and the chat list show, so it must
    be neutral (e.g. 「和泉市からのお知らせ」); the quick reply 「配信停止」 stops the notices."""
    alt = _text(alt_text, "alt_text")
    if _utf16_len(alt) > MAX_ALT_TEXT:
        raise ValueError(f"alt_text is longer than {MAX_ALT_TEXT} characters")
    return {
        "type": "flex",
        "altText": alt,
        "contents": notice_bubble(title, service_name, sentences, apply_url, info_url),
        "quickReply": {"items": [
            {"type": "action", "action": {"type": "message", "label": STOP_LABEL, "text": STOP_TEXT}},
        ]},
    }
