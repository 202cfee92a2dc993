"""Sign-in pages: password, then TOTP (enrolment on first sign-in), and sign-out."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select

from notifier import audit, db
from notifier.auth import service, totp
from notifier.models import StaffUser
from notifier.web import current_actor, public

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = "ユーザー名またはパスワードが正しくないか、アカウントがロックされています。"


def _limits() -> dict:
    return {"max_failures": current_app.config["LOGIN_MAX_FAILURES"],
            "lock_minutes": current_app.config["LOGIN_LOCK_MINUTES"]}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlparse(target).netloc:
        return target
    return url_for("main.dashboard")


def _pending_user() -> StaffUser | None:
    user_id = session.get("user_id")
    if not user_id or session.get("stage") not in ("totp", "enrol"):
        return None
    return db.session().scalar(select(StaffUser).where(StaffUser.id == user_id))


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    error = None
    if request.method == "POST":
        s = db.session()
        user = service.check_password(s, request.form.get("username", ""), request.form.get("password", ""),
                                      ip=request.remote_addr, **_limits())
        s.commit()
        if user is None:
            error = GENERIC_FAILURE
        else:
            session.clear()
            session["user_id"] = user.id
            session["stage"] = "totp" if user.totp_enrolled_at else "enrol"
            session["next"] = _safe_next(request.args.get("next"))
            if session["stage"] == "enrol":
                session["enrol_secret"] = totp.new_secret()
                return redirect(url_for("auth.enrol"))
            return redirect(url_for("auth.second_factor"))
    return render_template("auth/login.html", error=error), (401 if error else 200)


def _check_code(user: StaffUser, secret: str | None):
    """POST of a second-factor form: a redirect when signed in or locked out, else None (wrong code)."""
    s = db.session()
    ok = service.check_totp(s, user, request.form.get("code", ""), secret=secret, ip=request.remote_addr,
                            **_limits())
    s.commit()
    if ok:
        return _finish(user)
    if service.is_locked(user):
        session.clear()
        flash(GENERIC_FAILURE, "error")
        return redirect(url_for("auth.login"))
    return None


@bp.route("/login/totp", methods=["GET", "POST"])
@public
def second_factor():
    user = _pending_user()
    if user is None or session.get("stage") != "totp":
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        done = _check_code(user, None)
        if done is not None:
            return done
        error = "確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください。"
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
        done = _check_code(user, secret)
        if done is not None:
            return done
        error = "確認コードが正しくありません。QRコードを読み取った認証アプリの6桁の数字を入力してください。"
    uri = totp.provisioning_uri(secret, user.username)
    return render_template("auth/enrol.html", error=error, secret=secret, qr=totp.qr_data_uri(uri)), \
        (401 if error else 200)


def _finish(user: StaffUser):
    target = session.get("next") or url_for("main.dashboard")
    session.clear()
    session.permanent = True
    session["user_id"] = user.id
    session["stage"] = "done"
    # Changing the password ends every existing session (the cookie carries a hash fragment).
    session["pw"] = user.password_hash[-16:]
    return redirect(target)


@bp.route("/logout", methods=["POST"])
def logout():
    s = db.session()
    audit.record(s, "sign_out", actor=current_actor())
    s.commit()
    session.clear()
    flash("サインアウトしました。", "info")
    return redirect(url_for("auth.login"))
