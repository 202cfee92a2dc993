"""The audit log page for auditors (and admins): list and filter, newest first."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from notifier import db
from notifier.audit import ACTIONS
from notifier.clock import jst_date_to_utc_start
from notifier.models import AuditEvent
from notifier.web import require_roles

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 100


@bp.route("/")
@require_roles("auditor")
def index():
    q = select(AuditEvent)
    action = request.args.get("action") or ""
    actor = (request.args.get("actor") or "").strip()
    target = (request.args.get("target") or "").strip()
    date_from = request.args.get("from") or ""
    date_to = request.args.get("to") or ""
    errors = {}
    if action:
        q = q.where(AuditEvent.action == action)
    if actor:
        q = q.where(AuditEvent.actor == actor)
    if target:
        q = q.where(AuditEvent.target_id == target)
    for name, value in (("from", date_from), ("to", date_to)):
        if not value:
            continue
        try:
            day = datetime.strptime(value, "%Y-%m-%d").date()
        except ValueError:
            errors[name] = "日付は 2026-04-01 の形で入力してください。"
            continue
        if name == "from":
            q = q.where(AuditEvent.at >= jst_date_to_utc_start(day))
        else:
            q = q.where(AuditEvent.at < jst_date_to_utc_start(day + timedelta(days=1)))
    page = max(1, request.args.get("page", 1, type=int))
    s = db.session()
    total = s.scalar(select(func.count()).select_from(q.subquery()))
    rows = s.scalars(q.order_by(AuditEvent.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return render_template("audit/index.html", rows=rows, total=total, page=page, page_size=PAGE_SIZE,
                           actions=ACTIONS, errors=errors,
                           filters={"action": action, "actor": actor, "target": target,
                                    "from": date_from, "to": date_to})
