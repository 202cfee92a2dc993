"""Dashboard, health check and the favicon."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, send_from_directory

from notifier import audit, db
from notifier.auth import service as accounts
from notifier.web import STATIC_DIR, public

bp = Blueprint("main", __name__)


def dashboard_cards() -> list[dict]:
    """Cards for the dashboard; later parts of the service (imports, matches, funnel) add theirs here."""
    s = db.session()
    return [
        {"title": "職員アカウント", "figure": accounts.dao_count_users(s),
         "text": "有効な職員アカウントの数です。"},
        {"title": "本日までの操作記録", "figure": audit.count_events(s),
         "text": "サインイン、閲覧、出力などの記録の総数です。"},
    ]


@bp.route("/")
def dashboard():
    return render_template("dashboard.html", dashboard_cards=dashboard_cards())


@bp.route("/healthz")
@public
def healthz():
    db.ping()
    return jsonify(status="ok")


@bp.route("/favicon.ico")
@public
def favicon():
    # Browsers ask for /favicon.ico on pages that name none (the LIFF page, error pages of other apps).
    return send_from_directory(STATIC_DIR, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400)
