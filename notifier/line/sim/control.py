"""The simulator's JSON control API under /_sim/: users and their actions, faults, logs, reset.

Only tests, the demo and the phone pages use it; nothing here exists at LINE.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .api import sim
from .core import LineSim, SimUserError
from .state import FAULT_DEFAULTS
from .validation import USER_ID_RE

bp = Blueprint("line_sim_control", __name__, url_prefix="/_sim")


def _json_body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _bad(message: str, status: int = 400):
    response = jsonify({"error": message})
    response.status_code = status
    return response


@bp.errorhandler(SimUserError)
def _user_error(exc: SimUserError):
    return _bad(str(exc), exc.status)


@bp.get("/health")
def health():
    return jsonify({"ok": True})


@bp.post("/reset")
def reset():
    sim().state.reset()
    return jsonify({"ok": True})


@bp.get("/users")
def list_users():
    return jsonify({"users": [u.to_dict() for u in sim().state.list_users()]})


@bp.post("/users")
def create_user():
    body = _json_body() or request.form.to_dict()
    if isinstance(body.get("users"), list):
        return _create_users(body["users"])
    name = (body.get("display_name") or body.get("displayName") or "").strip()
    if not name:
        return _bad("display_name is required")
    user_id = body.get("user_id") or body.get("userId")
    if user_id and not USER_ID_RE.match(user_id):
        return _bad("user_id must look like U + 32 hex digits")
    line = sim()
    try:
        user = line.state.add_user(name, user_id=user_id, friend=bool(body.get("friend")))
    except ValueError:
        return _bad("user exists", 409)
    out = user.to_dict()
    if body.get("follow"):
        out["follow"] = line.follow(user.user_id)
        out.update(line.require_user(user.user_id).to_dict())
    return jsonify(out), 201


def _create_users(users: list):
    """Many friends at once (`{"users": [{"user_id", "display_name"}, ...]}`, for load tests): each
    is a friend who follows, with the given id; no webhook is sent."""
    state = sim().state
    for i, u in enumerate(users):
        if not isinstance(u, dict) or not USER_ID_RE.match(str(u.get("user_id") or "")):
            return _bad(f"users[{i}].user_id must look like U + 32 hex digits")
    created = 0
    with state.lock:
        for u in users:
            try:
                state.add_user(str(u.get("display_name") or "利用者"), user_id=u["user_id"], friend=True)
                created += 1
            except ValueError:
                pass
    return jsonify({"created": created}), 201


@bp.get("/users/<user_id>")
def get_user(user_id: str):
    return jsonify(sim().require_user(user_id).to_dict())


@bp.get("/users/<user_id>/messages")
def user_messages(user_id: str):
    line = sim()
    line.require_user(user_id)
    after = request.args.get("after", default=0, type=int)
    sender = request.args.get("sender", default="bot")
    items = line.state.messages_for(user_id, after=after, sender=None if sender == "all" else sender)
    return jsonify({"messages": [i.to_dict() for i in items], "last_seq": line.state.last_seq(user_id)})


@bp.post("/users/<user_id>/follow")
def follow(user_id: str):
    return jsonify(sim().follow(user_id))


@bp.post("/users/<user_id>/block")
def block(user_id: str):
    webhook = _json_body().get("webhook", True) is not False
    return jsonify(sim().block(user_id, webhook=webhook))


@bp.post("/users/<user_id>/text")
def text(user_id: str):
    return jsonify(sim().send_text(user_id, str(_json_body().get("text") or "")))


@bp.post("/users/<user_id>/postback")
def postback(user_id: str):
    body = _json_body()
    data = body.get("data")
    if not isinstance(data, str) or not data:
        return _bad("data is required")
    params = body.get("params") if isinstance(body.get("params"), dict) else None
    return jsonify(sim().postback(user_id, data, body.get("displayText") or body.get("display_text"), params))


@bp.post("/users/<user_id>/redeliver")
def redeliver(user_id: str):
    return jsonify(sim().redeliver(user_id))


@bp.get("/users/<user_id>/id_token")
def id_token(user_id: str):
    expires_in = request.args.get("expires_in", default=3600, type=int)
    token, claims = sim().issue_id_token(user_id, aud=request.args.get("aud"), expires_in=expires_in)
    return jsonify({"id_token": token, "claims": claims})


@bp.route("/faults", methods=["GET", "POST"])
def faults():
    state = sim().state
    if request.method == "POST":
        body = _json_body()
        if body.get("reset"):
            body = {k: v for k, v in body.items() if k != "reset"}
            state.set_faults(**FAULT_DEFAULTS)
        try:
            return jsonify(state.set_faults(**body))
        except KeyError as exc:
            return _bad(f"unknown fault(s): {exc.args[0]}; known: {', '.join(FAULT_DEFAULTS)}")
    return jsonify(dict(state.faults))


@bp.route("/config", methods=["GET", "POST"])
def config():
    line: LineSim = sim()
    if request.method == "POST":
        body = _json_body()
        retry_after = body.get("rate_limit_retry_after")
        if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, int)
                                        or retry_after < 0):
            return _bad("rate_limit_retry_after must be a whole number of seconds (≥ 0) or null")
        with line.state.lock:
            if "rate_limit_retry_after" in body:
                # Not LINE's behaviour (it documents no Retry-After): off unless a test asks for it.
                line.state.rate_limit_retry_after = retry_after
            if "webhook_url" in body:
                line.config.webhook_url = body["webhook_url"] or None
            if "rate_limit_per_second" in body:
                value = body["rate_limit_per_second"]
                line.state.rate_limit_per_second = float(value) if value else None
                line.state.rate_windows.clear()
            if "reply_token_ttl" in body:
                line.state.reply_token_ttl = float(body["reply_token_ttl"])
            if "advance_seconds" in body:
                line.state.clock_offset += float(body["advance_seconds"])
    return jsonify({
        "webhook_url": line.config.webhook_url,
        "rate_limit_per_second": line.state.rate_limit_per_second,
        "rate_limit_retry_after": line.state.rate_limit_retry_after,
        "reply_token_ttl": line.state.reply_token_ttl,
        "clock_offset": line.state.clock_offset,
        "login_channel_id": line.config.login_channel_id,
        "bot_user_id": line.config.bot_user_id,
        "bot_display_name": line.config.bot_display_name,
    })


@bp.get("/requests")
def requests_log():
    state = sim().state
    path = request.args.get("path")
    status = request.args.get("status", type=int)
    with state.lock:
        entries = [e for e in state.requests
                   if (path is None or e["path"] == path) and (status is None or e["status"] == status)]
        count = state.count_requests(path, status)
    return jsonify({"count": count, "requests": entries[-1000:]})


@bp.get("/webhooks")
def webhooks_log():
    state = sim().state
    with state.lock:
        return jsonify({"webhooks": list(state.webhooks)})
