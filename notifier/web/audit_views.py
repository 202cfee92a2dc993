"""The audit log page for auditors (and admins): list and filter, newest first, in words."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template, request

from notifier import audit, db
from notifier.audit import ACTIONS
from notifier.audit_presentation import Names, describe
from notifier.clock import jst_date_to_utc_start
from notifier.web import require_roles
from notifier.web.params import business_date, page_number

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 100
FILTER_MAX = 128


@bp.route("/")
@require_roles("auditor")
def index():
    action = request.args.get("action") or ""
    actor = (request.args.get("actor") or "").strip()[:FILTER_MAX]
    target = (request.args.get("target") or "").strip()[:FILTER_MAX]
    raw = {"from": request.args.get("from") or "", "to": request.args.get("to") or ""}
    page = page_number(request.args.get("page"))
    errors = {}
    if action and action not in ACTIONS:
        errors["action"] = "一覧から操作を選んでください。"
    days = {}
    for name, value in raw.items():
        days[name], problem = business_date(value)
        if problem:
            errors[name] = problem
    if days["from"] and days["to"] and days["to"] < days["from"]:
        errors["to"] = "終了日は開始日と同じか、それより後の日にしてください。"
    filters = {"action": action, "actor": actor, "target": target, **raw}
    if errors:
        return render_template("audit/index.html", entries=[], total=None, page=1, page_size=PAGE_SIZE,
                               actions=ACTIONS, errors=errors, filters=filters), 400
    s = db.session()
    total, rows = audit.search(s, audit.Filters(
        action=action, actor=actor, target=target,
        start=jst_date_to_utc_start(days["from"]) if days["from"] else None,
        end=jst_date_to_utc_start(days["to"] + timedelta(days=1)) if days["to"] else None),
        page=page, page_size=PAGE_SIZE)
    names = Names(**audit.names_for(s, rows))
    entries = [(row, describe(row.action, row.actor, row.actor_id, row.target_type, row.target_id, row.detail,
                              names, ACTIONS)) for row in rows]
    return render_template("audit/index.html", entries=entries, total=total, page=page, page_size=PAGE_SIZE,
                           actions=ACTIONS, errors=errors, filters=filters,
                           filtered=any(filters.values()))
