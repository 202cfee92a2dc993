"""The 名寄せ review queue (要確認): what staff see for each roster row, and their decisions.

`decide` owns the state change: it stores the decision (history, never overwritten), updates the
pupil's current link and writes the audit row in the caller's session, so all three commit together.
A row that already carries a staff decision is changed only on purpose, with a reason.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from notifier import audit, clock
from notifier.contract import GRADE_LABELS
from notifier.models import LinkCandidate, LinkDecision, PupilLink
from notifier.models.sources import SOURCE_TABLES
from notifier.residents import current_condition

DECISIONS = ("confirm", "reject", "none")
DECISION_LABELS = {"confirm": "この人で確定", "reject": "候補から除外", "none": "該当者なし"}
REASON_MAX = 200
# The evidence items of a scored pair, in display order, with their labels.
EVIDENCE = (("kana", "氏名カナ"), ("dob", "生年月日"), ("sex", "性別"), ("addr", "住所コード"),
            ("guardian", "保護者"), ("grade", "学年と生年月日"))


class ReviewError(ValueError):
    """A decision that cannot be taken; the message is Japanese, for staff."""


@dataclass(frozen=True)
class Decision:
    decision: str
    atena_no: str | None
    actor: str
    decided_at: object
    reason: str | None

    @property
    def label(self) -> str:
        return DECISION_LABELS[self.decision]


def grade_label(grade) -> str:
    """学年 as staff say it: 小3, 中1 (the roster stores 1–9)."""
    try:
        return GRADE_LABELS[int(grade)]
    except (TypeError, ValueError, KeyError):
        return ""


def agreement(points) -> str:
    """An evidence item's points → agree / disagree / blank (the roster had no value)."""
    if points is None or points == 0:
        return "blank"
    return "agree" if points > 0 else "disagree"


# --- reading -------------------------------------------------------------------------------------
def counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(PupilLink.status, func.count()).group_by(PupilLink.status)).all())


def queue(session: Session) -> list[dict]:
    """Roster rows waiting for review, with the roster's facts and the best candidate beside each."""
    roster = SOURCE_TABLES["gakureibo"]
    jumin = SOURCE_TABLES["juminhyo"]
    rows = session.execute(
        select(PupilLink.pupil_id, PupilLink.score, roster.c.name_kana, roster.c.birth_date,
               roster.c.school_name, roster.c.grade)
        .join(roster, roster.c.pupil_id == PupilLink.pupil_id, isouter=True)
        .where(PupilLink.status == "review").order_by(PupilLink.pupil_id)).mappings().all()
    best = {c.pupil_id: c for c in session.scalars(
        select(LinkCandidate).where(LinkCandidate.rank == 1,
                                    LinkCandidate.pupil_id.in_([r["pupil_id"] for r in rows])))} if rows else {}
    people = _people(session, jumin, [c.atena_no for c in best.values()])
    out = []
    seen = set()
    for r in rows:
        if r["pupil_id"] in seen:  # a roster export may repeat a pupil; one line each
            continue
        seen.add(r["pupil_id"])
        c = best.get(r["pupil_id"])
        out.append({**r, "grade_label": grade_label(r["grade"]),
                    "best": None if c is None else {
                        "atena_no": c.atena_no, "score": c.score,
                        "person": people.get(c.atena_no),
                        "agreement": {k: agreement((c.evidence or {}).get(k)) for k, _ in EVIDENCE}}})
    return out


def _people(session: Session, jumin, atena_nos: list[str]) -> dict[str, dict]:
    if not atena_nos:
        return {}
    rows = session.execute(select(jumin).where(jumin.c.atena_no.in_(atena_nos))).mappings().all()
    return {r["atena_no"]: dict(r) for r in rows}


def latest_decision(session: Session, link: PupilLink) -> Decision | None:
    """The staff decision in force for this roster row (decisions hold while the row is unchanged)."""
    row = session.scalars(select(LinkDecision).where(LinkDecision.pupil_id == link.pupil_id,
                                                     LinkDecision.fingerprint == link.fingerprint,
                                                     LinkDecision.decision.in_(("confirm", "none")))
                          .order_by(LinkDecision.decided_at.desc(), LinkDecision.id.desc()).limit(1)).first()
    if row is None:
        return None
    return Decision(row.decision, row.atena_no, row.actor, row.decided_at, row.reason)


