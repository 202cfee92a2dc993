"""Exports of open outreach cases (issue 13 §4, "Masked sharing with partners"): the service behind
`notifier outreach export` and `/outreach/export.csv`.

Three kinds (contract.OUTREACH_EXPORT_KINDS):
- **masked** (the default, for partners): 仮名ID, 町字, 子どもの年齢, 経路, 対象サービス, 状況, 開始日 (the month only: 2026年10月), 担当機関 —
  no name, 宛名番号, 世帯番号 or case id (a case id would be a join key across partners), no reasons from
  tax, welfare, disability or child-welfare data and no outcome (「要対協に登録」 is a child-welfare fact).
  Pseudonyms and the other reductions: outreach/masking.py.
- **key_table** (admins only on the web): 仮名ID → 宛名番号, 氏名 for the same cases and the same partner,
  kept apart from the masked file (the mission's separately held ID-to-name table).
- **identified** (city staff: coordinators and admins on the web): case_id, 世帯番号, 宛名番号 (the
  guardian), rule_id, route, organisation, status, opened_on, last_contact_on, outcome.

Who may make which (`export_organisation`): coordinators (and admins) the masked file of any
organisation or of all; the identified file only with the child-welfare permission as well; the key
table admins only. A caseworker only the masked file of the organisation on their account (the same rows
and pseudonyms as a coordinator's masked file for that organisation), never another's.

Every export writes one audit row (action "export", target_type "outreach_export") in the caller's
transaction, with the kind, the organisation and the number of rows and households — never a person.
Bulk-export alert: a user whose exports of one JST day add up to more than the limit
(BULK_EXPORT_ALERT_HOUSEHOLDS) is listed by `bulk_export_alerts`, computed from those audit rows (no
table of its own), and a warning is logged (the user and the count only).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifier import audit, clock
from notifier.contract import CASE_STATUS_LABELS, OUTREACH_EXPORT_KINDS, OUTREACH_ROUTES
from notifier.eligibility.dao import rule_names
from notifier.models import SOURCE_TABLES, AuditEvent, OutreachCase, OutreachCaseEvent, StaffUser
from notifier.outreach import masking
from notifier.residents import current_mask

log = logging.getLogger(__name__)

MASKED_COLUMNS = ["仮名ID", "町字", "子どもの年齢", "経路", "対象サービス", "状況", "開始日", "担当機関"]
KEY_TABLE_COLUMNS = ["仮名ID", "宛名番号", "氏名"]
IDENTIFIED_COLUMNS = ["case_id", "世帯番号", "宛名番号", "rule_id", "route", "organisation", "status", "opened_on",
                      "last_contact_on", "outcome"]
COLUMNS = {"masked": MASKED_COLUMNS, "key_table": KEY_TABLE_COLUMNS, "identified": IDENTIFIED_COLUMNS}
AUDIT_TARGET = "outreach_export"
_CHUNK = 500


class ExportError(ValueError):
    """The export cannot be made; the message is one Japanese line for the user."""


class ExportDenied(PermissionError):
    """This user may not make this export (the web answers 403 and records the refusal)."""


# Roles that choose the organisation of an export of each kind (admin always passes has_role).
EXPORT_ROLES = {"masked": ("coordinator",), "identified": ("coordinator",), "key_table": ("admin",)}


def export_organisation(viewer, kind: str, requested: str | None) -> str | None:
    """The organisation `viewer`'s export of `kind` covers (None: every organisation), or ExportDenied.

    City staff choose it (`requested`). A caseworker's is the organisation on their account, never one
    from the request: they get the masked file only, and a request naming another organisation is
    refused rather than quietly answered with their own.
    """
    if kind not in EXPORT_ROLES:
        raise ExportError(f"出力の種類「{kind}」は使えません（{', '.join(OUTREACH_EXPORT_KINDS)} のいずれか）。")
    if viewer.has_role(*EXPORT_ROLES[kind]):
        if kind == "identified" and not viewer.child_welfare_permission:
            raise ExportDenied(kind)
        return requested
    own = (viewer.organisation or "").strip()
    if (kind == "masked" and viewer.has_role("caseworker") and own
            and (requested or "").strip() in ("", own)):
        return own
    raise ExportDenied(kind)


@dataclass
class ExportResult:
    kind: str
    organisation: str | None
    columns: list[str]
    rows: list[dict]
    households: int
    day_total: int = 0                      # households this user exported today (JST), this one included
    alert: bool = False                     # day_total is over the limit
    limit: int = 0
    extra: dict = field(default_factory=dict)

    def csv(self) -> str:
        return masking.to_csv(self.columns, self.rows)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "organisation": self.organisation, "rows": len(self.rows),
                "households": self.households, "day_total": self.day_total, "bulk_alert": self.alert}


# --- reading -------------------------------------------------------------------------------------
def known_organisations(session: Session) -> set[str]:
    """Organisations an export may name: those cases were assigned to and those of staff accounts."""
    orgs = set(session.scalars(select(OutreachCase.assigned_org).distinct()))
    orgs |= set(session.scalars(select(StaffUser.organisation).distinct()))
    return {o for o in orgs if o}


def check_organisation(session: Session, organisation: str | None) -> str | None:
    if organisation is None:
        return None
    name = organisation.strip()
    if not name:
        raise ExportError("組織名が空です。--organisation には連携機関の名前を指定してください。")
    if name not in known_organisations(session):
        raise ExportError(f"組織「{name}」は見つかりません（ケースの担当機関にも職員の所属にもありません）。")
    return name


def open_cases(session: Session, organisation: str | None) -> list[OutreachCase]:
    q = select(OutreachCase).where(OutreachCase.status == "open")
    if organisation is not None:
        q = q.where(OutreachCase.assigned_org == organisation)
    return list(session.scalars(q.order_by(OutreachCase.id)))


def _households(session: Session, setai_nos: list[str], as_of: dt.date) -> pd.DataFrame:
    """masking.household_summaries of these households from the stored registry snapshot."""
    jumin = SOURCE_TABLES["juminhyo"]
    cols = ["setai_no", "atena_no", "name", "relation_norm", "birth_date", "address", "address_code",
            "resident_since", "removed_on"]
    wanted = sorted(set(setai_nos))
    parts = []
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i:i + _CHUNK]
        parts += session.execute(select(*(jumin.c[c] for c in cols)).where(jumin.c.setai_no.in_(chunk))).all()
    frame = pd.DataFrame(parts, columns=cols).rename(columns={"relation_norm": "relation"})
    for c in ("birth_date", "resident_since", "removed_on"):
        frame[c] = pd.to_datetime(frame[c])
    current = current_mask(frame, as_of) if len(frame) else []
    return masking.household_summaries(frame, current, as_of)


def _guardians(session: Session, cases: list[OutreachCase], as_of: dt.date) -> pd.DataFrame:
    hh = _households(session, [c.setai_no for c in cases], as_of)
    # A household no longer in the registry at all keeps a stable stand-in (never its 世帯番号 in a file).
    missing = sorted({c.setai_no for c in cases} - set(hh.index))
    if missing:
        filler = pd.DataFrame({"guardian_atena": [f"世帯:{s}" for s in missing], "guardian_name": "",
                               "choaza": "", "child_ages": ""}, index=pd.Index(missing, name="setai_no"))
        hh = pd.concat([hh, filler])
    return hh


def _opened_on(case: OutreachCase) -> dt.date:
    return clock.utc_to_jst(case.opened_at).date() if case.opened_at else case.as_of


def masked_rows(session: Session, *, organisation: str | None, key: bytes | str, as_of: dt.date) -> list[dict]:
    """The partner's file: one row per open case, sorted by 仮名ID (not by case id)."""
    cases = open_cases(session, organisation)
    hh = _guardians(session, cases, as_of)
    org_key = masking.organisation_key(_key_bytes(key), organisation or "")
    names = rule_names(session)
    rows = []
    for c in cases:
        g = hh.loc[c.setai_no]
        rows.append({"仮名ID": masking.pseudonym(org_key, g["guardian_atena"]), "町字": g["choaza"],
                     "子どもの年齢": g["child_ages"], "経路": OUTREACH_ROUTES.get(c.route, c.route),
                     "対象サービス": names.get(c.rule_id, c.rule_id), "状況": CASE_STATUS_LABELS.get(c.status, c.status),
                     "開始日": masking.month_text(_opened_on(c)), "担当機関": c.assigned_org or ""})
    rows.sort(key=lambda r: (r["仮名ID"], r["対象サービス"], r["開始日"]))
    return rows


