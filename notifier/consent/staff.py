"""What the staff consent page (同意の管理) reads: a household by either number, its current members
with their consent state, full history and LINE accounts, and the latest event of a resident."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from notifier import clock
from notifier.consent import service as consent
from notifier.models import ConsentEvent, ConsentText, LineAccount
from notifier.models.sources import SOURCE_TABLES
from notifier.residents import current_condition


def find_household(session: Session, number: str, kind: str) -> str | None:
    t = SOURCE_TABLES["juminhyo"]
    if kind == "setai":
        return session.execute(select(t.c.setai_no).where(t.c.setai_no == number).limit(1)).scalar()
    return consent.household_of(session, number)


def household_members(session: Session, setai_no: str) -> list[dict]:
    """Current members (head of household first, then by birth date)."""
    t = SOURCE_TABLES["juminhyo"]
    rows = session.execute(
        select(t.c.atena_no, t.c.name, t.c.name_kana, t.c.birth_date, t.c.relation)
        .where(t.c.setai_no == setai_no, current_condition(t, clock.today_jst()))
        .order_by(case((t.c.relation == "世帯主", 0), else_=1), t.c.birth_date, t.c.atena_no)).mappings().all()
    return [dict(r) for r in rows]


def household_view(session: Session, setai_no: str) -> list[dict]:
    """Members with their current consent state, full history and LINE accounts."""
    members = household_members(session, setai_no)
    atenas = [m["atena_no"] for m in members]
    history: dict[str, list] = {a: [] for a in atenas}
    events = session.execute(
        select(ConsentEvent, ConsentText.version)
        .outerjoin(ConsentText, ConsentEvent.text_id == ConsentText.id)
        .where(ConsentEvent.atena_no.in_(atenas))
        .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())).all() if atenas else []
    for event, version in events:
        history[event.atena_no].append({"event": event, "text_version": version})
    lines: dict[str, list] = {a: [] for a in atenas}
    if atenas:
        for account in session.scalars(select(LineAccount).where(LineAccount.atena_no.in_(atenas))
                                       .order_by(LineAccount.id)):
            lines[account.atena_no].append(account)
    for m in members:
        m["state"] = consent.resident_state(session, m["atena_no"])
        m["history"] = history[m["atena_no"]]
        m["line_accounts"] = lines[m["atena_no"]]
    return members


def latest_event_at(session: Session, atena_no: str, scopes: list[str]) -> datetime | None:
    return session.scalar(select(func.max(ConsentEvent.occurred_at))
                          .where(ConsentEvent.atena_no == atena_no, ConsentEvent.scope.in_(scopes)))


def account(session: Session, account_id: int | None) -> LineAccount | None:
    """A LINE account by its number (None for a number no row can have)."""
    return session.get(LineAccount, account_id) if account_id and 0 < account_id < 2**31 else None