def item(session: Session, pupil_id: str) -> dict | None:
    """Everything the review page shows for one roster row, or None when it is unknown."""
    link = session.get(PupilLink, pupil_id)
    if link is None:
        return None
    roster = SOURCE_TABLES["gakureibo"]
    jumin = SOURCE_TABLES["juminhyo"]
    pupil = session.execute(select(roster).where(roster.c.pupil_id == pupil_id).limit(1)).mappings().first()
    candidates = session.scalars(select(LinkCandidate).where(LinkCandidate.pupil_id == pupil_id)
                                 .order_by(LinkCandidate.rank)).all()
    today = clock.today_jst()
    people = {}
    for c in candidates:
        person = session.execute(select(jumin).where(jumin.c.atena_no == c.atena_no).limit(1)).mappings().first()
        if person is None:
            continue
        household = session.execute(
            select(jumin.c.name, jumin.c.name_kana, jumin.c.relation, jumin.c.birth_date)
            .where(jumin.c.setai_no == person["setai_no"], current_condition(jumin, today))
            .order_by(jumin.c.birth_date)).mappings().all()
        people[c.atena_no] = {"row": person, "household": household}
    decision = latest_decision(session, link) if link.method == "manual" else None
    return {"link": link, "pupil": pupil, "grade_label": grade_label(pupil["grade"]) if pupil else "",
            "candidates": candidates, "people": people, "decision": decision,
            "evidence_items": EVIDENCE}


# --- deciding ------------------------------------------------------------------------------------
def decide(session: Session, pupil_id: str, decision: str, atena_no: str | None, *, actor,
           reason: str | None = None) -> PupilLink:
    """Record a staff decision on a roster row and apply it; the caller commits.

    confirm: link to the candidate; reject: drop that candidate (the row stays in review while other
    candidates remain); none: no resident is this pupil. A row that already has a decision in force
    changes only with a `reason` (shown with the decision and kept in the audit trail).
    """
    link = session.get(PupilLink, pupil_id)
    if link is None:
        raise ReviewError("この児童生徒番号の照合結果はありません。")
    if decision not in DECISIONS:
        raise ReviewError("判断の種類が正しくありません。")
    candidates = session.scalars(select(LinkCandidate).where(LinkCandidate.pupil_id == pupil_id)).all()
    if decision != "none" and atena_no not in {c.atena_no for c in candidates}:
        raise ReviewError("この児童生徒の候補ではない宛名番号です。")
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        raise ReviewError(f"理由は{REASON_MAX}文字以内で入力してください。")
    earlier = latest_decision(session, link) if link.method == "manual" else None
    if earlier is not None and reason is None:
        raise ReviewError("すでに判断が記録されています。判断を変更するときは理由を入力してください。")
    if earlier is not None and decision == "reject":
        raise ReviewError("記録済みの判断を変更するときは、別の候補で確定するか「該当者なし」を選んでください。")
    who = audit.as_actor(actor)
    session.add(LinkDecision(pupil_id=pupil_id, fingerprint=link.fingerprint, decision=decision,
                             atena_no=atena_no if decision != "none" else None, actor_id=who.id,
                             actor=who.label, reason=reason, decided_at=clock.now()))
    if decision == "confirm":
        link.atena_no, link.status, link.method, link.score = atena_no, "linked", "manual", None
    elif decision == "none":
        link.atena_no, link.status, link.method = None, "unlinked", "manual"
    else:
        session.execute(delete(LinkCandidate).where(LinkCandidate.pupil_id == pupil_id,
                                                    LinkCandidate.atena_no == atena_no))
        if not [c for c in candidates if c.atena_no != atena_no]:
            link.status, link.method = "unlinked", "manual"
    audit.record(session, "link_decision", actor=who, target_type="pupil", target_id=pupil_id,
                 detail={"decision": decision, "atena_no": atena_no,
                         "changed_from": earlier.decision if earlier else None, "reason": reason})
    return link
