"""The residents' consent page opened in LINE (LIFF): link by online application ID, grant or withdraw.

The page states the whole wish (notify, tax); the server turns it into grant/withdraw rows. The
resident is identified only by a LINE ID token verified with LINE, never by anything in the form.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, render_template, request

from notifier import db
from notifier.consent import service as consent
from notifier.line import accounts, messages
from notifier.line.errors import LineError
from notifier.web import public
from notifier.web.webhook import line_client

log = logging.getLogger(__name__)
bp = Blueprint("liff", __name__)

AID_MAX_LENGTH = 64

TAX_WITHDRAWN = ("所得状況の確認（課税台帳の確認）への同意を取り消しました。\n"
                 "お知らせの送付は引き続き行います。止めたいときは、いつでも「配信停止」と送ってください。")
AID_REQUIRED = "オンライン申請IDを入力してください。"
AID_SHAPE = ("オンライン申請IDの形式が正しくありません。"
             "オンライン申請の完了画面やメールに記載のID（例：IZM-XXXX-XXXX）を入力してください。")
NO_TOKEN = "LINEでの本人確認ができませんでした"


@bp.after_request
def _with_liff_csp(response):
    """With a LIFF app id, this page (only) may load LINE's SDK from its origin."""
    liff_id = current_app.config.get("LIFF_ID")
    if liff_id:
        from urllib.parse import urlparse

        from notifier.web import CSP
        sdk = urlparse(current_app.config["LIFF_SDK_URL"])
        origin = f"{sdk.scheme}://{sdk.netloc}"
        response.headers["Content-Security-Policy"] = CSP.replace(
            "script-src 'self'", f"script-src 'self' {origin}").replace(
            "connect-src 'self'", "connect-src 'self' https://api.line.me https://liffsdk.line-scdn.net")
    return response


def _page(form: dict, errors: dict | None = None, status: int = 200, notice: str | None = None):
    s = db.session()
    texts = {scope: consent.current_text(s, scope).text for scope in ("notify", "tax")}
    return render_template("liff/consent.html", texts=texts, form=form, errors=errors or {}, notice=notice,
                           liff_id=current_app.config.get("LIFF_ID", "")), status


def _result(title: str, message: str, status: int = 200, *, error: bool = False):
    return render_template("liff/result.html", title=title, message=message, error=error), status


@bp.route("/consent", methods=["GET"])
@public
def consent_page():
    aid = (request.args.get("aid") or "")[:AID_MAX_LENGTH]
    return _page({"aid": aid, "notify": False, "tax": False, "id_token": ""})


@bp.route("/consent", methods=["POST"])
@public
def consent_submit():
    form = {"aid": (request.form.get("aid") or "").strip()[:AID_MAX_LENGTH],
            "notify": request.form.get("notify") == "1",
            "tax": request.form.get("tax") == "1",
            "id_token": (request.form.get("id_token") or "").strip()}
    errors = {}
    if form["tax"] and not form["notify"]:
        errors["tax"] = messages.TAX_NEEDS_NOTIFY
    if form["aid"] and not accounts.looks_like_application_id(form["aid"]):
        errors["aid"] = AID_SHAPE
    if errors:
        return _page(form, errors, 400)
    if not form["id_token"]:
        return _token_refused()

    try:
        claims = line_client(current_app).verify_id_token(form["id_token"],
                                                          current_app.config["LINE_LOGIN_CHANNEL_ID"])
    except LineError as exc:
        if exc.permanent:
            log.info("LIFF id token refused", extra={"line_status": exc.status})
            return _token_refused()
        log.warning("LIFF id token could not be checked", extra={"line_status": exc.status})
        return _result("ただいま確認ができません",
                       "LINEでの本人確認に時間がかかっています。お手数ですが、しばらく時間をおいてから、"
                       "もう一度このページを開いてください。", 503, error=True)
    user_id = claims["sub"]

    s = db.session()
    account = accounts.find_account(s, user_id)
    if form["aid"]:
        account = account or accounts.get_or_create_account(s, user_id)
        result = accounts.try_link(s, account, form["aid"], channel="LIFF")
        if result != "linked":
            s.commit()  # failed attempts count towards the throttle
            if result == "throttled":
                return _page(form, {"aid": messages.THROTTLED}, 429)
            # unknown and taken get the very same answer: it must not reveal whether an ID exists
            return _page(form, {"aid": messages.ID_NOT_CONFIRMED}, 400)
    elif account is None or not account.atena_no:
        return _page(form, {"aid": AID_REQUIRED}, 400)

    atena = account.atena_no
    state = consent.resident_state(s, atena)
    wanted = {"notify": form["notify"], "tax": form["tax"]}
    grant = [scope for scope in ("notify", "tax") if wanted[scope] and consent.needs_grant(s, atena, scope, state)]
    withdraw = [scope for scope in ("notify", "tax") if not wanted[scope] and state[scope]]
    try:
        consent.record(s, atena, actor="line", grant=grant, withdraw=withdraw, channel="LIFF",
                       line_account_id=account.id)
    except consent.ConsentError as exc:
        s.rollback()
        return _page(form, {"tax": str(exc)}, 400)
    s.commit()

    if wanted["notify"]:
        message = messages.CONSENT_RECORDED_TAX if wanted["tax"] else messages.CONSENT_RECORDED_NOTIFY
        if state["tax"] and not wanted["tax"]:
            message = TAX_WITHDRAWN
        return _result("ご希望を承りました", message)
    if state["notify"]:
        return _result("お知らせの配信を停止しました", messages.WITHDRAWN)
    return _result("承知しました", messages.CONSENT_DECLINED)


def _token_refused():
    return _result(NO_TOKEN,
                   "お手数ですが、LINEアプリのトーク画面にあるリンクから、もう一度このページを開いてください。\n"
                   "ページを開いてから時間が経つと、確認の有効期限が切れることがあります。\n"
                   "ご希望の内容はまだ登録されていません。", 400, error=True)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
