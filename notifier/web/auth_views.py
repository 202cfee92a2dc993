"""Sign-in pages: password, then TOTP (enrolment on first sign-in), and sign-out.

The session lives on the server (web/sessions.py): the enrolment secret and the sign-in stage never
reach the browser, and each step of the sign-in gives the session a new id.
"""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from notifier import audit, db
from notifier.auth import service, totp
from notifier.models import StaffUser
from notifier.web import current_actor, public

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = "ユーザー名またはパスワードが正しくないか、アカウントがロックされています。"
WRONG_CODE = "確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください。"
WRONG_ENROL_CODE = "確認コードが正しくありません。QRコードを読み取った認証アプリの6桁の数字を入力してください。"
REUSED_CODE = ("この確認コードはすでに使われました。認証アプリに次のコードが表示されるまで（最長30秒）待ってから、"
               "新しいコードを入力してください。")
OVERTAKEN = ("別の画面でこのアカウントのサインインが完了したため、この画面のサインインは無効になりました。"
             "お手数ですが、ユーザー名とパスワードからもう一度入力してください。")
# Form fields longer than these are not a username or a password anyone types.
USERNAME_MAX = 64
PASSWORD_MAX = 1024


def _limits() -> dict:
    return {"max_failures": current_app.config["LOGIN_MAX_FAILURES"],
            "lock_minutes": current_app.config["LOGIN_LOCK_MINUTES"]}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and not urlparse(target).netloc:
        return target
    return url_for("main.dashboard")


def _pending_user() -> StaffUser | None:
    user_id = session.get("user_id")
    if not isinstance(user_id, int) or session.get("stage") not in ("totp", "enrol"):
        return None
    return service.dao_get_user(db.session(), user_id)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")[:USERNAME_MAX]
        password = request.form.get("password", "")[:PASSWORD_MAX]
        result = service.check_password(db.engine(), username, password, ip=request.remote_addr, **_limits())
        if result.user_id is None:
            error = GENERIC_FAILURE
        else:
            session.clear()
            session.regenerate()
            session["user_id"] = result.user_id
            session["stage"] = "totp" if result.enrolled else "enrol"
            session["next"] = _safe_next(request.args.get("next"))
            session["totp_step"] = result.totp_step
            if not result.enrolled:
                session["enrol_secret"] = totp.new_secret()      # kept on the server, never in the cookie
                return redirect(url_for("auth.enrol"))
            return redirect(url_for("auth.second_factor"))
    return render_template("auth/login.html", error=error), (401 if error else 200)


def _check_code(user: StaffUser, secret: str | None, wrong: str):
    """POST of a second-factor form: a redirect when signed in or locked out, else the error to show."""
    since = session.get("totp_step")
    outcome = service.check_totp(db.engine(), user.id, request.form.get("code", "")[:64], secret=secret,
                                 since_step=since if isinstance(since, int) else None, ip=request.remote_addr,
                                 **_limits())
    if outcome == service.SIGNED_IN:
        return _finish(user), None
    if outcome in (service.LOCKED, service.STALE):
        session.clear()
        session.regenerate()
        flash(GENERIC_FAILURE if outcome == service.LOCKED else OVERTAKEN, "error")
        return redirect(url_for("auth.login")), None
    return None, REUSED_CODE if outcome == service.REUSED else wrong


@bp.route("/login/totp", methods=["GET", "POST"])
@public
def second_factor():
    user = _pending_user()
    if user is None or session.get("stage") != "totp":
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        done, error = _check_code(user, None, WRONG_CODE)
        if done is not None:
            return done
    return render_template("auth/totp.html", error=error), (401 if error else 200)


@bp.route("/login/enrol", methods=["GET", "POST"])
@public
def enrol():
    user = _pending_user()
    secret = session.get("enrol_secret")
    if user is None or session.get("stage") != "enrol" or not secret:
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        done, error = _check_code(user, secret, WRONG_ENROL_CODE)
        if done is not None:
            return done
    uri = totp.provisioning_uri(secret, user.username)
    return render_template("auth/enrol.html", error=error, secret=secret, qr=totp.qr_data_uri(uri)), \
        (401 if error else 200)


def _finish(user: StaffUser):
    target = session.get("next") or url_for("main.dashboard")
    session.clear()
    session.regenerate()        # the signed-in session gets an id never seen before the second factor
    session["user_id"] = user.id
    session["stage"] = "done"
    return redirect(target)


@bp.route("/logout", methods=["POST"])
def logout():
    s = db.session()
    audit.record(s, "sign_out", actor=current_actor())
    s.commit()
    session.clear()
    session.regenerate()        # the old id ends here: a copy of the cookie opens nothing afterwards
    flash("サインアウトしました。", "info")
    return redirect(url_for("auth.login"))
