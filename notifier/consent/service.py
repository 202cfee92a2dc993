"""Grant and withdraw consent: every change is a new ConsentEvent row; nothing is updated in place."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from notifier import audit, clock
from notifier.consent.state import person_state
from notifier.models import ConsentEvent, ConsentText
from notifier.models.sources import SOURCE_TABLES
from notifier.residents import current_condition


class ConsentError(ValueError):
    """A consent change that is not allowed; the message is Japanese, for staff or the resident."""


def current_text(session: Session, scope: str) -> ConsentText:
    return session.scalars(select(ConsentText).where(ConsentText.scope == scope)
                           .order_by(ConsentText.version.desc()).limit(1)).one()


def publish_text(session: Session, scope: str, text: str) -> ConsentText:
    """A changed wording becomes a new version; old grants keep pointing at the text they agreed to."""
    current = current_text(session, scope)
    if current.text == text:
        return current
    row = ConsentText(scope=scope, version=current.version + 1, text=text)
    session.add(row)
    session.flush()
    return row


EVENT_COLUMNS = ["id", "atena_no", "scope", "action", "occurred_at"]


def load_events(db, atena_nos=None, *, before=None) -> pd.DataFrame:
    """The consent history as consent.state reads it (id, atena_no, scope, action, occurred_at): every
    event, or those of `atena_nos`, or those that occurred before `before` (naive UTC). `db` is a
    Session or a Connection."""
    if atena_nos is None and before is None:
        # The whole history (the batch and the dashboards): one bulk read in the caller's transaction.
        from notifier import bulk
        conn = db.connection() if isinstance(db, Session) else db
        frame = bulk.read_frame(conn, ConsentEvent.__tablename__, EVENT_COLUMNS, nullable=set())
        return frame.astype({"id": "int64"}).assign(
            occurred_at=pd.to_datetime(frame["occurred_at"], format="ISO8601").astype("datetime64[us]"))
    query = select(ConsentEvent.id, ConsentEvent.atena_no, ConsentEvent.scope, ConsentEvent.action,
                   ConsentEvent.occurred_at)
    if atena_nos is not None:
        query = query.where(ConsentEvent.atena_no.in_(list(atena_nos)))
    if before is not None:
        query = query.where(ConsentEvent.occurred_at < before)
    rows = db.execute(query).all()
    # Column by column: much faster than a frame from Row objects for the city's ~70,000 events.
    return pd.DataFrame(dict(zip(EVENT_COLUMNS, zip(*rows), strict=True)) if rows else {c: [] for c in EVENT_COLUMNS})


def resident_state(session: Session, atena_no: str) -> dict[str, bool]:
    state = person_state(load_events(session, [atena_no]))
    if atena_no not in state.index:
        return {"notify": False, "tax": False}
    return {k: bool(v) for k, v in state.loc[atena_no].items()}


def household_of(session: Session, atena_no: str) -> str | None:
    t = SOURCE_TABLES["juminhyo"]
    # The household they live in today; a former row only for someone no longer current.
    current = case((current_condition(t, clock.today_jst()), 0), else_=1)
    return session.execute(select(t.c.setai_no).where(t.c.atena_no == atena_no)
                           .order_by(current, t.c.id.desc())).scalars().first()


def record(session: Session, atena_no: str, *, actor, grant: list[str] = (), withdraw: list[str] = (),
           channel: str, occurred_at: datetime | None = None, staff_id: str | None = None,
           line_account_id: int | None = None, reference: str | None = None,
           cause: str | None = None) -> list[ConsentEvent]:
    """Write the grant/withdraw rows for one resident's one statement, and its `consent_change`
    audit row in the same session (none when nothing changes).

    `tax` can only be granted together with, or while holding, `notify`; withdrawing `notify`
    withdraws `tax` too. `actor` is who recorded it: the staff user at a counter, "line" for a
    resident's own statement over LINE or the LIFF page. `cause` says why, when it is a side effect
    (e.g. "unlink", "unfollow"). Returns the rows added.
    """
    grant, withdraw = list(dict.fromkeys(grant)), list(dict.fromkeys(withdraw))
    if set(grant) & set(withdraw):
        raise ConsentError("同じ範囲を同時に同意・撤回することはできません。")
    for scope in grant + withdraw:
        if scope not in ("notify", "tax"):
            raise ConsentError(f"同意範囲が正しくありません: {scope}")
    state = resident_state(session, atena_no)
    if "tax" in grant and "notify" not in grant and not state["notify"]:
        raise ConsentError("課税情報の確認への同意は、お知らせの送付への同意と一緒にのみ受け付けます。")
    if "notify" in withdraw and "tax" not in withdraw:
        withdraw.append("tax")
    when = occurred_at or clock.now()
    setai_no = household_of(session, atena_no)
    rows = []
    for scope in grant:
        rows.append(ConsentEvent(atena_no=atena_no, setai_no=setai_no, scope=scope, action="grant",
                                 text_id=current_text(session, scope).id, channel=channel, staff_id=staff_id,
                                 line_account_id=line_account_id, occurred_at=when, reference=reference))
    for scope in withdraw:
        if not state[scope]:
            continue  # nothing active to withdraw: no row
        rows.append(ConsentEvent(atena_no=atena_no, setai_no=setai_no, scope=scope, action="withdraw",
                                 text_id=current_text(session, scope).id, channel=channel, staff_id=staff_id,
                                 line_account_id=line_account_id, occurred_at=when, reference=reference))
    session.add_all(rows)
    session.flush()
    if rows:
        detail = {"setai_no": setai_no, "channel": channel,
                  "granted": [r.scope for r in rows if r.action == "grant"],
                  "withdrawn": [r.scope for r in rows if r.action == "withdraw"],
                  "events": [r.id for r in rows]}
        if cause:
            detail["cause"] = cause
        audit.record(session, "consent_change", actor=actor, target_type="resident", target_id=atena_no,
                     detail=detail)
    return rows


def needs_grant(session: Session, atena: str, scope: str, state: dict) -> bool:
    """Grant unless already held under the current wording (a re-submitted page adds no rows;
    ticking again after the text changed records agreement to the new version)."""
    if not state[scope]:
        return True
    latest_version = session.scalar(
        select(ConsentText.version).join(ConsentEvent, ConsentEvent.text_id == ConsentText.id)
        .where(ConsentEvent.atena_no == atena, ConsentEvent.scope == scope, ConsentEvent.action == "grant")
        .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc()).limit(1))
    return latest_version != current_text(session, scope).version
