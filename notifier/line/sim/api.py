"""The parts of LINE's HTTP API the service uses, as the simulator answers them.

Messaging API (push, multicast, reply, validate, profile) and LINE Login's ID-token verify,
with LINE's status codes, error bodies, retry-key rules and the injected faults.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, jsonify, request

from .core import LineSim
from .signing import decode_id_token
from .validation import USER_ID_RE, error_body, is_uuid, validate_request

bp = Blueprint("line_sim_api", __name__)

MONTHLY_LIMIT = "You have reached your monthly limit."
AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."


def sim() -> LineSim:
    return current_app.extensions["line_sim"]


def error(status: int, message: str, details: list | None = None, **headers: str) -> Response:
    body: dict = {"message": message}
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def _auth_error() -> Response | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return error(401, "Authorization header required. Must follow the scheme, "
                          "'Authorization: Bearer <ACCESS TOKEN>'")
    if header[len("Bearer "):] != sim().config.access_token:
        return error(401, AUTH_FAILED)
    return None


@bp.post("/v2/bot/message/push")
def push():
    return _message_endpoint("push")


@bp.post("/v2/bot/message/multicast")
def multicast():
    return _message_endpoint("multicast")


@bp.post("/v2/bot/message/reply")
def reply():
    return _message_endpoint("reply")


def _message_endpoint(kind: str) -> Response:
    state = sim().state
    delay = float(state.faults.get("delay") or 0.0)
    # delay_rate: only that share of requests is slow (0 with a delay set: every request is)
    if delay > 0 and float(state.faults.get("delay_rate") or 0.0) > 0 and not state.roll("delay_rate"):
        delay = 0.0
    response = _send(kind)
    # After accepting: LINE may have delivered even though the client times out waiting.
    if delay > 0:
        time.sleep(delay)
    if getattr(g, "fail_after_accept", False):
        return error(500, "An error occurred in the server. Please try again later.")
    return response


def _send(kind: str) -> Response:
    line = sim()
    state = line.state
    if (denied := _auth_error()) is not None:
        return denied
    retry_key = request.headers.get("X-Line-Retry-Key")
    g.retry_key = retry_key
    if retry_key is not None:
        if kind == "reply":
            return error(400, "The X-Line-Retry-Key header is not supported by this API")
        if not is_uuid(retry_key):
            return error(400, "The value of the X-Line-Retry-Key header is invalid. Specify a UUID")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "The request body could not be parsed as JSON")

    with state.lock:
        if retry_key:
            prior = state.accepted(retry_key)
            if prior is not None:
                g.accepted_request_id = prior.request_id
                response = jsonify({"message": "The retry key is already accepted",
                                    "sentMessages": prior.sent_messages})
                response.status_code = 409
                response.headers["X-Line-Accepted-Request-Id"] = prior.request_id
                return response
        if not state.rate_ok(request.path):
            return _rate_limited(state.rate_limit_retry_after)

        messages = body.get("messages")
        # LINE's schema and documented limits: the same answer LINE gives, a 400 naming each property.
        details = validate_request(request.path, body)
        if kind == "push":
            recipients = [body["to"]] if isinstance(body.get("to"), str) else []
        elif kind == "multicast":
            recipients = body["to"] if isinstance(body.get("to"), list) else []
        else:
            recipients = []
        if details:
            return error(400, error_body(details)["message"], details)

        if kind in ("push", "multicast") and not state.quota_left(len(recipients)):
            return error(429, MONTHLY_LIMIT)
        if kind == "push":
            if not USER_ID_RE.match(recipients[0]):
                return error(400, "The property, 'to', in the request body is invalid (line: -, column: -)")
            if state.user(recipients[0]) is None:
                return error(400, "Failed to send messages")
        if state.roll("error_rate"):
            return error(500, "An error occurred in the server. Please try again later.")
        if kind == "reply":
            user_id = state.use_reply_token(body["replyToken"])
            if user_id is None:
                return error(400, "Invalid reply token")
            recipients = [user_id]

        sent, reached = line.deliver_messages(recipients, messages, kind, g.request_id, retry_key)
        if retry_key:
            state.accept(retry_key, g.request_id, sent)
        if kind != "reply":
            state.month_usage += reached
        g.delivered = reached
        g.fail_after_accept = state.roll("error_after_accept_rate")

    return jsonify({} if kind == "multicast" else {"sentMessages": sent})


def _rate_limited(retry_after: int | None) -> Response:
    """LINE's answer to a request over the rate limit.

    LINE documents no Retry-After header here: neither the Messaging API reference (rate limits,
    error responses, "Handle HTTP status code 429 errors") nor line-openapi's messaging-api.yml,
    whose 429 responses declare only an ErrorResponse body. So by default none is sent, and a client
    must not rely on one; a test can ask for it (`/_sim/config` `rate_limit_retry_after`) to check
    that a client which honours the header waits as long as it says.
    """
    if retry_after is None:
        return error(429, "Too Many Requests")
    return error(429, "Too Many Requests", Retry_After=str(retry_after))


@bp.post("/v2/bot/message/validate/<kind>")
def validate(kind: str):
    if kind not in ("push", "multicast", "reply", "broadcast", "narrowcast"):
        return error(404, "Not found")
    if (denied := _auth_error()) is not None:
        return denied
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "The request body could not be parsed as JSON")
    details = validate_request(request.path, body)
    if details:
        return error(400, error_body(details)["message"], details)
    return jsonify({})


@bp.get("/v2/bot/profile/<user_id>")
def profile(user_id: str):
    if (denied := _auth_error()) is not None:
        return denied
    user = sim().state.user(user_id)
    if user is None or not user.reachable:
        return error(404, "Not found")
    return jsonify({"userId": user.user_id, "displayName": user.display_name, "language": user.language})


@bp.get("/v2/bot/info")
def bot_info():
    if (denied := _auth_error()) is not None:
        return denied
    config = sim().config
    return jsonify({"userId": config.bot_user_id, "basicId": "@000sim", "displayName": config.bot_display_name,
                    "chatMode": "bot", "markAsReadMode": "auto"})


@bp.route("/v2/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
def not_simulated(rest: str):
    return error(404, "Not found")


@bp.post("/oauth2/v2.1/verify")
def verify_id_token():
    line = sim()
    id_token = request.form.get("id_token")
    client_id = request.form.get("client_id")

    def invalid(description: str) -> Response:
        response = jsonify({"error": "invalid_request", "error_description": description})
        response.status_code = 400
        return response

    if not id_token:
        return invalid("id_token is required.")
    if not client_id:
        return invalid("client_id is required.")
    claims = decode_id_token(line.config.id_token_key, id_token)
    if claims is None:
        return invalid("Invalid IdToken.")
    if int(claims.get("exp", 0)) <= line.state.now():
        return invalid("IdToken expired.")
    if str(claims.get("aud")) != client_id:
        return invalid("Invalid IdToken Audience.")
    return jsonify(claims)
