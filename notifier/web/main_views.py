"""Dashboard, health check and the favicon."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, render_template, request, send_from_directory
from markupsafe import Markup

from notifier import audit, clock, db
from notifier.auth import service as accounts
from notifier.eligibility.dao import rule_names
from notifier.web import STATIC_DIR, current_actor, params, public, require_roles

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
    from flask import current_app

    from notifier.outreach.export import bulk_export_alerts
    return bulk_export_alerts(db.session(), clock.today_jst(), current_app.config["BULK_EXPORT_ALERT_HOUSEHOLDS"])


@bp.route("/")
def dashboard():
    if not g.user.has_role(*FUNNEL_ROLES):
        return render_template("dashboard.html", dashboard_cards=dashboard_cards(), funnel=None,
                               export_alerts=export_alerts())
    from notifier.outreach import charts, funnel
    s = db.session()
    period = _period()
    readings = funnel.Readings(s)
    table = funnel.funnel(s, period, as_of=clock.today_jst(), readings=readings)
    names = rule_names(s)
    total = table.loc["合計"] if "合計" in table.index else None
    chart = None
    if total is not None and total["eligible"]:
        chart = Markup(charts.funnel_svg([(label, int(total[stage])) for stage, label in funnel.STAGES],
                                         title="すべてのルールの合計（世帯×ルール）"))
    uptake = funnel.consent_uptake(s, as_of=clock.today_jst(), readings=readings)
    uptake_chart = Markup(charts.columns_svg(uptake, title="通知に同意している世帯数（月末ごと）"))
    return render_template("dashboard.html", dashboard_cards=dashboard_cards(), funnel=table,
                           response_time=funnel.time_to_response(s, period, as_of=clock.today_jst(), readings=readings),
                           uptake=uptake, uptake_chart=uptake_chart, export_alerts=export_alerts(),
                           months=funnel.monthly(s, as_of=clock.today_jst(), readings=readings),
                           rates=funnel.rates(table), stages=funnel.STAGES, chart=chart, rule_names=names,
                           period=period, period_args={k: v for k, v in (("from", period.since), ("to", period.until))
                                                       if v is not None})


@bp.route("/funnel.csv")
@require_roles(*FUNNEL_ROLES)
def funnel_csv():
    from notifier.outreach import funnel
    s = db.session()
    table = funnel.funnel(s, _period(), as_of=clock.today_jst())
    audit.record(s, "export", actor=current_actor(), target_type="funnel_export", target_id="funnel.csv",
                 detail={"rows": int(len(table))})
    s.commit()
    return Response(funnel.to_csv(table, rule_names(s)), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=funnel.csv"})


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
