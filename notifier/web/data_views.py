"""Staff pages for data in: import history with quarantined rows, and the 名寄せ review queue."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from notifier import audit, db
from notifier.contract import CONSENT_IMPORT_SOURCE, IMPORT_SOURCE_LABELS
from notifier.ingest import history
from notifier.linkage import review
from notifier.linkage.match import AUTO_MARGIN, AUTO_SCORE
from notifier.web import current_actor, require_roles

bp = Blueprint("data", __name__)


@bp.route("/imports/")
@require_roles("coordinator")
def imports():
    return render_template("data/imports.html", runs=history.recent_runs(db.session()), labels=IMPORT_SOURCE_LABELS)


@bp.route("/imports/<int:run_id>")
@require_roles("coordinator")
def import_detail(run_id: int):
    s = db.session()
    run = history.run(s, run_id) or abort(404)
    rows = history.quarantined_rows(s, run_id)
    audit.record(s, "view_person", actor=current_actor(), target_type="quarantine", target_id=run_id,
                 detail={"rows": len(rows)})
    s.commit()
    return render_template("data/import_detail.html", run=run, rows=rows, labels=IMPORT_SOURCE_LABELS,
                           consent=run.source == CONSENT_IMPORT_SOURCE)


@bp.route("/linkage/review")
@require_roles("coordinator")
def review_queue():
    s = db.session()
    items = review.queue(s)
    if items:
        audit.record(s, "view_person", actor=current_actor(), target_type="review_queue",
                     detail={"rows": len(items)})
        s.commit()
    return render_template("data/review_queue.html", pending=items, counts=review.counts(s),
                           evidence_items=review.EVIDENCE, auto_score=AUTO_SCORE, auto_margin=AUTO_MARGIN)


@bp.route("/linkage/review/<pupil_id>", methods=["GET", "POST"])
@require_roles("coordinator")
def review_item(pupil_id: str):
    s = db.session()
    if request.method == "POST":
        decision, atena_no = request.form.get("decision", ""), request.form.get("atena_no") or None
        if "choice" in request.form:       # 「判断を変更する」: "confirm:<宛名番号>" or "none:"
            decision, _, atena_no = request.form["choice"].partition(":")
            atena_no = atena_no or None
        try:
            link = review.decide(s, pupil_id, decision, atena_no, actor=current_actor(),
                                 reason=request.form.get("reason"))
        except review.ReviewError as exc:
            s.rollback()
            return _review_page(s, pupil_id, error=str(exc), status=400)   # 404 when it is unknown
        s.commit()
        flash({"confirm": "照合を確定しました。", "reject": "この候補を除外しました。",
               "none": "該当者なしとして記録しました。"}[decision], "success")
        if link.status == "review":
            return redirect(url_for("data.review_item", pupil_id=pupil_id))
        return redirect(url_for("data.review_queue"))
    return _review_page(s, pupil_id)


def _review_page(s, pupil_id: str, *, error: str | None = None, status: int = 200):
    view = review.item(s, pupil_id) or abort(404)
    audit.record(s, "view_person", actor=current_actor(), target_type="pupil", target_id=pupil_id,
                 detail={"candidates": [c.atena_no for c in view["candidates"]]})
    s.commit()
    return render_template("data/review_item.html", error=error, **view), status
