"""What the service does with each webhook event (follow, unfollow, text, postback)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs

from sqlalchemy.orm import Session

from notifier import clock
from notifier.consent import service as consent
from notifier.line import accounts, messages
from notifier.line.errors import LineError

log = logging.getLogger(__name__)


def _occurred_at(event: dict) -> datetime:
    ts = event.get("timestamp")
    if not ts:
        return clock.now()
    return datetime.fromtimestamp(ts / 1000, tz=UTC).replace(tzinfo=None)


def handle_event(session: Session, event: dict, client) -> str:
    """Apply one event; returns a short outcome label (stored on the webhook event, never user data)."""
    source = event.get("source") or {}
    user_id = source.get("userId")
    kind = event.get("type")
    if source.get("type") != "user" or not user_id:
        return "ignored"
    account = accounts.get_or_create_account(session, user_id)
    replies: list[dict] = []
    if kind == "follow":
        account.reachable = True
        account.followed_at = _occurred_at(event)
        replies = [messages.text(messages.GREETING)]
        outcome = "followed"
    elif kind == "unfollow":
        account.reachable = False
        account.unfollowed_at = _occurred_at(event)
        if account.atena_no:
            consent.record(session, account.atena_no, actor="line", withdraw=["notify"], channel="LINE",
                           occurred_at=_occurred_at(event), line_account_id=account.id,
                           reference=event.get("webhookEventId"), cause="unfollow")
        outcome = "unfollowed"
    elif kind == "message" and (event.get("message") or {}).get("type") == "text":
        outcome, replies = _on_text(session, account, event)
    elif kind == "postback":
        outcome, replies = _on_postback(session, account, event)
    else:
        return "ignored"
    session.flush()
    if replies and client is not None and event.get("replyToken"):
        try:
            client.reply(event["replyToken"], replies)
        except LineError as exc:
            # The state change stands; only the courtesy reply failed.
            log.warning("reply failed", extra={"status": exc.status, "permanent": exc.permanent})
    return outcome


def _on_text(session: Session, account, event: dict) -> tuple[str, list[dict]]:
    body = (event["message"].get("text") or "").strip()
    if body in messages.STOP_WORDS or body.upper() in messages.STOP_WORDS:
        return _withdraw(session, account, event)
    if accounts.looks_like_application_id(body):
        result = accounts.try_link(session, account, body, channel="LINE")
        if result == "throttled":
            return "link_throttled", [messages.text(messages.THROTTLED)]
        if result in ("unknown", "taken"):
            return f"link_{result}", [messages.text(messages.ID_NOT_CONFIRMED)]
        notify = consent.current_text(session, "notify").text
        tax = consent.current_text(session, "tax").text
        return "linked", [messages.text(messages.LINKED), *messages.consent_request(notify, tax)]
    return "help", [messages.text(messages.HELP)]


def _withdraw(session: Session, account, event: dict) -> tuple[str, list[dict]]:
    if not account.atena_no:
        return "withdraw_unlinked", [messages.text(messages.NOT_LINKED_WITHDRAW)]
    consent.record(session, account.atena_no, actor="line", withdraw=["notify"], channel="LINE",
                   occurred_at=_occurred_at(event), line_account_id=account.id,
                   reference=event.get("webhookEventId"), cause="stop")
    return "withdrawn", [messages.text(messages.WITHDRAWN)]


def _on_postback(session: Session, account, event: dict) -> tuple[str, list[dict]]:
    data = parse_qs((event.get("postback") or {}).get("data") or "")
    if "withdraw" in data:
        return _withdraw(session, account, event)
    choice = (data.get("consent") or [""])[0]
    if not account.atena_no:
        return "consent_unlinked", [messages.text(messages.HELP)]
    scopes = [s for s in choice.split(",") if s]
    if choice == "none":
        return "consent_declined", [messages.text(messages.CONSENT_DECLINED)]
    if scopes not in (["notify"], ["notify", "tax"]):
        if "tax" in scopes:
            return "consent_refused", [messages.text(messages.TAX_NEEDS_NOTIFY)]
        return "ignored", []
    consent.record(session, account.atena_no, actor="line", grant=scopes, channel="LINE", occurred_at=_occurred_at(event),
                   line_account_id=account.id, reference=event.get("webhookEventId"))
    reply = messages.CONSENT_RECORDED_TAX if "tax" in scopes else messages.CONSENT_RECORDED_NOTIFY
    return "consented", [messages.text(reply)]
