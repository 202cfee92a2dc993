"""Outreach cases as coordinators and caseworkers work them (service): priority points stored on each
open case, the versioned points table, and the actions on a case — assign to an organisation, log a
contact, record an outcome, close, open one by hand. Every change writes a case event and one audit
row in the caller's transaction.

Who may see a case: coordinators and admins every case; a caseworker only the cases assigned to their
own organisation (`visible_condition`). A case the viewer may not see is reported as not found, so a
caseworker cannot learn that another school's case exists.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from notifier import audit, clock
from notifier.contract import CASE_OUTCOMES, CONTACT_KINDS, CONTACT_RESULTS, OUTREACH_LEGAL_BASIS, OUTREACH_ROUTES
from notifier.models import SOURCE_TABLES, OutreachCase, OutreachCaseEvent, PriorityScheme
from notifier.outreach import priority
from notifier.residents import current_condition

# The sources the priority points read (never tax), besides the registry.
PRIORITY_SOURCES = ("gakureibo", "shusseki", "boshi_kenshin", "hoiku", "shogai_techo", "seikatsu_hogo",
                    "jido_fuyo_teate")
NOTE_MAX = 2000
ORG_MAX = 200


class CaseError(ValueError):
    """A request staff can fix (Japanese message)."""


class CaseNotFound(LookupError):
    """No such case, or one the viewer may not see."""


# --- who sees what --------------------------------------------------------------------------------
def sees_all(viewer) -> bool:
    return viewer.has_role("coordinator")


def sees_tax(viewer) -> bool:
    """Tax-derived values: a coordinator (or admin) with the tax permission; a caseworker never, even
    if the flag was set on their account by mistake."""
    return sees_all(viewer) and bool(viewer.sees_tax)


def sees_child_welfare(viewer) -> bool:
    """生活保護, 児童扶養手当 and 家庭児童相談 (welfare and child-welfare sources): a coordinator (or admin)
    with the child-welfare permission, as on the household page; a caseworker never."""
    return sees_all(viewer) and bool(viewer.child_welfare_permission)


# The signals a caseworker's route needs (school attendance, nursery, check-ups), and the signals built
# on welfare sources (生活保護; 児童扶養手当 within ひとり親), which the household page shows only with the
# child-welfare permission. Every signal's points count toward the order whoever looks.
ROUTE_SIGNALS = frozenset({"attendance", "absence_months", "not_in_nursery", "missed_checkup"})
WELFARE_SIGNALS = frozenset({"public_assistance", "single_parent"})


def visible_signals(signals, viewer) -> tuple[list[dict], int]:
    """(the priority signals `viewer` may read, how many others are hidden)."""
    shown, hidden = [], 0
    full, welfare = sees_all(viewer), sees_child_welfare(viewer)
    for s in signals or []:
        name = s.get("signal")
        if (not full and name not in ROUTE_SIGNALS) or (name in WELFARE_SIGNALS and not welfare):
            hidden += 1
        else:
            shown.append(s)
    return shown, hidden


def visible_condition(viewer):
    """The SQL condition for the cases `viewer` may see (a caseworker: their organisation's only)."""
    if sees_all(viewer):
        return True
    if viewer.has_role("caseworker") and viewer.organisation:
        return OutreachCase.assigned_org == viewer.organisation
    return False


def get_case(session: Session, case_id: int, viewer) -> OutreachCase:
    case = session.scalar(select(OutreachCase).where(OutreachCase.id == case_id, visible_condition(viewer)))
    if case is None:
        raise CaseNotFound(case_id)
    return case


# --- priority points ------------------------------------------------------------------------------
def current_scheme(session: Session) -> tuple[PriorityScheme | None, dict]:
    row = session.scalar(select(PriorityScheme).order_by(PriorityScheme.version.desc()).limit(1))
    return row, priority.validate_scheme(json.loads(row.scheme) if row is not None else {})


def household_table(session: Session, as_of: date):
    from notifier.eligibility.pipeline import build_inputs
    _s, _l, table, _c = build_inputs(session.get_bind(), as_of, names=PRIORITY_SOURCES)
    return table


def area_codes(session: Session, setai_nos, as_of: date) -> dict[str, str]:
    """The 住所コード of each household (the smallest among its current residents)."""
    jumin = SOURCE_TABLES["juminhyo"]
    wanted = sorted({str(s) for s in setai_nos})
    out: dict[str, str] = {}
    for i in range(0, len(wanted), 5000):
        part = wanted[i:i + 5000]
        out.update(session.execute(select(jumin.c.setai_no, func.min(jumin.c.address_code))
                                   .where(jumin.c.setai_no.in_(part), current_condition(jumin, as_of))
                                   .group_by(jumin.c.setai_no)).all())
    return out


def score_cases(session: Session, case_rows: pd.DataFrame, as_of: date, *, table=None,
                scheme: tuple[PriorityScheme | None, dict] | None = None) -> int:
    """Store points, signals and area code on the cases in `case_rows` (columns id, setai_no): one
    bulk UPDATE by primary key."""
    if not len(case_rows):
        return 0
    row, s = scheme or current_scheme(session)
    table = table if table is not None else household_table(session, as_of)
    setai = case_rows["setai_no"].astype(str)
    scores = priority.score(table, s, setai_nos=sorted(set(setai)))
    by_household = {k: g.drop(columns="setai_no").to_dict("records")
                    for k, g in scores.signals.groupby("setai_no", sort=False)}
    areas = area_codes(session, setai, as_of)
    params = [{"id": int(i), "priority_points": int(scores.points.get(h, 0)),
               "priority_signals": by_household.get(h, []), "area_code": areas.get(h),
               "priority_scheme_id": row.id if row is not None else None}
              for i, h in zip(case_rows["id"], setai, strict=True)]
    session.execute(update(OutreachCase), params)
    return len(params)


def open_case_frame(session: Session) -> pd.DataFrame:
    return pd.DataFrame(session.execute(select(OutreachCase.id, OutreachCase.setai_no, OutreachCase.priority_points)
                                        .where(OutreachCase.status == "open")).all(),
                        columns=["id", "setai_no", "priority_points"])


def preview_scheme(session: Session, proposed: dict, as_of: date, *, top: int = 20) -> list[dict]:
    """How the worklist order would change under `proposed` (nothing saved): the top households with
    their current and proposed points and ranks."""
    s = priority.validate_scheme(proposed)
    cases = open_case_frame(session)
    if not len(cases):
        return []
    table = household_table(session, as_of)
    households = sorted(set(cases["setai_no"].astype(str)))
    current = cases.groupby("setai_no")["priority_points"].max().reindex(households).fillna(0).astype(int)
    return priority.reorder_preview(current, priority.score(table, s, setai_nos=households).points, top=top)


def record_scheme_view(session: Session, row: PriorityScheme | None, *, actor,
                       preview: list[dict] | None = None) -> None:
    """The audit row of a view of the points table page: the worklist's view action on the table's
    version (0: the shipped defaults). A preview lists households with their points, so its row says
    how many (nothing is saved by a preview)."""
    detail = {"page": "priority"} if preview is None else {"page": "priority_preview", "households": len(preview)}
    audit.record(session, "view_worklist", actor=actor, target_type="priority_scheme",
                 target_id=row.version if row is not None else 0, detail=detail)


def save_scheme(session: Session, scheme: dict, *, actor, as_of: date, note: str | None = None) -> PriorityScheme:
    """A new version of the points table, in use at once: every open case is rescored in the same
    transaction, and the change is audited (with the old and new version)."""
    try:
        s = priority.validate_scheme(scheme)
    except priority.SchemeError as exc:
        raise CaseError(str(exc)) from exc
    old, old_s = current_scheme(session)
    if old_s == s:
        raise CaseError("点数表に変更がありません。")
    version = (old.version if old is not None else 0) + 1
    row = PriorityScheme(version=version, scheme=priority.scheme_json(s), note=(note or "").strip()[:NOTE_MAX] or None,
                         created_by=audit.actor_label(actor)[:64], created_at=clock.now())
    session.add(row)
    session.flush()
    rescored = score_cases(session, open_case_frame(session), as_of, scheme=(row, s))
    changed = sorted(k for k in s if s[k] != old_s.get(k))
    audit.record(session, "priority_change", actor=actor, target_type="priority_scheme", target_id=version,
                 detail={"from_version": old.version if old is not None else 0, "signals": changed,
                         "rescored": rescored})
    return row


# --- actions on a case ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Contact:
    kind: str
    on: date
    result: str
    note: str = ""


def _event(session: Session, case: OutreachCase, kind: str, detail: dict, actor) -> None:
    session.add(OutreachCaseEvent(case_id=case.id, kind=kind, detail=detail,
                                  actor=audit.actor_label(actor)[:64], at=clock.now()))
    audit.record(session, "case_change", actor=actor, target_type="outreach_case", target_id=case.id,
                 detail={"change": kind, **{k: v for k, v in detail.items() if k in ("organisation", "outcome",
                                                                                    "contact_kind", "result")}})


def _open(case: OutreachCase) -> None:
    if case.status != "open":
        raise CaseError("このケースは終了しています。")


def _note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise CaseError(f"メモは {NOTE_MAX} 文字以内で入力してください。")
    return note


def assign(session: Session, case_id: int, organisation: str, *, viewer, actor) -> OutreachCase:
    if not sees_all(viewer):
        raise CaseNotFound(case_id)
    case = get_case(session, case_id, viewer)
    _open(case)
    organisation = (organisation or "").strip()
    if not organisation:
        raise CaseError("担当する機関を選んでください。")
    if len(organisation) > ORG_MAX:
        raise CaseError(f"機関名は {ORG_MAX} 文字以内です。")
    if organisation == case.assigned_org:
        raise CaseError("すでにこの機関に割り当てられています。")
    previous = case.assigned_org
    case.assigned_org = organisation
    _event(session, case, "assigned", {"organisation": organisation, "previous": previous}, actor)
    return case


def log_contact(session: Session, case_id: int, contact: Contact, *, viewer, actor, today: date) -> OutreachCase:
    case = get_case(session, case_id, viewer)
    _open(case)
    if contact.kind not in CONTACT_KINDS:
        raise CaseError("連絡の方法を選んでください。")
    if contact.result not in CONTACT_RESULTS:
        raise CaseError("結果を選んでください。")
    if contact.on > today:
        raise CaseError("未来の日付は記録できません。")
    if contact.on < case.as_of:
        raise CaseError("ケースを開始した日より前の日付です。")
    note = _note(contact.note)
    if case.last_contact_on is None or contact.on > case.last_contact_on:
        case.last_contact_on = contact.on
    _event(session, case, "contact", {"contact_kind": contact.kind, "on": contact.on.isoformat(),
                                      "result": contact.result, "note": note}, actor)
    return case


def record_outcome(session: Session, case_id: int, outcome: str, *, note: str | None = None, close: bool = False,
                   viewer, actor) -> OutreachCase:
    """Record an outcome; `close` also closes the case with the outcome as its reason (接触できず継続
    never closes). 転出 always closes."""
    case = get_case(session, case_id, viewer)
    _open(case)
    if outcome not in CASE_OUTCOMES:
        raise CaseError("結果を一覧から選んでください。")
    note = _note(note)
    case.outcome = outcome
    _event(session, case, "outcome", {"outcome": outcome, "note": note}, actor)
    if outcome == "転出" or (close and outcome != "接触できず継続"):
        _close(session, case, outcome, actor)
    return case


def close_case(session: Session, case_id: int, reason: str, *, viewer, actor) -> OutreachCase:
    case = get_case(session, case_id, viewer)
    _open(case)
    reason = _note(reason)
    if not reason:
        raise CaseError("終了の理由を入力してください。")
    _close(session, case, reason, actor)
    return case


def _close(session: Session, case: OutreachCase, reason: str, actor) -> None:
    case.status, case.open_key, case.closed_at, case.close_reason = "closed", None, clock.now(), reason
    _event(session, case, "closed", {"reason": reason, "outcome": case.outcome}, actor)


def open_by_hand(session: Session, setai_no: str, rule_id: str, *, route: str, note: str | None, viewer, actor,
                 as_of: date) -> OutreachCase:
    """A case a coordinator opens from a household page: the household must be current and the rule
    active; one open case per (household, rule). The school is the youngest pupil's, as follow-up's."""
    from notifier.eligibility.dao import active_pair
    if not sees_all(viewer):
        raise CaseError("ケースを開始する権限がありません。")
    if route not in OUTREACH_ROUTES:
        raise CaseError("確認の経路を選んでください。")
    pair = active_pair(session, rule_id)
    if pair is None:
        raise CaseError("有効なルールを選んでください。")
    jumin = SOURCE_TABLES["juminhyo"]
    present = session.scalar(select(func.count()).select_from(jumin)
                             .where(jumin.c.setai_no == setai_no, current_condition(jumin, as_of)))
    if not present:
        raise CaseError("この世帯には現在の住民がいません。")
    key = f"{setai_no}|{rule_id}"
    if session.scalar(select(OutreachCase.id).where(OutreachCase.open_key == key)) is not None:
        raise CaseError("この世帯とルールの対応中のケースがすでにあります。")
    from notifier.outreach.routes import suggest_routes
    table = household_table(session, as_of)
    school = suggest_routes(table, [setai_no]).iloc[0]
    case = OutreachCase(open_key=key, setai_no=setai_no, rule_id=rule_id, rule_version_id=pair[0].id, route=route,
                        school_code=school["school_code"], school_name=school["school_name"],
                        legal_basis=OUTREACH_LEGAL_BASIS, status="open", as_of=as_of, opened_at=clock.now())
    session.add(case)
    session.flush()
    score_cases(session, pd.DataFrame({"id": [case.id], "setai_no": [setai_no]}), as_of, table=table)
    _event(session, case, "opened", {"route": route, "by_hand": True, "note": _note(note)}, actor)
    return case


def events_of(session: Session, case_id: int) -> list[OutreachCaseEvent]:
    return list(session.scalars(select(OutreachCaseEvent).where(OutreachCaseEvent.case_id == case_id)
                                .order_by(OutreachCaseEvent.at, OutreachCaseEvent.id)))


def organisations(session: Session) -> list[str]:
    """Organisations to assign to: those already used, plus the schools on the roster."""
    used = set(session.scalars(select(OutreachCase.assigned_org).where(OutreachCase.assigned_org.is_not(None))
                               .distinct()))
    roster = SOURCE_TABLES["gakureibo"]
    schools = set(session.scalars(select(roster.c.school_name).where(roster.c.school_name.is_not(None)).distinct()))
    return sorted(used | schools)

