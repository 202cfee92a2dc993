"""Dashboard and health check."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import func, select, text

from notifier import db
from notifier.models import AuditEvent, StaffUser
from notifier.web import public

bp = Blueprint("main", __name__)


def dashboard_cards() -> list[dict]:
    """Cards for the dashboard; later parts of the service (imports, matches, funnel) add theirs here."""
    s = db.session()
    return [
        {"title": "職員アカウント", "figure": s.scalar(select(func.count()).select_from(StaffUser)),
         "text": "有効な職員アカウントの数です。"},
        {"title": "本日までの操作記録", "figure": s.scalar(select(func.count()).select_from(AuditEvent)),
         "text": "サインイン、閲覧、出力などの記録の総数です。"},
    ]


@bp.route("/")
def dashboard():
    return render_template("dashboard.html", dashboard_cards=dashboard_cards())


@bp.route("/healthz")
@public
def healthz():
    db.session().execute(text("SELECT 1"))
    return jsonify(status="ok")
