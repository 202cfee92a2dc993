"""Staff rule pages (判定ルール): list, versions with readable diffs, the form editor, the reach
preview, and approval by a second person. Routes only: the editor model is eligibility/editor.py,
the reach preview eligibility/preview.py, the two-person rule eligibility/dao.py.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from notifier import clock, db
from notifier.eligibility import dao, editor, preview
from notifier.eligibility.presentation import (
    STATUS_LABELS,
    readable_diff,
    render_lines,
    rule_facts,
    rule_of,
    source_titles,
)
from notifier.eligibility.readiness import readiness
from notifier.eligibility.rules import RULE_ID, Rule
from notifier.ingest.status import source_statuses
from notifier.models import RuleVersion
from notifier.web import current_actor, require_roles
from notifier.web.params import business_date

bp = Blueprint("rules", __name__, url_prefix="/rules")


def _cache() -> preview.PreviewCache:
    return current_app.extensions.setdefault("rules_preview_cache", preview.PreviewCache())


def _reach(rule: Rule, as_of: dt.date, active) -> preview.Reach:
    return preview.reach(db.session(), db.engine(), _cache(), rule, as_of, active,
                         max_age=current_app.config["SOURCE_MAX_AGE_DAYS"],
                         notified_recently=current_app.extensions.get("notified_recently"))


def _check_id(rule_id: str) -> None:
    if not RULE_ID.match(rule_id):
        abort(404)


def _rule(row: RuleVersion) -> tuple[Rule | None, str | None]:
    return rule_of(row.definition, row.rule_id, row.version)


def reference_date() -> dt.date:
    """The one 基準日 of the rule pages: the date of the latest eligibility run (the list's figures are
    from it), so the preview and the approvals show figures for the same day; today before any run."""
    run = dao.latest_run(db.session())
    return run.as_of if run else clock.today_jst()


def _parse_as_of(raw: str | None) -> tuple[dt.date, str | None]:
    day, problem = business_date(raw)
    if problem:
        fallback = reference_date()
        return fallback, f"{problem}（YYYY-MM-DD）基準日 {fallback.isoformat()} で表示しています。"
    return day or reference_date(), None


@bp.app_context_processor
def _rules_helpers():
    return {"rule_status_labels": STATUS_LABELS}


@bp.route("/")
@require_roles("rule_author", "rule_approver")
def index():
    s = db.session()
    by_rule: dict[str, list[RuleVersion]] = {}
    for r in dao.all_versions(s):
        by_rule.setdefault(r.rule_id, []).append(r)
    run = dao.latest_run(s)
    summary = (run.summary or {}) if run else {}
    statuses = source_statuses(s, reference_date(), current_app.config["SOURCE_MAX_AGE_DAYS"])
    items = []
    for rule_id, versions in by_rule.items():
        active = next((v for v in versions if v.status == "active"), None)
        pending = next((v for v in reversed(versions) if v.status == "pending"), None)
        latest = versions[-1]
        if active and pending:
            status = "有効（変更の承認待ち）"
        elif active:
            status = "有効"
        elif pending:
            status = "承認待ち（まだ有効な版はありません）"
        else:
            status = f"無効（最新の版は{STATUS_LABELS.get(latest.status, latest.status)}）"
        rule, _error = _rule(active or latest)
        items.append({"rule_id": rule_id, "name": (active or latest).name, "active": active, "pending": pending,
                      "status": status, "reach": summary.get(rule_id),
                      "readiness": readiness(rule, statuses) if rule else None})
    return render_template("rules/index.html", items=items, run=run)


@bp.route("/<rule_id>")
@require_roles("rule_author", "rule_approver")
def detail(rule_id: str):
    _check_id(rule_id)
    s = db.session()
    versions = dao.versions_of(s, rule_id) or abort(404)
    shown = next((v for v in versions if v.status == "active"), None) or versions[-1]
    rule, error = _rule(shown)
    history, previous = [], None
    for v in versions:
        r, _err = _rule(v)
        history.append({"row": v, "diff": readable_diff(previous, r) if previous and r else None})
        previous = r or previous
    history.reverse()
    pending = next((v for v in reversed(versions) if v.status == "pending"), None)
    return render_template("rules/detail.html", rule_id=rule_id, shown=shown, rule=rule, error=error,
                           facts=rule_facts(rule) if rule else [], lines=render_lines(rule) if rule else [],
                           history=history, pending=pending, name=shown.name)


@bp.route("/<rule_id>/v/<int:n>")
@require_roles("rule_author", "rule_approver")
def version(rule_id: str, n: int):
    _check_id(rule_id)
    s = db.session()
    versions = dao.versions_of(s, rule_id)
    row = next((v for v in versions if v.version == n), None) or abort(404)
    rule, error = _rule(row)
    prev_row = next((v for v in reversed(versions) if v.version < n), None)
    prev_rule = _rule(prev_row)[0] if prev_row else None
    active = dao.active_pair(s, rule_id)
    diff_prev = readable_diff(prev_rule, rule) if rule and prev_rule else None
    diff_active = readable_diff(active[1], rule) if rule and active and active[0].id != row.id \
        and (prev_row is None or active[0].id != prev_row.id) else None
    return render_template("rules/version.html", rule_id=rule_id, row=row, rule=rule, error=error,
                           facts=rule_facts(rule) if rule else [], lines=render_lines(rule) if rule else [],
                           prev_row=prev_row, diff_prev=diff_prev, active=active and active[0],
                           diff_active=diff_active)


@bp.route("/<rule_id>/v/<int:n>/preview", endpoint="preview")
@require_roles("rule_author", "rule_approver")
def preview_page(rule_id: str, n: int):
    _check_id(rule_id)
    s = db.session()
    row = dao.version_by_number(s, rule_id, n) or abort(404)
    rule, error = _rule(row)
    as_of, date_error = _parse_as_of(request.args.get("as_of"))
    result = _reach(rule, as_of, dao.active_pair(s, rule_id)) if rule else None
    return render_template("rules/preview.html", rule_id=rule_id, row=row, rule=rule, error=error,
                           as_of=as_of, date_error=date_error, reach=result, is_active=row.status == "active",
                           reference=reference_date()), 400 if date_error else 200


def _editor(draft: editor.Draft, *, is_new: bool, errors: dict | None = None,
            reach_result: preview.Reach | None = None, as_of: dt.date | None = None,
            date_error: str | None = None, notice: str | None = None, status: int = 200):
    form_url = url_for("rules.new") if is_new else url_for("rules.edit", rule_id=draft.rule_id)
    errors = errors or {}
    tree = editor.tree_view(draft.tree, errors)
    pending = None if is_new else dao.pending_version(db.session(), draft.rule_id)
    return render_template("rules/edit.html", draft=draft, is_new=is_new, errors=errors, pending=pending,
                           error_labels=editor.error_labels(tree) if errors else {},
                           tree=tree, form_url=form_url,
                           criteria=editor.criterion_options(), group_labels=editor.GROUP_LABELS,
                           reach=reach_result, as_of=as_of or reference_date(), date_error=date_error,
                           notice=notice), status


def _handle_editor_post(draft: editor.Draft, *, is_new: bool):
    s = db.session()
    action = request.form.get("action") or "refresh"
    as_of, date_error = _parse_as_of(request.form.get("as_of"))
    if action not in ("save", "preview", "refresh"):
        # The button's formaction carries the #node-… fragment that brings staff back to the spot.
        editor.apply_action(draft, action, request.form)
        return _editor(draft, is_new=is_new, as_of=as_of)
    if action == "refresh":
        return _editor(draft, is_new=is_new, as_of=as_of)
    rule, errors = editor.validate(draft, url_hosts=current_app.config["APPLICATION_URL_HOSTS"])
    if is_new and not errors.get("rule_id") and draft.rule_id and dao.dao_latest_version(s, draft.rule_id):
        errors["rule_id"] = "このIDのルールはすでにあります。別のIDにするか、そのルールを編集してください。"
        rule = None
    if rule is None:
        return _editor(draft, is_new=is_new, errors=errors, as_of=as_of, status=422)
    active = None if is_new else dao.active_pair(s, draft.rule_id)
    if action == "preview":
        return _editor(draft, is_new=is_new, reach_result=_reach(rule, as_of, active), as_of=as_of,
                       date_error=date_error)
    row, created = dao.add_version(s, rule, actor=current_actor(), note=draft.note or None)
    s.commit()
    if not created:
        return _editor(draft, is_new=is_new, as_of=as_of,
                       notice=f"内容が最新の版（第{row.version}版・{STATUS_LABELS.get(row.status, row.status)}）と"
                              f"同じため、新しい版は作成しませんでした。")
    flash(f"第{row.version}版として保存しました。別のルール承認者が承認すると有効になります。", "success")
    return redirect(url_for("rules.detail", rule_id=rule.id))


@bp.route("/<rule_id>/edit", methods=["GET", "POST"])
@require_roles("rule_author")
def edit(rule_id: str):
    _check_id(rule_id)
    versions = dao.versions_of(db.session(), rule_id) or abort(404)
    if request.method == "POST":
        return _handle_editor_post(editor.draft_from_form(request.form, rule_id), is_new=False)
    wanted = request.args.get("from", type=int)
    base = next((v for v in versions if v.version == wanted), None) if wanted else None
    base = base or next((v for v in reversed(versions) if v.status == "pending"), None) \
        or next((v for v in versions if v.status == "active"), None) or versions[-1]
    rule, error = _rule(base)
    if rule is None:
        flash(error, "error")
        return redirect(url_for("rules.detail", rule_id=rule_id))
    return _editor(editor.draft_from_rule(rule, base.version), is_new=False)


@bp.route("/new", methods=["GET", "POST"])
@require_roles("rule_author")
def new():
    if request.method == "POST":
        return _handle_editor_post(editor.draft_from_form(request.form, None), is_new=True)
    return _editor(editor.blank_draft(), is_new=True)


@bp.route("/approvals")
@require_roles("rule_approver")
def approvals():
    s = db.session()
    as_of = reference_date()
    items = []
    for row in dao.pending_versions(s):
        rule, error = _rule(row)
        active = dao.active_pair(s, row.rule_id)
        items.append({"row": row, "rule": rule, "error": error, "active": active and active[0],
                      "diff": readable_diff(active[1], rule) if rule and active else None,
                      "lines": render_lines(rule) if rule and not active else [],
                      "reach": _reach(rule, as_of, active) if rule else None,
                      "sources": source_titles(rule) if rule else "",
                      "own": row.created_by == g.user.username})
    return render_template("rules/approvals.html", items=items, as_of=as_of)


def _decide(version_id: int, decide):
    s = db.session()
    row = s.get(RuleVersion, version_id) or abort(404)
    try:
        message = decide(s, row)
    except dao.RuleApprovalError as e:
        s.rollback()
        flash(str(e), "error")
        return redirect(url_for("rules.approvals"))
    s.commit()
    flash(message, "success")
    return redirect(url_for("rules.approvals"))


@bp.route("/approvals/<int:version_id>/approve", methods=["POST"])
@require_roles("rule_approver")
def approve_version(version_id: int):
    def decide(s, row):
        previous = dao.dao_active_version(s, row.rule_id)
        dao.approve(s, row, actor=current_actor())
        tail = f"第{previous.version}版は過去の版になりました。" if previous else ""
        return f"{row.name} 第{row.version}版を承認し、有効にしました。{tail}"
    return _decide(version_id, decide)


@bp.route("/approvals/<int:version_id>/reject", methods=["POST"])
@require_roles("rule_approver")
def reject_version(version_id: int):
    note = (request.form.get("reason") or "").strip()[:editor.NOTE_MAX] or None

    def decide(s, row):
        dao.reject(s, row, actor=current_actor(), note=note)
        return f"{row.name} 第{row.version}版を却下しました。作成者に理由を伝えてください。"
    return _decide(version_id, decide)
