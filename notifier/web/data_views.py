"""Staff pages for data in: import history with quarantined rows, and the 名寄せ review queue."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from notifier import audit, clock, db
from notifier.contract import SOURCES
from notifier.models import ImportRun, LinkCandidate, LinkDecision, PupilLink, QuarantineRow
from notifier.models.sources import SOURCE_TABLES
from notifier.residents import current_condition
from notifier.web import current_actor, require_roles

bp = Blueprint("data", __name__)


@bp.route("/imports/")
@require_roles("coordinator")
def imports():
    s = db.session()
    runs = s.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(200)).all()
    return render_template("data/imports.html", runs=runs, sources=SOURCES)


@bp.route("/imports/<int:run_id>")
@require_roles("coordinator")
def import_detail(run_id: int):
    s = db.session()
    run = s.get(ImportRun, run_id) or abort(404)
    rows = s.scalars(select(QuarantineRow).where(QuarantineRow.import_id == run_id)
                     .order_by(QuarantineRow.line, QuarantineRow.id).limit(1000)).all()
    audit.record(s, "view_person", actor=current_actor(), target_type="quarantine", target_id=run_id, detail={"rows": len(rows)})
    s.commit()
    return render_template("data/import_detail.html", run=run, rows=rows, sources=SOURCES)


def _person(s, atena_no: str) -> dict | None:
    t = SOURCE_TABLES["juminhyo"]
    row = s.execute(select(t).where(t.c.atena_no == atena_no).limit(1)).mappings().first()
    if row is None:
        return None
    household = s.execute(select(t.c.name, t.c.name_kana, t.c.relation, t.c.birth_date)
                          .where(t.c.setai_no == row["setai_no"], current_condition(t, clock.today_jst()))
                          .order_by(t.c.birth_date)).mappings().all()
    return {"row": row, "household": household}


@bp.route("/linkage/review")
@require_roles("coordinator")
def review_queue():
    s = db.session()
    pending = s.scalars(select(PupilLink).where(PupilLink.status == "review").order_by(PupilLink.pupil_id)).all()
    counts = dict(s.execute(select(PupilLink.status, func.count()).group_by(PupilLink.status)).all())
    return render_template("data/review_queue.html", pending=pending, counts=counts)


@bp.route("/linkage/review/<pupil_id>", methods=["GET", "POST"])
@require_roles("coordinator")
def review_item(pupil_id: str):
    s = db.session()
    link = s.get(PupilLink, pupil_id) or abort(404)
    roster_t = SOURCE_TABLES["gakureibo"]
    pupil = s.execute(select(roster_t).where(roster_t.c.pupil_id == pupil_id).limit(1)).mappings().first()
    candidates = s.scalars(select(LinkCandidate).where(LinkCandidate.pupil_id == pupil_id)
                           .order_by(LinkCandidate.rank)).all()
    if request.method == "POST":
        decision = request.form.get("decision")
        atena_no = request.form.get("atena_no") or None
        allowed = {c.atena_no for c in candidates}
        if decision not in ("confirm", "reject", "none") or (decision != "none" and atena_no not in allowed):
            abort(400)
        s.add(LinkDecision(pupil_id=pupil_id, fingerprint=link.fingerprint, decision=decision,
                           atena_no=atena_no if decision != "none" else None, actor_id=g.user.id,
                           actor=g.user.username))
        if decision == "confirm":
            link.atena_no, link.status, link.method, link.score = atena_no, "linked", "manual", None
        elif decision == "none":
            link.atena_no, link.status, link.method = None, "unlinked", "manual"
        else:
            s.query(LinkCandidate).filter_by(pupil_id=pupil_id, atena_no=atena_no).delete()
            if not [c for c in candidates if c.atena_no != atena_no]:
                link.status, link.method = "unlinked", "manual"
        audit.record(s, "link_decision", actor=current_actor(), target_type="pupil", target_id=pupil_id,
                     detail={"decision": decision, "atena_no": atena_no})
        s.commit()
        flash({"confirm": "照合を確定しました。", "reject": "この候補を除外しました。",
               "none": "該当者なしとして記録しました。"}[decision], "success")
        if link.status == "review":
            return redirect(url_for("data.review_item", pupil_id=pupil_id))
        return redirect(url_for("data.review_queue"))
    people = {c.atena_no: _person(s, c.atena_no) for c in candidates}
    audit.record(s, "view_person", actor=current_actor(), target_type="pupil", target_id=pupil_id,
                 detail={"candidates": [c.atena_no for c in candidates]})
    s.commit()
    return render_template("data/review_item.html", link=link, pupil=pupil, candidates=candidates, people=people)
