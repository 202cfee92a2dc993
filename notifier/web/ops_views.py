"""The operations page (運用状況): the scheduler's heartbeat, the last runs of each job and step,
files that were set aside, and sources too old or missing."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from notifier import clock, db
from notifier.ingest import history
from notifier.ingest.status import source_statuses
from notifier.jobs import status
from notifier.jobs.daily import STATUS_LABELS, STEP_LABELS, count_text
from notifier.linkage import review
from notifier.outbox import admin
from notifier.outreach import worklist
from notifier.web import require_roles

bp = Blueprint("ops", __name__, url_prefix="/ops")


@bp.route("/")
@require_roles("coordinator")
def index():
    s = db.session()
    statuses = source_statuses(s, clock.today_jst(), current_app.config["SOURCE_MAX_AGE_DAYS"])
    rejected = [r for r in history.recent_runs(s, 50) if r.status == "rejected"][:10]
    return render_template("ops/index.html", heartbeat=status.heartbeat(s),
                           invocations=status.recent_invocations(s, job="daily"),
                           dispatches=status.recent_invocations(s, 20, job="dispatch"), step_labels=STEP_LABELS,
                           status_labels=STATUS_LABELS, count_text=count_text, rejected=rejected,
                           problems=[st for st in statuses.values() if not st.usable],
                           sending=admin.status_counts(s), alerts=admin.open_alerts(s),
                           quota=admin.quota_use(s, current_app.config.get("LINE_MONTHLY_LIMIT")),
                           quarantined=[r for r in history.recent_runs(s, 50) if r.rows_quarantined][:10],
                           review=review.counts(s).get("review", 0),
                           case_ages=worklist.open_case_ages(s, clock.today_jst()))
