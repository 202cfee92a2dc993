"""「お知らせの送信」: deliveries by status with filters, failures with LINE's reason, unknowns to
resolve, this month's quota use, and the retry / cancel / resolve actions (audited in the service).

No message body and no LINE user ID is ever shown; household numbers only to coordinators.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from notifier import db
from notifier.outbox import admin
from notifier.web import bad_request, current_actor, params, require_roles

bp = Blueprint("sending", __name__, url_prefix="/sending")


def _filters() -> admin.Filters:
    status = request.args.get("status") or None
    if status is not None and status not in admin.STATUS_LABELS:
        raise bad_request("状態の指定が正しくありません。")
    rule_id = (request.args.get("rule") or "").strip() or None
    if rule_id is not None and (len(rule_id) > 64 or not rule_id.isascii()):
        raise bad_request("ルールの指定が正しくありません。")
    return admin.Filters(rule_id, status, *params.date_range(request.args))


@bp.route("/")
@require_roles("coordinator", "auditor")
def index():
    s = db.session()
    filters = _filters()
    page = params.page_number(request.args.get("page"))
    rows, pages = admin.deliveries(s, filters, page)
    return render_template(
        "sending/index.html", rows=rows, pages=pages, page=page, filters=filters,
        counts=admin.status_counts(s, filters), rule_ids=admin.rule_ids(s),
        quota=admin.quota_use(s, current_app.config.get("LINE_MONTHLY_LIMIT")), alerts=admin.open_alerts(s),
        unknowns=admin.deliveries(s, admin.Filters(status="unknown"))[0][:20],
        status_labels=admin.STATUS_LABELS, cancel_labels=admin.CANCEL_REASON_LABELS,
        kind_labels=admin.KIND_LABELS, show_households=g.user.has_role("coordinator"),
        may_act=g.user.has_role("coordinator"))


def _act(action, message: str):
    s = db.session()
    try:
        action(s)
    except admin.ActionRefused as exc:
        s.rollback()
        flash(str(exc), "error")
    else:
        s.commit()
        flash(message, "success")
    return redirect(request.form.get("back") if _safe_back(request.form.get("back")) else url_for("sending.index"))


def _safe_back(back: str | None) -> bool:
    return bool(back) and back.startswith("/sending/") and "//" not in back and "\\" not in back


@bp.post("/<int:delivery_id>/retry")
@require_roles("coordinator")
def retry(delivery_id: int):
    return _act(lambda s: admin.retry(s, delivery_id, actor=current_actor()),
                "もう一度送る予定にしました（送信時間内に、次の送信処理で送ります）。")


@bp.post("/<int:delivery_id>/cancel")
@require_roles("coordinator")
def cancel(delivery_id: int):
    return _act(lambda s: admin.cancel(s, delivery_id, actor=current_actor()), "送信を取り消しました。")


@bp.post("/<int:delivery_id>/resolve")
@require_roles("coordinator")
def resolve(delivery_id: int):
    answer = request.form.get("received")
    if answer not in ("yes", "no"):
        raise bad_request("届いたかどうかを選んでください。")
    return _act(lambda s: admin.resolve_unknown(s, delivery_id, received=answer == "yes", actor=current_actor()),
                "確認の結果を記録しました。")


@bp.post("/alerts/<int:alert_id>/clear")
@require_roles("coordinator")
def clear_alert(alert_id: int):
    return _act(lambda s: admin.clear_alert(s, alert_id, actor=current_actor()),
                "警告を解除しました。送信待ちのお知らせは、次の送信処理で送ります。")
