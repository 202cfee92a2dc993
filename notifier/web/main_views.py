"""Dashboard, health check and the favicon."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, send_from_directory
from markupsafe import Markup

from notifier import audit, clock, db
from notifier.auth import service as accounts
from notifier.eligibility.dao import rule_names
from notifier.web import STATIC_DIR, bad_request, current_actor, params, public, require_roles

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


FUNNEL_ROLES = ("coordinator",)


def _period():
    from notifier.outreach.funnel import Period
    return Period(*params.date_range(request.args))


# Who sees the bulk-export alerts (outreach/export.py): those who oversee access (admins, auditors).
EXPORT_ALERT_ROLES = ("auditor",)


def export_alerts() -> list[dict] | None:
    """Today's (JST) users over the bulk-export limit, for the roles that see them (None for others)."""
    if not g.user.has_role(*EXPORT_ALERT_ROLES):
        return None
    from notifier.outreach.export import bulk_export_alerts
    return bulk_export_alerts(db.session(), clock.today_jst(), current_app.config["BULK_EXPORT_ALERT_HOUSEHOLDS"])


def _rule(names: dict[str, str]) -> str | None:
    """?rule=<rule_id> for the month table: None (all rules) when absent; a 400 page for a rule the
    service does not know."""
    rule = (request.args.get("rule") or "").strip() or None
    if rule is not None and rule not in names:
        raise bad_request("そのルールは見つかりません。一覧から選んでください。")
    return rule


@bp.route("/")
def dashboard():
    if not g.user.has_role(*FUNNEL_ROLES):
        return render_template("dashboard.html", dashboard_cards=dashboard_cards(), funnel=None,
                               export_alerts=export_alerts())
    from notifier.outreach import charts, funnel
    s = db.session()
    period, names = _period(), rule_names(s)
    rule = _rule(names)
    cache = current_app.extensions.setdefault("dashboard_cache", funnel.DashboardCache())
    board = funnel.dashboard(s, period, as_of=clock.today_jst(), rule=rule, cache=cache)
    total = board.funnel.loc["合計"]
    chart = None
    if total["eligible"]:
        chart = Markup(charts.funnel_svg([(label, int(total[stage])) for stage, label in funnel.STAGES],
                                         title="すべてのルールの合計（世帯×ルール）"))
    # as tall as the table of its numbers beside it
    uptake_chart = Markup(charts.columns_svg(board.uptake, title="通知に同意している世帯数（月末ごと）", height=300))
    period_args = {k: v for k, v in (("from", period.since), ("to", period.until)) if v is not None}
    return render_template("dashboard.html", dashboard_cards=dashboard_cards(), board=board, funnel=board.funnel,
                           uptake_chart=uptake_chart, export_alerts=export_alerts(), stages=funnel.STAGES,
                           outcomes=funnel.CONNECTED, chart=chart, rule_names=names, rule=rule, period=period,
                           period_args=period_args)


def _csv_download(s, text: str, filename: str, rows: int) -> Response:
    """An audited CSV download: the export is recorded and committed before the file is sent."""
    audit.record(s, "export", actor=current_actor(), target_type="funnel_export", target_id=filename,
                 detail={"rows": rows})
    s.commit()
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"})


@bp.route("/funnel.csv")
@require_roles(*FUNNEL_ROLES)
def funnel_csv():
    from notifier.outreach import funnel
    s = db.session()
    table = funnel.funnel(s, _period(), as_of=clock.today_jst())
    return _csv_download(s, funnel.to_csv(table, rule_names(s)), "funnel.csv", int(len(table)))


@bp.route("/funnel-outcomes.csv")
@require_roles(*FUNNEL_ROLES)
def funnel_outcomes_csv():
    from notifier.outreach import funnel
    s = db.session()
    table = funnel.connected_by_outcome(s, _period(), as_of=clock.today_jst())
    return _csv_download(s, funnel.outcomes_to_csv(table, rule_names(s)), "funnel-outcomes.csv", int(len(table)))


@bp.route("/funnel-months.csv")
@require_roles(*FUNNEL_ROLES)
def funnel_months_csv():
    from notifier.outreach import funnel
    s = db.session()
    names = rule_names(s)
    rule = _rule(names)
    by_rule = funnel.monthly_by_rule(s, as_of=clock.today_jst())
    rows = len(by_rule) if rule is None else len(funnel.rule_months(by_rule, rule))
    filename = f"funnel-months-{rule}.csv" if rule else "funnel-months.csv"
    return _csv_download(s, funnel.months_to_csv(by_rule, names, rule), filename, rows)


@bp.route("/consent-uptake.csv")
@require_roles(*FUNNEL_ROLES)
def consent_uptake_csv():
    from notifier.outreach import funnel
    s = db.session()
    table = funnel.consent_uptake_table(s, as_of=clock.today_jst())
    return _csv_download(s, funnel.uptake_to_csv(table), "consent-uptake.csv", int(len(table)))


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
