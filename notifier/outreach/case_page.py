"""What a case page shows (service): the household's members with ages and school grades, the rule and
its reasons, the notices, reminders and opens, the household's consent history, the priority signals,
the legal basis for sharing, and the case's contacts and outcomes. A few small queries for one
household; the view is audited here.

Hidden by permission, as on the household page: reasons built on tax data without the tax
permission; reasons and priority signals built on welfare or child-welfare data (生活保護, 児童扶養手当,
家庭児童相談) without the child-welfare permission. A caseworker sees neither, whatever flags their
account carries, nor the consent history, only the reasons and signals their route needs. Hidden items
are counted, never named, and a signal's points still count toward the total.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier import audit
from notifier.contract import CONSENT_SCOPE_LABELS, GRADE_LABELS, OUTREACH_ROUTES
from notifier.models import (
    SOURCE_TABLES,
    ConsentEvent,
    Delivery,
    EligibilityMatch,
    LinkOpen,
    Notice,
    OutreachCase,
    PupilLink,
)
from notifier.outreach import cases as case_service
from notifier.outreach.household import WELFARE_CLASSES
from notifier.residents import current_condition

HIDDEN_NOTE = "権限がないため表示していません"
RELATION_ORDER = {"世帯主": 0, "妻": 1, "夫": 1, "子": 2}


@dataclass
class CasePage:
    case: OutreachCase
    rule_name: str
    route_label: str
    members: list[dict]
    reasons: list[str]
    hidden_reasons: int
    notices: list[dict]
    consents: list[dict] | None
    signals: list[dict]
    hidden_signals: int
    events: list[dict]
    legal_basis: str
    sees_consents: bool = True
    notes: list[str] = field(default_factory=list)


def _age(birth: date | None, today: date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def members(session: Session, setai_no: str, today: date) -> list[dict]:
    """Current residents of the household: relation, name, age, and school and grade for pupils."""
    jumin = SOURCE_TABLES["juminhyo"]
    roster = SOURCE_TABLES["gakureibo"]
    rows = session.execute(select(jumin.c.atena_no, jumin.c.name, jumin.c.name_kana, jumin.c.birth_date,
                                  jumin.c.relation, jumin.c.sex)
                           .where(jumin.c.setai_no == setai_no, current_condition(jumin, today))).mappings().all()
    atena = [r["atena_no"] for r in rows]
    pupils = {}
    if atena:
        for a, grade, school in session.execute(
                select(PupilLink.atena_no, roster.c.grade, roster.c.school_name)
                .join(roster, roster.c.pupil_id == PupilLink.pupil_id)
                .where(PupilLink.atena_no.in_(atena), PupilLink.status == "linked")).all():
            pupils[a] = (GRADE_LABELS.get(grade, str(grade) if grade is not None else ""), school)
    out = []
    for r in rows:
        grade, school = pupils.get(r["atena_no"], (None, None))
        out.append({"atena_no": r["atena_no"], "name": r["name"], "name_kana": r["name_kana"],
                    "relation": r["relation"], "age": _age(r["birth_date"], today), "grade": grade, "school": school})
    out.sort(key=lambda m: (RELATION_ORDER.get(m["relation"], 3), -(m["age"] or 0)))
    return out


def _reasons(session: Session, case: OutreachCase, viewer) -> tuple[list[str], int]:
    from notifier.eligibility.engine import reason_text
    raw = case.reasons
    if raw is None and case.notice_id is not None:
        match_id = session.scalar(select(Notice.match_id).where(Notice.id == case.notice_id))
        if match_id is not None:
            raw = session.scalar(select(EligibilityMatch.reasons).where(EligibilityMatch.id == match_id))
    reasons = json.loads(raw) if raw else []
    shown, hidden = [], 0
    hidden_classes = ({"tax"} if not case_service.sees_tax(viewer) else set()) \
        | (WELFARE_CLASSES if not case_service.sees_child_welfare(viewer) else set())
    for r in reasons:
        sens = set(r.get("sensitivity") or ())
        if sens & hidden_classes or (sens - {"education"} and not case_service.sees_all(viewer)):
            hidden += 1
            continue
        try:
            shown.append(reason_text(r))
        except (KeyError, TypeError, ValueError):   # a criterion no longer in the catalogue: its stored label
            shown.append(str(r.get("label", "")))
    return shown, hidden


def _notices(session: Session, case: OutreachCase) -> list[dict]:
    ids = [i for i in (case.notice_id, case.reminder_notice_id) if i is not None]
    if not ids:
        return []
    rows = session.execute(select(Notice.id, Notice.kind, Notice.first_sent_at, Delivery.id, Delivery.status)
                           .join(Delivery, Delivery.notice_id == Notice.id, isouter=True)
                           .where(Notice.id.in_(ids)).order_by(Notice.id)).all()
    delivery_ids = [r[3] for r in rows if r[3] is not None]
    opens: dict[int, list] = {}
    if delivery_ids:
        for d, at in session.execute(select(LinkOpen.delivery_id, LinkOpen.opened_at)
                                     .where(LinkOpen.delivery_id.in_(delivery_ids)).order_by(LinkOpen.opened_at)):
            opens.setdefault(d, []).append(at)
    out: dict[int, dict] = {}
    for nid, kind, sent, did, status in rows:
        n = out.setdefault(nid, {"kind": "リマインド" if kind == "reminder" else "お知らせ", "sent_at": sent,
                                 "deliveries": 0, "statuses": [], "opened_at": None})
        if did is not None:
            n["deliveries"] += 1
            n["statuses"].append(status)
            if opens.get(did) and (n["opened_at"] is None or opens[did][0] < n["opened_at"]):
                n["opened_at"] = opens[did][0]     # the first open over all the notice's deliveries
    return list(out.values())


def _consents(session: Session, atena: list[str]) -> list[dict]:
    if not atena:
        return []
    rows = session.execute(select(ConsentEvent.atena_no, ConsentEvent.scope, ConsentEvent.action,
                                  ConsentEvent.channel, ConsentEvent.occurred_at)
                           .where(ConsentEvent.atena_no.in_(atena)).order_by(ConsentEvent.occurred_at)).all()
    return [{"atena_no": a, "scope": CONSENT_SCOPE_LABELS.get(s, s), "action": "同意" if act == "grant" else "撤回",
             "channel": ch, "at": at} for a, s, act, ch, at in rows]


def case_page(session: Session, case_id: int, *, viewer, actor, today: date) -> CasePage:
    """The page's content; raises CaseNotFound for a case the viewer may not see. Audited (view_case)."""
    from notifier.eligibility.dao import rule_names
    case = case_service.get_case(session, case_id, viewer)
    people = members(session, case.setai_no, today)
    reasons, hidden = _reasons(session, case, viewer)
    full = case_service.sees_all(viewer)
    names = {m["atena_no"]: m["name"] for m in people}
    shown, hidden_signals = case_service.visible_signals(case.priority_signals, viewer)
    signals = [{**s, "member_name": names.get(s.get("member"), "") if s.get("member") else ""} for s in shown]
    events = [{"kind": e.kind, "detail": e.detail or {}, "actor": e.actor, "at": e.at}
              for e in case_service.events_of(session, case.id)]
    audit.record(session, "view_case", actor=actor, target_type="outreach_case", target_id=case.id)
    return CasePage(case=case, rule_name=rule_names(session).get(case.rule_id, case.rule_id),
                    route_label=OUTREACH_ROUTES.get(case.route, case.route), members=people, reasons=reasons,
                    hidden_reasons=hidden, notices=_notices(session, case),
                    consents=_consents(session, [m["atena_no"] for m in people]) if full else None,
                    signals=signals, hidden_signals=hidden_signals, events=events, legal_basis=case.legal_basis,
                    sees_consents=full)
