"""The service's one seam to LINE: every outbound LINE HTTP call goes through `LineClient`.

It turns the SDK's mix of `ApiException`s, raw urllib3 errors and pydantic errors into one
`LineError` whose flags tell the dispatcher what to do (retry, give up, or stop everything).
Answers are read raw (`_preload_content=False`): the status and LINE's request-id headers are all
a send needs, and a malformed 2xx body must not turn an accepted send into an error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import requests
import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    Message,
    MessagingApi,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    ValidateMessageRequest,
)

from notifier import clock
from notifier.line.errors import LineError, SendResult

logger = logging.getLogger(__name__)

LINE_API_BASE_URL = "https://api.line.me"
MAX_MESSAGES_PER_REQUEST = 5
MAX_MULTICAST_RECIPIENTS = 500
MONTHLY_LIMIT_MESSAGE = "You have reached your monthly limit."

Timeout = tuple[float, float] | float


class LineClient:
    """Messaging API calls over one reused `ApiClient` (one urllib3 pool, one token).

    base_url None means LINE itself; tests and the demo pass the simulator's URL.
    Thread-safe as far as urllib3's pool is; retries are the caller's job.
    """

    def __init__(
        self,
        base_url: str | None,
        access_token: str,
        timeout: Timeout = (3.05, 10),
        *,
        pool_maxsize: int = 8,
    ) -> None:
        host = base_url.rstrip("/") if base_url else None
        self.base_url = host
        self.timeout = timeout
        configuration = Configuration(access_token=access_token, host=host)
        # Connection failures happen before anything is sent, so urllib3 may retry them;
        # a read failure on a POST must come back to the caller, who retries with the key.
        configuration.retries = urllib3.Retry(
            total=None, connect=1, read=0, redirect=0, status=0, other=0
        )
        configuration.connection_pool_maxsize = pool_maxsize
        self._api_client = ApiClient(configuration)
        self._api = MessagingApi(self._api_client)

    @classmethod
    def from_config(cls, config) -> LineClient:
        """A client for the app's LINE channel (LINE_API_BASE_URL empty: LINE itself), with one pooled
        connection per dispatcher thread (DISPATCH_THREADS)."""
        return cls(config.get("LINE_API_BASE_URL") or None, config.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
                   pool_maxsize=max(8, int(config.get("DISPATCH_THREADS") or 8)))

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._api_client.close()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending -----------------------------------------------------------------------------
    def push(self, to: str, messages: list[dict | Message], retry_key: str) -> SendResult:
        """Push messages to one user. Reuse `retry_key` (a UUID) for every attempt of one send."""
        request = _build(lambda: PushMessageRequest(to=to, messages=to_sdk_messages(messages)))
        return self._send(
            "push",
            lambda: self._api.push_message_with_http_info(
                request, x_line_retry_key=str(retry_key), _request_timeout=self.timeout, _preload_content=False
            ),
        )

    def push_plain(self, to: str, messages: list[dict], retry_key: str) -> SendResult:
        """Push plain LINE JSON message objects (the outbox's stored form), for the dispatcher.

        The same checks and the same wire as `push`: the SDK's models still check every message
        (`to_sdk_messages`, refusals are permanent), and the request goes through the SDK's
        `ApiClient` (token, urllib3 pool, timeouts, retry policy, `ApiException`s). What is skipped
        is the SDK turning its models back into JSON (`sanitize_for_serialization` of a
        `PushMessageRequest`, about 1 ms of Python a push): the body is the checked dicts themselves
        with the SDK's default `notificationDisabled: false`, which is what that round trip produces
        for the messages the outbox stores (tests/line/test_client.py checks they are the same).
        """
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise LineError("invalid request: messages must be a list of message objects", permanent=True)
        _build(lambda: PushMessageRequest(to=to, messages=to_sdk_messages(messages)))
        headers = {"X-Line-Retry-Key": str(retry_key), "Accept": "application/json",
                   "Content-Type": "application/json"}
        return self._send(
            "push",
            lambda: self._api_client.call_api(
                "/v2/bot/message/push", "POST", {}, [], headers, body={"to": to, "messages": messages, "notificationDisabled": False},
                post_params=[], files={}, response_types_map={}, auth_settings=["Bearer"],
                _preload_content=False, _request_timeout=self.timeout, _host=self._api.line_base_path,
            ),
        )

    def multicast(
        self, to: list[str], messages: list[dict | Message], retry_key: str
    ) -> SendResult:
        """Send the same messages to at most 500 users."""
        recipients = list(to)
        if not recipients:
            raise LineError("multicast needs at least one recipient", permanent=True)
        if len(recipients) > MAX_MULTICAST_RECIPIENTS:
            raise LineError(
                f"multicast to {len(recipients)} recipients; the limit is "
                f"{MAX_MULTICAST_RECIPIENTS}",
                permanent=True,
            )
        request = _build(
            lambda: MulticastRequest(to=recipients, messages=to_sdk_messages(messages))
        )
        return self._send(
            "multicast",
            lambda: self._api.multicast_with_http_info(
                request, x_line_retry_key=str(retry_key), _request_timeout=self.timeout, _preload_content=False
            ),
        )

    def reply(self, reply_token: str, messages: list[dict | Message]) -> SendResult:
        """Reply to a webhook event. Tokens are single-use and expire fast; no retry key exists."""
        request = _build(
            lambda: ReplyMessageRequest(replyToken=reply_token, messages=to_sdk_messages(messages))
        )
        return self._send(
            "reply",
            lambda: self._api.reply_message_with_http_info(
                request, _request_timeout=self.timeout, _preload_content=False
            ),
        )

    def validate_push(self, messages: list[dict | Message]) -> None:
        """Ask LINE whether a payload is valid (free; nothing is sent). Raises LineError."""
        request = _build(lambda: ValidateMessageRequest(messages=to_sdk_messages(messages)))
        self._send(
            "validate_push",
            lambda: self._api.validate_push_with_http_info(
                request, _request_timeout=self.timeout, _preload_content=False
            ),
        )

    def get_profile(self, user_id: str) -> dict:
        """Display name etc. LINE answers 404 for users who blocked the account or never followed."""
        response = self._call(
            "get_profile",
            lambda: self._api.get_profile_with_http_info(
                user_id, _request_timeout=self.timeout, _preload_content=False
            ),
        )
        profile = _json_or_none(response.raw_data)
        if not isinstance(profile, dict):
            logger.warning("LINE get_profile: %s with a body that is not a JSON object", response.status_code,
                           extra={"line_status": response.status_code,
                                  "line_request_id": _header(response.headers, "x-line-request-id")})
            raise LineError("LINE answered a profile that is not a JSON object", permanent=False,
                            status=response.status_code)
        return profile

    # -- LINE Login / LIFF -------------------------------------------------------------------
    def verify_id_token(self, id_token: str, channel_id: str) -> dict:
        """Verify a LIFF ID token with LINE and return its claims (`sub` is the user id).

        LINE checks the signature, `aud` and `exp`; we check `aud` and `exp` again so a
        misconfigured endpoint cannot make us trust a token meant for another channel.
        Raises LineError: permanent for a bad token, temporary when LINE cannot be reached.
        """
        url = f"{self.base_url or LINE_API_BASE_URL}/oauth2/v2.1/verify"
        try:
            response = requests.post(
                url,
                data={"id_token": id_token, "client_id": channel_id},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            logger.warning("LINE id-token verify: no answer (%s)", type(exc).__name__)
            raise LineError(f"no answer from LINE: {type(exc).__name__}", permanent=False) from exc

        if response.status_code != 200:
            body = _json_or_none(response.content) or {}
            reason = body.get("error_description") or body.get("error") or response.reason
            logger.info("LINE id-token verify answered %s", response.status_code,
                        extra={"line_status": response.status_code})
            raise LineError(
                str(reason),
                permanent=response.status_code < 500 and response.status_code != 429,
                status=response.status_code,
            )
        claims = _json_or_none(response.content)
        if not isinstance(claims, dict):
            raise LineError("LINE id-token verify answered no JSON object", permanent=False,
                            status=200)
        if str(claims.get("aud")) != str(channel_id):
            raise LineError("ID token audience does not match the channel", permanent=True,
                            status=200)
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= clock.timestamp():
            raise LineError("ID token expired", permanent=True, status=200)
        if not claims.get("sub"):
            raise LineError("ID token has no subject", permanent=True, status=200)
        return claims

    # -- internals ---------------------------------------------------------------------------
    def _send(self, operation: str, call) -> SendResult:
        try:
            response = self._call(operation, call, accept_409=True)
        except _Accepted409 as accepted:
            logger.info(
                "LINE %s: retry key already accepted (409)", operation,
                extra={"line_status": 409, "line_request_id": accepted.request_id,
                       "line_accepted_request_id": accepted.accepted_request_id},
            )
            return SendResult(
                status=409,
                request_id=accepted.request_id,
                accepted_request_id=accepted.accepted_request_id,
                sent_messages=accepted.sent_messages,
            )
        headers = response.headers or {}
        request_id = _header(headers, "x-line-request-id")
        # A 2xx means LINE accepted the send, whatever its body says: the body is read here, never
        # by the SDK, whose models would raise on a body that breaks the documented shape (e.g.
        # `sentMessages: []`) and turn an accepted send into an error someone would retry.
        sent = _sent_messages(response.raw_data)
        if not sent and operation in ("push", "reply"):
            logger.warning(
                "LINE %s: accepted (%s) but the answer lists no sent messages", operation,
                response.status_code,
                extra={"line_status": response.status_code, "line_request_id": request_id},
            )
        logger.debug("LINE %s: %s", operation, response.status_code,
                     extra={"line_status": response.status_code, "line_request_id": request_id})
        return SendResult(status=response.status_code, request_id=request_id, sent_messages=sent)

    def _call(self, operation: str, call, accept_409: bool = False):
        try:
            return call()
        except ApiException as exc:
            raise self._classify_api_exception(operation, exc, accept_409) from exc
        except UnicodeDecodeError as exc:
            # The SDK decodes an error body as UTF-8 while handling the ApiException; a body in
            # another encoding (a proxy's error page) raises from there. The status is still known.
            api_error = exc.__context__
            if not isinstance(api_error, ApiException):
                raise
            api_error.body = None
            raise self._classify_api_exception(operation, api_error, accept_409) from exc
        except urllib3.exceptions.HTTPError as exc:
            # Timeouts and connection failures surface as raw urllib3 errors.
            logger.warning("LINE %s: no answer (%s)", operation, type(exc).__name__,
                           extra={"line_error": type(exc).__name__})
            raise LineError(f"no answer from LINE: {type(exc).__name__}", permanent=False) from exc
        except OSError as exc:
            logger.warning("LINE %s: network error (%s)", operation, type(exc).__name__)
            raise LineError(f"network error: {type(exc).__name__}", permanent=False) from exc

    def _classify_api_exception(self, operation: str, exc: ApiException, accept_409: bool):
        status = exc.status or None
        headers = exc.headers or {}
        request_id = _header(headers, "x-line-request-id")
        body = _json_or_none(exc.body) or {}
        if accept_409 and status == 409:
            sent = body.get("sentMessages") if isinstance(body, dict) else None
            return _Accepted409(
                request_id=request_id,
                accepted_request_id=_header(headers, "x-line-accepted-request-id"),
                sent_messages=sent if isinstance(sent, list) else [],
            )
        reason = _reason(body, exc)
        quota = status == 429 and MONTHLY_LIMIT_MESSAGE.rstrip(".") in reason
        temporary = status is None or status >= 500 or (status == 429 and not quota)
        logger.warning(
            "LINE %s failed: %s", operation, status,
            extra={"line_status": status, "line_request_id": request_id},
        )
        return LineError(
            reason,
            permanent=not temporary,
            status=status,
            quota_exhausted=quota,
            retry_after=_retry_after(headers),
            request_id=request_id,
        )


class _Accepted409(Exception):
    def __init__(self, request_id, accepted_request_id, sent_messages):
        super().__init__("accepted before")
        self.request_id = request_id
        self.accepted_request_id = accepted_request_id
        self.sent_messages = sent_messages


def to_sdk_messages(messages: Iterable[dict | Message]) -> list[Message]:
    """Plain LINE JSON dicts → SDK models, so the SDK serialises them (Flex included)."""
    out = []
    for message in messages:
        if isinstance(message, Message):
            out.append(message)
        elif isinstance(message, dict):
            out.append(Message.from_dict(message))
        else:
            raise TypeError(f"not a LINE message: {type(message).__name__}")
    return out


def _build(factory):
    """Build an SDK request; the SDK's own checks (≤ 5 messages, unknown types) are permanent."""
    try:
        return factory()
    # The SDK's models raise pydantic errors (ValueError), and KeyError/TypeError for an object
    # without `type` or of the wrong shape; none of them may escape as anything but a LineError.
    except (ValueError, TypeError, LookupError) as exc:
        raise LineError(_refusal(exc)[:500], permanent=True) from exc


def _refusal(exc: Exception) -> str:
    """Why the SDK refused a payload, without its values: some SDK messages quote the whole message
    object (message text included), and this reason is stored and shown to staff."""
    errors = getattr(exc, "errors", None)
    if callable(errors):  # pydantic: field locations and messages, never the input
        try:
            parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors()]
        except Exception:  # an errors() that is not pydantic's
            parts = []
        if parts:
            return "invalid request: " + "; ".join(parts)
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        return f"invalid request: a message object has no {exc.args[0]!r}"
    return f"invalid request: a message object of unknown type or shape ({type(exc).__name__})"


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        value = headers.get(name)
        if value is None:
            # plain dicts are case-sensitive
            for key, val in dict(headers).items():
                if key.lower() == name:
                    return val
        return value
    except AttributeError:
        return None


def _retry_after(headers: Any) -> float | None:
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _sent_messages(raw: bytes | str | None) -> list[dict]:
    """`sentMessages` from a 2xx body, leniently: whatever is not a list of objects counts as none."""
    body = _json_or_none(raw)
    sent = body.get("sentMessages") if isinstance(body, dict) else None
    if not isinstance(sent, list):
        return []
    return [m for m in sent if isinstance(m, dict)]


def _json_or_none(raw: bytes | str | None):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, TypeError):
        return None


def _reason(body: Any, exc: ApiException) -> str:
    if isinstance(body, dict) and body.get("message"):
        reason = str(body["message"])
        details = body.get("details")
        if isinstance(details, list) and details:
            parts = [
                f"{d.get('property')}: {d.get('message')}" if d.get("property") else str(d.get("message"))
                for d in details
                if isinstance(d, dict)
            ]
            reason += " (" + "; ".join(parts) + ")"
        return reason
    return str(exc.reason or f"HTTP {exc.status}")
