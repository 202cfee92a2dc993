"""The staff web app shell: sign-in enforcement, role checks, security headers, shared helpers."""
from __future__ import annotations

from functools import wraps
from pathlib import Path

from flask import Flask, abort, g, redirect, request, url_for
from flask import session as http_session
from sqlalchemy import select

from notifier import audit, db
from notifier.models import StaffUser

STATIC_DIR = Path(__file__).parent / "static"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; object-src 'none'")


def public(view):
    """Mark a view as reachable without a staff session (sign-in, health check, LINE webhook)."""
    view.is_public = True
    return view


def current_actor() -> audit.Actor:
    """Who a request acts as, for the audit trail: the signed-in user and the client address."""
    user = g.get("user")
    if user is None:
        return audit.Actor(label="anonymous", ip=request.remote_addr)
    return audit.Actor.staff(user, request.remote_addr)


def require_roles(*roles: str):
    """Allow the listed roles (admin always passes); others get 403 and an audit row."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = g.get("user")
            if user is None or not user.has_role(*roles):
                audit.record(db.session(), "access_denied", actor=current_actor(), detail={"path": request.path})
                db.session().commit()
                abort(403)
            return view(*args, **kwargs)
        wrapped.required_roles = roles
        return wrapped
    return decorator


def _load_user() -> None:
    g.user = None
    user_id = http_session.get("user_id")
    if user_id and http_session.get("stage") == "done":
        user = db.session().scalar(select(StaffUser).where(StaffUser.id == user_id))
        if user is not None and user.active and http_session.get("pw") == user.password_hash[-16:]:
            g.user = user


def _enforce_sign_in():
    if request.endpoint is None:
        return None
    view = _view_function()
    if request.endpoint == "static" or getattr(view, "is_public", False):
        return None
    if g.user is None:
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
    return None


def _view_function():
    from flask import current_app
    return current_app.view_functions.get(request.endpoint)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint != "static":
        # Staff pages carry personal data: never keep them in a shared cache or the back-button cache.
        response.headers["Cache-Control"] = "no-store"
    return response


# Main navigation: (endpoint, Japanese label, roles allowed; empty = every signed-in user).
# Pages of later parts add themselves here; entries whose endpoint is not registered are skipped.
NAV = [
    ("main.dashboard", "ダッシュボード", ()),
    ("data.imports", "データ取込", ("coordinator",)),
    ("data.review_queue", "名寄せの確認", ("coordinator",)),
    ("consents.index", "同意の管理", ("coordinator",)),
    ("rules.index", "ルール", ("rule_author", "rule_approver")),
    ("rules.approvals", "承認待ち", ("rule_approver",)),
    ("ops.index", "運用状況", ("coordinator",)),
    ("audit.index", "操作履歴", ("auditor",)),
]


def nav_items(user):
    from flask import current_app
    return [(e, label, roles) for e, label, roles in NAV
            if e in current_app.view_functions and (not roles or user.has_role(*roles))]


def _error_page(code: int):
    from flask import render_template

    def handler(exc):
        if request.path.startswith("/line/") or request.accept_mimetypes.best == "application/json":
            return {"error": code}, code
        reason = getattr(exc, "description", None) if code == 400 else None
        if code == 400 and "CSRF" in str(reason or ""):
            reason = "画面の有効期限が切れたか、正しくない送信です（CSRFトークンの確認に失敗しました）。ページを再読み込みしてからもう一度お試しください。"
        return render_template(f"errors/{code}.html", reason=reason), code
    return handler


def init_app(app: Flask) -> None:
    app.static_folder = str(STATIC_DIR)
    app.before_request(_load_user)
    app.before_request(_enforce_sign_in)
    app.after_request(_security_headers)

    @app.context_processor
    def _inject():
        from notifier.contract import ROLE_LABELS
        return {"current_user": g.get("user"), "role_labels": ROLE_LABELS, "nav_items": nav_items}

    for code in (400, 403, 404):
        app.register_error_handler(code, _error_page(code))

    from notifier.web import (
        audit_views,
        auth_views,
        consent_views,
        data_views,
        liff_views,
        main_views,
        ops_views,
        rules_views,
        webhook,
    )
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(main_views.bp)
    app.register_blueprint(audit_views.bp)
    app.register_blueprint(consent_views.bp)
    app.register_blueprint(data_views.bp)
    app.register_blueprint(rules_views.bp)
    app.register_blueprint(ops_views.bp)
    webhook.init_app(app)
    liff_views.init_app(app)
