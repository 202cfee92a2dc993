"""Webhook events the simulated users cause, posted to the service signed exactly like LINE."""

from __future__ import annotations

import copy
import json
import logging
import secrets
import time

import requests

from .signing import sign_body, ulid
from .state import SimState

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = (3.0, 10.0)  # LINE gives up sooner (about 2 s); the sim reports slow answers


def _base(state: SimState, kind: str, user_id: str) -> dict:
    now_ms = state.now_ms()
    return {
        "type": kind,
        "mode": "active",
        "timestamp": now_ms,
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": ulid(now_ms),
        "deliveryContext": {"isRedelivery": False},
    }


def follow_event(state: SimState, user_id: str, is_unblocked: bool) -> dict:
    event = _base(state, "follow", user_id)
    event["replyToken"] = state.issue_reply_token(user_id)
    event["follow"] = {"isUnblocked": is_unblocked}
    return event


def unfollow_event(state: SimState, user_id: str) -> dict:
    return _base(state, "unfollow", user_id)


def text_event(state: SimState, user_id: str, text: str, message_id: str) -> dict:
    event = _base(state, "message", user_id)
    event["replyToken"] = state.issue_reply_token(user_id)
    event["message"] = {
        "type": "text",
        "id": message_id,
        "quoteToken": secrets.token_urlsafe(24),
        "text": text,
    }
    return event


def postback_event(state: SimState, user_id: str, data: str, params: dict | None = None) -> dict:
    event = _base(state, "postback", user_id)
    event["replyToken"] = state.issue_reply_token(user_id)
    event["postback"] = {"data": data}
    if params:
        event["postback"]["params"] = params
    return event


def as_redelivery(event: dict) -> dict:
    """The same event as LINE redelivers it: same webhookEventId, isRedelivery true."""
    again = copy.deepcopy(event)
    again["deliveryContext"] = {"isRedelivery": True}
    return again


def envelope(destination: str, events: list[dict]) -> bytes:
    payload = {"destination": destination, "events": events}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def deliver(state: SimState, webhook_url: str | None, channel_secret: str, destination: str,
            events: list[dict]) -> dict:
    """POST the events; returns {"status", "elapsed_ms", "error"}. Never holds the state lock."""
    body = envelope(destination, events)
    result: dict = {"status": None, "elapsed_ms": None, "error": None, "url_configured": bool(webhook_url)}
    if webhook_url:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "LineBotWebhook/2.0",
            "X-Line-Signature": sign_body(channel_secret, body),
        }
        started = time.monotonic()
        try:
            response = requests.post(webhook_url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT)
            result["status"] = response.status_code
        except requests.RequestException as exc:
            result["error"] = type(exc).__name__
            logger.warning("sim webhook delivery failed: %s", type(exc).__name__)
        result["elapsed_ms"] = round((time.monotonic() - started) * 1000)
        result["slow"] = result["elapsed_ms"] > 2000
    else:
        result["error"] = "no webhook URL configured"
    for event in events:
        state.log_webhook({
            "webhookEventId": event["webhookEventId"],
            "type": event["type"],
            "userId": event.get("source", {}).get("userId"),
            "isRedelivery": event["deliveryContext"]["isRedelivery"],
            **result,
        })
    return result
