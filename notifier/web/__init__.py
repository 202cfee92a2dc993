"""The staff web app shell: sign-in enforcement, role checks, security headers, error pages, shared helpers."""
from __future__ import annotations

import logging
from functools import wraps
from pathlib import Path

from flask import Flask, abort, g, redirect, request, url_for
from flask import session as http_session
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

from notifier import audit, db
from notifier.auth import service as accounts

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; object-src 'none'")

# The largest id our id columns hold (Integer: PostgreSQL int4, the narrower of the two databases): a
# larger id in a URL is a page that cannot exist (404), not a number to hand to the driver.
ID_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:…>` in routes: digits up to ID_MAX; anything larger matches no page."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min, ID_MAX if max is None else max, signed)


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


def _refuse_nul() -> None:
    """No URL or form a person sends holds a NUL character, and PostgreSQL cannot compare or store one:
    refuse it at the door (400) instead of letting a query fail on it."""
    values = [request.path, *request.args.keys(), *request.args.values()]
    if request.method == "POST" and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += [*request.form.keys(), *request.form.values()]
    if any("\x00" in v for v in values):
        abort(400)


def _load_user() -> None:
    g.user = None
    user_id = http_session.get("user_id")
    if isinstance(user_id, int) and http_session.get("stage") == "done":
        user = accounts.dao_get_user(db.session(), user_id)
        if user is not None and user.active:
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
    from flask import current_app
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    max_age = current_app.config.get("HSTS_MAX_AGE", 0)
    if current_app.config["ENV"] == "production" and max_age and request.is_secure:
        # Only over HTTPS (behind the TLS proxy, with PROXY_COUNT set so the app sees it): a browser
        # ignores the header on plain HTTP, and a local trial over http must stay reachable.
        response.headers["Strict-Transport-Security"] = f"max-age={max_age}"
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
    ("households.search", "世帯の検索", ("coordinator",)),
    ("rules.index", "ルール", ("rule_author", "rule_approver")),
    ("rules.approvals", "承認待ち", ("rule_approver",)),
    ("messages.templates_index", "お知らせ文面", ("rule_author", "rule_approver")),
    ("outreach.index", "見守りケース", ("coordinator", "caseworker")),
    ("sending.index", "お知らせの送信", ("coordinator", "auditor")),
    ("ops.index", "運用状況", ("coordinator",)),
    ("audit.index", "操作履歴", ("auditor",)),
]


def nav_items(user):
    from flask import current_app
    return [(e, label, roles) for e, label, roles in NAV
            if e in current_app.view_functions and (not roles or user.has_role(*roles))]


# --- error pages: Japanese for every status, never Werkzeug's English page ---------------------------
ERROR_TEXTS = {
    400: ("送信内容を受け付けられませんでした",
          "入力された値の形式が正しくないか、扱える範囲の外です。前の画面に戻り、内容を確かめてからもう一度お試しください。"),
    403: ("この画面を表示する権限がありません", "必要な場合は、システム管理者に権限の追加を依頼してください。"),
    404: ("ページが見つかりません", "アドレスが正しいかご確認ください。"),
    405: ("この操作はできません", "このアドレスは、この方法では使えません。画面のボタンやリンクから操作してください。"),
    413: ("送信された内容が大きすぎます", "一度に送れる量を超えています。内容を減らしてからもう一度お試しください。"),
    429: ("しばらくお待ちください", "短い時間に多くの操作がありました。少し時間をおいてからもう一度お試しください。"),
    500: ("システムの内部でエラーが起きました",
          "ご不便をおかけしています。操作は完了していない可能性があります。時間をおいてもう一度お試しいただき、"
          "解決しない場合はシステム管理者に日時と操作をお知らせください。"),
}
CSRF_REASON = ("画面の有効期限が切れたか、正しくない送信です（CSRFトークンの確認に失敗しました）。"
               "ページを再読み込みしてからもう一度お試しください。")
# The last resort when even the error page cannot be rendered (a broken template or database).
PLAIN_500 = ('<!doctype html><html lang="ja"><meta charset="utf-8"><title>エラー｜プッシュ型支援 職員用</title>'
             '<h1>システムの内部でエラーが起きました</h1><p>時間をおいてもう一度お試しください。</p></html>')


def _wants_json() -> bool:
    return request.path.startswith("/line/") or request.accept_mimetypes.best == "application/json"


def _render_error(code: int, reason: str | None = None):
    from flask import render_template
    if _wants_json():
        return {"error": code}, code
    title, text = ERROR_TEXTS.get(code, ERROR_TEXTS[400 if code < 500 else 500])
    template = f"errors/{code}.html" if code in (400, 403, 404) else "errors/error.html"
    return render_template(template, code=code, title=title, text=text, reason=reason), code


def _http_error(exc: HTTPException):
    code = exc.code or 500
    if code == 500:
        return _internal_error(exc)
    reason = None
    if code == 400 and "CSRF" in str(exc.description or ""):
        reason = CSRF_REASON
    elif code == 400 and getattr(exc, "japanese", None):
        reason = exc.japanese
    response = _render_error(code, reason)
    if code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response = (*response, {"Allow": ", ".join(exc.valid_methods)})
    return response


def _internal_error(exc):
    """Unhandled errors: the traceback goes to the log (Flask logged it), the person gets a Japanese page."""
    from flask import current_app
    try:
        db.session().rollback()
        return _render_error(500)
    except Exception:  # noqa: BLE001 - the error page must not fail in turn
        current_app.logger.exception("error page failed")
        return PLAIN_500, 500, {"Content-Type": "text/html; charset=utf-8"}


def _odd_input(exc: Exception):
    """Input no check caught reached a number or date conversion (OverflowError, the database refusing
    a value): the request was wrong, not the server. Each view should refuse such input itself; this
    net keeps a missed one at 400, and the log says where to add the check."""
    log.warning("odd input reached the safety net at %s (%s)", request.endpoint, type(exc).__name__,
                extra={"endpoint": request.endpoint, "error": type(exc).__name__})
    try:
        db.session().rollback()
    except Exception:  # noqa: BLE001
        pass
    return _render_error(400)


def bad_request(japanese: str):
    """abort(400) with a Japanese reason shown on the error page."""
    from werkzeug.exceptions import BadRequest
    exc = BadRequest(japanese)
    exc.japanese = japanese
    return exc


def init_app(app: Flask) -> None:
    app.static_folder = str(STATIC_DIR)
    app.url_map.converters["int"] = IdConverter
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)

    from notifier.web import sessions
    sessions.init_app(app)
    app.before_request(_refuse_nul)
    app.before_request(_load_user)
    app.before_request(_enforce_sign_in)
    app.after_request(_security_headers)

    @app.context_processor
    def _inject():
        from notifier.contract import ROLE_LABELS
        return {"current_user": g.get("user"), "role_labels": ROLE_LABELS, "nav_items": nav_items}

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(OverflowError, _odd_input)
    app.register_error_handler(DataError, _odd_input)

    from notifier.web import (
        audit_views,
        auth_views,
        consent_views,
        data_views,
        export_views,
        household_views,
        liff_views,
        main_views,
        ops_views,
        outbox_views,
        outreach_views,
        rules_views,
        sending_views,
        webhook,
    )
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(main_views.bp)
    app.register_blueprint(audit_views.bp)
    app.register_blueprint(consent_views.bp)
    app.register_blueprint(data_views.bp)
    app.register_blueprint(household_views.bp)
    app.register_blueprint(rules_views.bp)
    app.register_blueprint(ops_views.bp)
    app.register_blueprint(sending_views.bp)
    app.register_blueprint(outreach_views.bp)
    app.register_blueprint(export_views.bp)
    webhook.init_app(app)
    liff_views.init_app(app)
    outbox_views.init_app(app)
