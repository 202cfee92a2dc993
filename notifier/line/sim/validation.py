"""Request-body checks the simulator applies, answering with LINE-style error details.

Pure functions: a request body in, a list of `{"message", "property"}` details out (empty when LINE
would accept it). Two layers, as LINE has them: the schema in LINE's own OpenAPI spec (`spec.py`)
and the limits LINE documents beside it (`limits.py`). `error_body` wraps the details the way LINE
does: `{"message": "The request body has N error(s)", "details": [...]}`.
"""

from __future__ import annotations

import re
from typing import Any

from . import spec
from .limits import MAX_MESSAGES, MAX_MULTICAST, limit_errors, utf16_len

__all__ = [
    "MAX_MESSAGES", "MAX_MULTICAST", "USER_ID_RE", "error_body", "is_uuid", "utf16_len",
    "validate_messages", "validate_request",
]

USER_ID_RE = re.compile(r"^[UCR][0-9a-f]{32}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_uuid(value: str) -> bool:
    return bool(UUID_RE.match(value or ""))


def error_body(details: list[dict]) -> dict:
    return {"message": f"The request body has {len(details)} error(s)", "details": details}


def validate_request(path: str, body: Any) -> list[dict]:
    """Everything LINE would refuse in the JSON body of `POST path` (a Messaging API send path).

    One detail per property: where the schema already refused a property, a documented limit on
    the same property adds nothing (postback `data` is limited by both, for instance).
    """
    details = spec.schema_errors(spec.request_schema_name(path), body)
    seen = {d["property"] for d in details}
    for detail in limit_errors(body):
        if detail["property"] not in seen:
            seen.add(detail["property"])
            details.append(detail)
    if path.endswith("/multicast") and not path.startswith("/v2/bot/message/validate/"):
        details += _recipient_ids(body)
    return details


def validate_messages(messages: Any) -> list[dict]:
    """The checks for a bare list of message objects (as the validate endpoints receive them)."""
    return validate_request("/v2/bot/message/validate/push", {"messages": messages})


def _recipient_ids(body: Any) -> list[dict]:
    # The spec says only "string"; LINE refuses anything that is not a user ID.
    to = body.get("to") if isinstance(body, dict) else None
    if not isinstance(to, list) or len(to) > MAX_MULTICAST:
        return []
    return [{"message": "Invalid user ID", "property": f"to[{i}]"}
            for i, user_id in enumerate(to) if isinstance(user_id, str) and not USER_ID_RE.match(user_id)]
