"""Phone-like pages of the simulator: a user list and each user's chat as LINE would show it.

Plain forms do every action (post, then redirect back), so the pages work without JavaScript;
static/phone.js only polls for new messages.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from .api import sim
from .core import SimUserError

bp = Blueprint("line_sim_phone", __name__)

JST = timezone(timedelta(hours=9))
LINKABLE = ("https://", "http://", "tel:", "mailto:")


@bp.app_template_filter("jst_time")
def jst_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, JST).strftime("%H:%M")


@bp.app_template_filter("safe_href")
def safe_href(uri: object) -> str | None:
    """Only schemes a browser can open safely become links (never javascript:)."""
    return uri if isinstance(uri, str) and uri.startswith(LINKABLE) else None


@bp.get("/")
def root():
    return redirect(url_for("line_sim_phone.index"))


@bp.get("/phone/")
def index():
    line = sim()
    return render_template("line_sim/index.html", users=line.state.list_users(), config=line.config,
                           error=request.args.get("error"))


@bp.post("/phone/")
def create_user():
    line = sim()
    name = (request.form.get("display_name") or "").strip()
    if not name:
        return redirect(url_for("line_sim_phone.index", error="表示名を入力してください。"))
    user = line.state.add_user(name)
    if request.form.get("follow"):
        result = line.follow(user.user_id)
        return redirect(url_for("line_sim_phone.phone", user_id=user.user_id, wh=_status(result)))
    return redirect(url_for("line_sim_phone.phone", user_id=user.user_id))


def _user_or_404(user_id: str):
    user = sim().state.user(user_id)
    if user is None:
        abort(404)
    return user


def _chat_context(user_id: str) -> dict:
    line = sim()
    items = line.state.messages_for(user_id, sender=None)
    last = items[-1] if items else None
    quick = None
    if last is not None and last.sender == "bot":
        quick_reply = last.message.get("quickReply")
        if isinstance(quick_reply, dict) and isinstance(quick_reply.get("items"), list):
            quick = [i.get("action") for i in quick_reply["items"] if isinstance(i, dict)]
    return {"items": items, "quick": quick, "last_seq": last.seq if last else 0, "config": line.config}


@bp.get("/phone/<user_id>")
def phone(user_id: str):
    user = _user_or_404(user_id)
    return render_template("line_sim/phone.html", user=user, notice=_notice(), **_chat_context(user_id))


@bp.get("/phone/<user_id>/chat")
def chat_fragment(user_id: str):
    """The chat area only, for polling; 204 while nothing changed since `since`."""
    user = _user_or_404(user_id)
    since = request.args.get("since", type=int)
    context = _chat_context(user_id)
    if since is not None and since == context["last_seq"]:
        return Response(status=204)
    response = Response(render_template("line_sim/_chat.html", user=user, **context))
    response.headers["X-Sim-Seq"] = str(context["last_seq"])
    response.headers["Cache-Control"] = "no-store"
    return response


def _status(result: dict) -> str:
    if result.get("webhook_status") is not None:
        return str(result["webhook_status"])
    return "none" if result.get("error") == "no webhook URL configured" else "error"


def _notice() -> str | None:
    wh = request.args.get("wh")
    err = request.args.get("error")
    if err:
        return err
    if wh is None:
        return None
    if wh == "none":
        return "Webhook URL が未設定のため、イベントは送信されていません。"
    if wh == "error":
        return "Webhook に接続できませんでした。"
    return f"Webhook の応答: HTTP {wh}"


def _act(user_id: str, action):
    _user_or_404(user_id)
    try:
        result = action()
    except SimUserError as exc:
        message = {"unknown user": "ユーザーが見つかりません。"}.get(str(exc), "この操作はできません（友だち追加が必要です）。")
        return redirect(url_for("line_sim_phone.phone", user_id=user_id, error=message))
    return redirect(url_for("line_sim_phone.phone", user_id=user_id, wh=_status(result)))


@bp.post("/phone/<user_id>/send")
def send(user_id: str):
    text = (request.form.get("text") or "").strip()
    if not text:
        return redirect(url_for("line_sim_phone.phone", user_id=user_id, error="メッセージを入力してください。"))
    return _act(user_id, lambda: sim().send_text(user_id, text))


@bp.post("/phone/<user_id>/tap")
def tap(user_id: str):
    """A tap on a button of a bot message or a quick reply."""
    kind = request.form.get("type")
    if kind == "message":
        text = request.form.get("text") or ""
        return _act(user_id, lambda: sim().send_text(user_id, text))
    if kind in ("postback", "datetimepicker"):
        data = request.form.get("data") or ""
        params = None
        if kind == "datetimepicker":
            mode = request.form.get("mode") or "date"
            params = {mode: request.form.get("value") or ""}
        display = request.form.get("display_text") or None
        return _act(user_id, lambda: sim().postback(user_id, data, display, params))
    abort(400)


@bp.post("/phone/<user_id>/follow")
def follow(user_id: str):
    return _act(user_id, lambda: sim().follow(user_id))


@bp.post("/phone/<user_id>/block")
def block(user_id: str):
    return _act(user_id, lambda: sim().block(user_id))


@bp.post("/phone/<user_id>/redeliver")
def redeliver(user_id: str):
    return _act(user_id, lambda: sim().redeliver(user_id))
