"""見守りケース: the coordinators' worklist, a case's page and its actions (assign, contact, outcome,
close), and the priority points table with a preview of how the order would change. Caseworkers see
the worklist and pages of their own organisation's cases only and record contacts and outcomes there.
Services do the work and write the audit rows; this module parses, calls and renders."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from notifier import audit, clock, db
from notifier.contract import CASE_OUTCOMES, CONTACT_KINDS, CONTACT_RESULTS, OUTREACH_ROUTES
from notifier.outreach import cases, priority, worklist
from notifier.web import bad_request, current_actor, params, require_roles

bp = Blueprint("outreach", __name__, url_prefix="/outreach")
ROLES = ("coordinator", "caseworker")


@bp.route("/")
@require_roles(*ROLES)
def index():
    from notifier.eligibility.dao import rule_names
    s = db.session()
    try:
        filters = worklist.parse_filters(request.args)
    except worklist.FilterError as exc:
        raise bad_request(str(exc)) from exc
    page = worklist.worklist(s, filters, viewer=g.user, today=clock.today_jst(),
                             page=params.page_number(request.args.get("page")))
    audit.record(s, "view_worklist", actor=current_actor(), target_type="worklist",
                 detail={"filters": filters.args(), "rows": len(page.rows), "total": page.total})
    s.commit()
    return render_template("outreach/worklist.html", page=page, filters=filters, choices=worklist.choices(s, g.user),
                           rule_names=rule_names(s), routes=OUTREACH_ROUTES, sorts=worklist.SORTS,
                           statuses=worklist.STATUSES, unassigned=worklist.UNASSIGNED,
                           coordinator=cases.sees_all(g.user))


@bp.route("/cases/<int:case_id>")
@require_roles(*ROLES)
def case(case_id: int):
    from notifier.outreach.case_page import case_page
    s = db.session()
    try:
        content = case_page(s, case_id, viewer=g.user, actor=current_actor(), today=clock.today_jst())
    except cases.CaseNotFound:
        abort(404)
    s.commit()
    household = None
    if cases.sees_all(g.user):
        from notifier.web.household_views import household_url
        household = household_url(content.case.setai_no)
    return render_template("outreach/case.html", p=content, c=content.case, outcomes=CASE_OUTCOMES,
                           household=household,
                           contact_kinds=CONTACT_KINDS, contact_results=CONTACT_RESULTS,
                           organisations=cases.organisations(s) if cases.sees_all(g.user) else [],
                           coordinator=cases.sees_all(g.user), today=clock.today_jst())


def _act(case_id: int, action, message: str):
    s = db.session()
    try:
        action(s)
    except cases.CaseNotFound:
        s.rollback()
        abort(404)
    except cases.CaseError as exc:
        s.rollback()
        flash(str(exc), "error")
    else:
        s.commit()
        flash(message, "success")
    return redirect(url_for("outreach.case", case_id=case_id))


@bp.post("/cases/<int:case_id>/assign")
@require_roles("coordinator")
def assign(case_id: int):
    org = request.form.get("organisation_other") or request.form.get("organisation") or ""
    return _act(case_id, lambda s: cases.assign(s, case_id, org, viewer=g.user, actor=current_actor()),
                "担当する機関を割り当てました。")


@bp.post("/cases/<int:case_id>/contact")
@require_roles(*ROLES)
def contact(case_id: int):
    on, err = params.business_date(request.form.get("on"))
    if err or on is None:
        raise bad_request(err or "日付を入力してください。")
    c = cases.Contact(kind=request.form.get("kind", ""), on=on, result=request.form.get("result", ""),
                      note=request.form.get("note", ""))
    return _act(case_id, lambda s: cases.log_contact(s, case_id, c, viewer=g.user, actor=current_actor(),
                                                     today=clock.today_jst()),
                "連絡の記録を追加しました。")


@bp.post("/cases/<int:case_id>/outcome")
@require_roles(*ROLES)
def outcome(case_id: int):
    return _act(case_id, lambda s: cases.record_outcome(s, case_id, request.form.get("outcome", ""),
                                                        note=request.form.get("note"),
                                                        close=request.form.get("close") == "1",
                                                        viewer=g.user, actor=current_actor()),
                "結果を記録しました。")


@bp.post("/cases/<int:case_id>/close")
@require_roles(*ROLES)
def close(case_id: int):
    return _act(case_id, lambda s: cases.close_case(s, case_id, request.form.get("reason", ""), viewer=g.user,
                                                    actor=current_actor()),
                "ケースを終了しました。")


@bp.post("/cases/new")
@require_roles("coordinator")
def open_case():
    s = db.session()
    setai_no = (request.form.get("setai_no") or "").strip()
    try:
        case = cases.open_by_hand(s, setai_no, (request.form.get("rule_id") or "").strip(),
                                  route=request.form.get("route", ""), note=request.form.get("note"),
                                  viewer=g.user, actor=current_actor(), as_of=clock.today_jst())
    except cases.CaseError as exc:
        s.rollback()
        flash(str(exc), "error")
        back = request.form.get("back") or ""
        return redirect(back if back.startswith("/") and not back.startswith("//") else url_for("outreach.index"))
    s.commit()
    flash("見守りケースを開始しました。", "success")
    return redirect(url_for("outreach.case", case_id=case.id))


# --- the priority points table --------------------------------------------------------------------
@bp.route("/priority", methods=["GET", "POST"])
@require_roles("coordinator")
def priority_scheme():
    s = db.session()
    row, scheme = cases.current_scheme(s)
    preview = None
    if request.method == "POST":
        try:
            proposed = priority.scheme_from_form(request.form, scheme)
        except priority.SchemeError as exc:   # shown beside the form, with what was typed kept
            return _priority_page(s, row, scheme, error=str(exc), entered=request.form, status=400)
        if request.form.get("action") == "save":
            try:
                cases.save_scheme(s, proposed, actor=current_actor(), as_of=clock.today_jst(),
                                  note=request.form.get("note"))
            except cases.CaseError as exc:
                s.rollback()
                flash(str(exc), "error")
            else:
                s.commit()
                flash("点数表を保存し、対応中のケースの点数を計算し直しました。", "success")
                return redirect(url_for("outreach.priority_scheme"))
        else:
            preview = cases.preview_scheme(s, proposed, clock.today_jst())
            scheme = proposed
    return _priority_page(s, row, scheme, preview=preview)


def _priority_page(s, row, scheme, *, preview=None, error=None, entered=None, status=200):
    """Render the points table page; every rendering is a view, audited."""
    cases.record_scheme_view(s, row, actor=current_actor(), preview=preview)
    s.commit()
    return render_template("outreach/priority.html", scheme=scheme, row=row, preview=preview, error=error,
                           entered=entered or {}), status