def key_table_rows(session: Session, *, organisation: str | None, key: bytes | str, as_of: dt.date) -> list[dict]:
    """仮名ID → 宛名番号, 氏名 for the same cases as `masked_rows` (one row per person)."""
    cases = open_cases(session, organisation)
    hh = _guardians(session, cases, as_of)
    org_key = masking.organisation_key(_key_bytes(key), organisation or "")
    seen: dict[str, dict] = {}
    for c in cases:
        g = hh.loc[c.setai_no]
        pid = masking.pseudonym(org_key, g["guardian_atena"])
        atena = g["guardian_atena"]
        seen.setdefault(pid, {"仮名ID": pid, "宛名番号": "" if atena.startswith("世帯:") else atena,
                              "氏名": g["guardian_name"]})
    return [seen[p] for p in sorted(seen)]


def identified_rows(session: Session, *, organisation: str | None, as_of: dt.date, key=None) -> list[dict]:
    """City staff's file: one row per open case with its identifiers (IDENTIFIED_COLUMNS)."""
    cases = open_cases(session, organisation)
    hh = _guardians(session, cases, as_of)
    last_contact = {}
    ids = [c.id for c in cases]
    for i in range(0, len(ids), _CHUNK):
        last_contact.update(session.execute(
            select(OutreachCaseEvent.case_id, func.max(OutreachCaseEvent.at))
            .where(OutreachCaseEvent.kind == "contact", OutreachCaseEvent.case_id.in_(ids[i:i + _CHUNK]))
            .group_by(OutreachCaseEvent.case_id)).all())
    rows = []
    for c in cases:
        atena = hh.loc[c.setai_no, "guardian_atena"]
        contact = last_contact.get(c.id)
        rows.append({"case_id": c.id, "世帯番号": c.setai_no, "宛名番号": "" if atena.startswith("世帯:") else atena,
                     "rule_id": c.rule_id, "route": c.route, "organisation": c.assigned_org or "",
                     "status": c.status, "opened_on": _opened_on(c).isoformat(),
                     "last_contact_on": clock.utc_to_jst(contact).date().isoformat() if contact else "",
                     "outcome": c.outcome or ""})
    return rows


