"""Linking a LINE user to a resident by the online application ID (オンライン申請ID), with throttling."""
from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    import pandas as pd

from notifier import audit, clock
from notifier.models import LineAccount, LinkAttempt
from notifier.models.sources import SOURCE_TABLES
from notifier.residents import current_condition
from notifier.vector import isin

MAX_FAILURES_PER_HOUR = 5
# Something that could be an application ID once hyphens, spaces and case are ignored.
_ID_SHAPE = re.compile(r"^[A-Z0-9]{8,20}$")


def normalise_application_id(raw: str) -> str:
    """Full-width or half-width, with or without hyphens (or look-alikes), any case → one key."""
    s = unicodedata.normalize("NFKC", raw).upper()
    return re.sub(r"[\s\-‐‑‒–—―ー−_]", "", s)


def looks_like_application_id(raw: str) -> bool:
    return bool(_ID_SHAPE.match(normalise_application_id(raw)))


def find_account(session: Session, line_user_id: str) -> LineAccount | None:
    return session.scalar(select(LineAccount).where(LineAccount.line_user_id == line_user_id))


def get_or_create_account(session: Session, line_user_id: str) -> LineAccount:
    account = session.scalar(select(LineAccount).where(LineAccount.line_user_id == line_user_id))
    if account is None:
        account = LineAccount(line_user_id=line_user_id, reachable=True)
        session.add(account)
        session.flush()
    return account


def is_throttled(session: Session, line_user_id: str) -> bool:
    since = clock.now() - timedelta(hours=1)
    failures = session.scalar(select(func.count()).select_from(LinkAttempt).where(
        LinkAttempt.line_user_id == line_user_id, LinkAttempt.success.is_(False),
        LinkAttempt.attempted_at >= since))
    return failures >= MAX_FAILURES_PER_HOUR


def find_applicant(session: Session, application_id: str) -> str | None:
    """The current resident who holds this online application ID, or None."""
    shinsei = SOURCE_TABLES["online_shinsei"]
    jumin = SOURCE_TABLES["juminhyo"]
    key = normalise_application_id(application_id)
    stored_key = func.upper(func.replace(func.replace(shinsei.c.application_id, "-", ""), " ", ""))
    atena = session.execute(select(shinsei.c.atena_no).where(stored_key == key).limit(1)).scalar()
    if atena is None:
        return None
    current = session.execute(select(jumin.c.atena_no).where(
        jumin.c.atena_no == atena, current_condition(jumin, clock.today_jst())).limit(1)).scalar()
    return current


def try_link(session: Session, account: LineAccount, application_id: str, channel: str) -> str:
    """Link the account to the applicant. Returns linked | unknown | taken | throttled.

    The caller answers `unknown` and `taken` with the same neutral text.
    """
    if is_throttled(session, account.line_user_id):
        return "throttled"
    atena = find_applicant(session, application_id)
    if atena is None:
        session.add(LinkAttempt(line_user_id=account.line_user_id, success=False))
        return "unknown"
    other = session.scalar(select(LineAccount).where(LineAccount.atena_no == atena,
                                                     LineAccount.id != account.id))
    if other is not None:
        session.add(LinkAttempt(line_user_id=account.line_user_id, success=False))
        audit.record(session, "line_link", actor="line", target_type="resident", target_id=atena,
                     detail={"result": "refused_already_linked", "account": account.id, "linked_account": other.id})
        return "taken"
    session.add(LinkAttempt(line_user_id=account.line_user_id, success=True))
    if account.atena_no != atena:
        account.atena_no = atena
        account.linked_at = clock.now()
        account.link_channel = channel
        audit.record(session, "line_link", actor="line", target_type="resident", target_id=atena,
                     detail={"result": "linked", "account": account.id, "channel": channel})
    return "linked"


def unlink(session: Session, account: LineAccount, *, actor, reason: str) -> None:
    """Staff action: free an application ID linked to the wrong LINE user."""
    atena = account.atena_no
    account.atena_no = None
    account.linked_at = None
    audit.record(session, "line_link", actor=actor, target_type="resident", target_id=atena,
                 detail={"result": "unlinked", "account": account.id, "reason": reason})


def notifiable_accounts(session: Session, as_of) -> pd.DataFrame:
    """LINE accounts a notice may go to on `as_of`: linked, still following, the resident current
    (a resident who moved out or died — 消除日 on or before as_of — is never used), and the resident
    holding `notify`. Columns: setai_no, atena_no, line_user_id, account_id.
    """
    import pandas as pd

    from notifier.consent.state import person_state

    jumin = SOURCE_TABLES["juminhyo"]
    accounts = pd.DataFrame(session.execute(
        select(LineAccount.id, LineAccount.line_user_id, LineAccount.atena_no)
        .where(LineAccount.atena_no.is_not(None), LineAccount.reachable.is_(True))).all(),
        columns=["account_id", "line_user_id", "atena_no"])
    residents = pd.DataFrame(session.execute(
        select(jumin.c.atena_no, jumin.c.setai_no)
        .where(jumin.c.atena_no.in_(accounts["atena_no"].tolist()), current_condition(jumin, as_of))).all(),
        columns=["atena_no", "setai_no"])
    from notifier.consent.service import load_events
    state = person_state(load_events(session, accounts["atena_no"].tolist()))
    notify = state.index[state["notify"]] if len(state) else pd.Index([])
    out = accounts.merge(residents[["atena_no", "setai_no"]], on="atena_no")
    out = out[isin(out["atena_no"], notify)]
    return out[["setai_no", "atena_no", "line_user_id", "account_id"]].reset_index(drop=True)