ROWS = {"masked": masked_rows, "key_table": key_table_rows, "identified": identified_rows}


def _key_bytes(key: bytes | str | None) -> bytes:
    if not key:
        raise ExportError("仮名IDの鍵がありません。PSEUDONYM_KEY（または SECRET_KEY）を設定してください。")
    return key if isinstance(key, bytes) else key.encode("utf-8")


# --- the export: rows, audit, alert --------------------------------------------------------------
def export(session: Session, kind: str, *, organisation: str | None, key: bytes | str | None, as_of: dt.date,
           actor, alert_limit: int) -> ExportResult:
    """Rows of one export and its audit row (flushed, not committed: the caller owns the transaction)."""
    if kind not in OUTREACH_EXPORT_KINDS:
        raise ExportError(f"出力の種類「{kind}」は使えません（{', '.join(OUTREACH_EXPORT_KINDS)} のいずれか）。")
    organisation = check_organisation(session, organisation)
    if kind != "identified":
        _key_bytes(key)
    rows = ROWS[kind](session, organisation=organisation, key=key, as_of=as_of)
    if kind == "identified":
        households = len({r["世帯番号"] for r in rows})
    elif kind == "key_table":
        households = len(rows)
    else:
        households = len({r["仮名ID"] for r in rows})
    audit.record(session, "export", actor=actor, target_type=AUDIT_TARGET, target_id=kind,
                 detail={"kind": kind, "organisation": organisation, "rows": len(rows), "households": households,
                         "as_of": as_of.isoformat()})
    session.flush()
    who = audit.as_actor(actor)
    total = _day_totals(session, clock.today_jst()).get(who.label, 0)
    result = ExportResult(kind, organisation, COLUMNS[kind], rows, households, day_total=total,
                          alert=total > alert_limit, limit=alert_limit)
    if result.alert:
        log.warning("bulk export alert: %s exported %d households today (JST), over the limit of %d",
                    who.label, total, alert_limit)
    return result


def _day_totals(session: Session, day: dt.date) -> dict[str, int]:
    """Households exported per user (audit actor label) on JST `day`, from the audit rows."""
    start = clock.jst_date_to_utc_start(day)
    end = clock.jst_date_to_utc_start(day + dt.timedelta(days=1))
    totals: dict[str, int] = {}
    for actor, detail in session.execute(
            select(AuditEvent.actor, AuditEvent.detail)
            .where(AuditEvent.action == "export", AuditEvent.target_type == AUDIT_TARGET,
                   AuditEvent.at >= start, AuditEvent.at < end)):
        n = (detail or {}).get("households") if isinstance(detail, dict) else None
        totals[actor] = totals.get(actor, 0) + (int(n) if isinstance(n, int) else 0)
    return totals


def bulk_export_alerts(session: Session, day: dt.date, limit: int) -> list[dict]:
    """Users who exported more than `limit` households of outreach cases on JST `day`: the dashboard's
    list (user, households), most first."""
    totals = _day_totals(session, day)
    return [{"actor": a, "households": n, "limit": limit}
            for a, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])) if n > limit]
