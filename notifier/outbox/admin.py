"""What staff see and do on 「お知らせの送信」: deliveries by status, failures with LINE's reason,
unknowns to resolve, this month's use of the quota, and the retry / cancel / resolve actions.

Reads never return a message body or a LINE user ID. Every action changes the rows and writes its
audit row in the caller's transaction (docs/architecture.md "Audit").
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from notifier import audit, clock
from notifier.models import Delivery, Notice, OutboxAlert

STATUS_LABELS = {"queued": "送信待ち", "sending": "送信中", "sent": "送信済み", "failed": "送信できず",
                 "cancelled": "取り消し", "unknown": "確認が必要"}
CANCEL_REASON_LABELS = {"withdrawn": "同意の撤回", "unfollowed": "友だち解除（ブロック）", "moved_out": "転出など",
                        "staff": "職員が取り消し", "not_notifiable": "通知できる条件を満たさない"}
KIND_LABELS = {"notice": "お知らせ", "reminder": "リマインド"}
PAGE_SIZE = 50
# What staff may do from each status.
RETRYABLE = ("failed", "unknown")
CANCELLABLE = ("queued", "failed", "unknown")


class ActionRefused(Exception):
    """The action does not apply to this delivery (its status changed meanwhile, or never allowed)."""


@dataclass(frozen=True)
class Filters:
    rule_id: str | None = None
    status: str | None = None
    date_from: date | None = None      # enqueued on or after (JST business date of the notice)
    date_to: date | None = None


@dataclass(frozen=True)
class Row:
    id: int
    kind: str
    rule_id: str
    setai_no: str
    status: str
    attempts: int
    as_of: date
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    error_status: int | None
    error_message: str | None
    cancel_reason: str | None
    first_opened_at: datetime | None


def _where(filters: Filters):
    conds = []
    if filters.rule_id:
        conds.append(Delivery.rule_id == filters.rule_id)
    if filters.status:
        conds.append(Delivery.status == filters.status)
    if filters.date_from:
        conds.append(Notice.as_of >= filters.date_from)
    if filters.date_to:
        conds.append(Notice.as_of <= filters.date_to)
    return conds


def status_counts(session: Session, filters: Filters = Filters()) -> dict[str, int]:
    """Deliveries per status (every status present, 0 when none), under the filters except status."""
    base = Filters(filters.rule_id, None, filters.date_from, filters.date_to)
    q = (select(Delivery.status, func.count()).join(Notice, Notice.id == Delivery.notice_id)
         .where(*_where(base)).group_by(Delivery.status))
    counts = dict.fromkeys(STATUS_LABELS, 0)
    counts.update({status: n for status, n in session.execute(q).all()})
    return counts


def deliveries(session: Session, filters: Filters, page: int = 1) -> tuple[list[Row], int]:
    """One page of deliveries, newest first, and the number of pages."""
    total = session.scalar(select(func.count()).select_from(Delivery)
                           .join(Notice, Notice.id == Delivery.notice_id).where(*_where(filters))) or 0
    q = (select(Delivery.id, Notice.kind, Delivery.rule_id, Notice.setai_no, Delivery.status, Delivery.attempts,
                Notice.as_of, Delivery.created_at, Delivery.sent_at, Delivery.next_attempt_at, Delivery.error_status,
                Delivery.error_message, Delivery.cancel_reason, Delivery.first_opened_at)
         .join(Notice, Notice.id == Delivery.notice_id).where(*_where(filters))
         .order_by(Delivery.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
    rows = [Row(*r) for r in session.execute(q).all()]
    return rows, max(1, -(-total // PAGE_SIZE))


def rule_ids(session: Session) -> list[str]:
    return list(session.scalars(select(Delivery.rule_id).distinct().order_by(Delivery.rule_id)))


def month_start_utc(now_jst: datetime) -> datetime:
    """The start of the JST calendar month of `now_jst`, as naive UTC (the stored form)."""
    first = now_jst.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return clock.jst_to_utc(first)


def quota_use(session: Session, monthly_limit: int | None) -> dict:
    """Pushes LINE accepted this JST month (each counts one message against the quota), the limit when
    configured, and the open quota alert if the dispatcher met LINE's monthly limit."""
    since = month_start_utc(clock.now_jst())
    sent = session.scalar(select(func.count()).select_from(Delivery)
                          .where(Delivery.status == "sent", Delivery.sent_at >= since)) or 0
    alert = session.scalars(select(OutboxAlert).where(OutboxAlert.kind == "quota", OutboxAlert.cleared_at.is_(None))
                            .order_by(OutboxAlert.id.desc()).limit(1)).first()
    return {"sent": sent, "limit": monthly_limit, "alert": alert}


def open_alerts(session: Session) -> list[OutboxAlert]:
    return list(session.scalars(select(OutboxAlert).where(OutboxAlert.cleared_at.is_(None))
                                .order_by(OutboxAlert.id.desc())))


# --- actions -----------------------------------------------------------------------------------
def _change(session: Session, delivery_id: int, allowed: tuple[str, ...], values: dict, actor: audit.Actor,
            detail: dict) -> Delivery:
    row = session.get(Delivery, delivery_id)
    if row is None:
        raise ActionRefused("この送信は見つかりません。")
    before = row.status
    done = session.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.status.in_(allowed))
                           .values(**values, updated_at=clock.now()))
    if done.rowcount != 1:
        raise ActionRefused(f"この送信は「{STATUS_LABELS.get(before, before)}」のため、この操作はできません。")
    audit.record(session, "delivery_change", actor=actor, target_type="delivery", target_id=str(delivery_id),
                 detail={"from": before, **detail})
    session.expire(row)
    return row


def retry(session: Session, delivery_id: int, *, actor: audit.Actor) -> Delivery:
    """Send a failed or unknown delivery again, as a new send decided by a person: a new retry key
    (LINE honours the old one for 24 hours only, and an unknown was not resent for that reason)."""
    return _change(session, delivery_id, RETRYABLE,
                   {"status": "queued", "retry_key": str(uuid.uuid4()), "attempts": 0, "next_attempt_at": clock.now(),
                    "first_attempt_at": None, "claimed_by": None, "claimed_at": None,
                    "error_status": None, "error_message": None},
                   actor, {"change": "retry", "to": "queued"})


def cancel(session: Session, delivery_id: int, *, actor: audit.Actor) -> Delivery:
    return _change(session, delivery_id, CANCELLABLE, {"status": "cancelled", "cancel_reason": "staff"},
                   actor, {"change": "cancel", "to": "cancelled"})


def resolve_unknown(session: Session, delivery_id: int, *, received: bool, actor: audit.Actor) -> Delivery:
    """Staff checked an unknown delivery (e.g. LINE's delivery statistics, or asked the resident):
    received → sent; not received → failed (then retry is possible)."""
    values = ({"status": "sent", "sent_at": clock.now()} if received
              else {"status": "failed", "error_message": "職員が確認: 届いていない"})
    row = _change(session, delivery_id, ("unknown",), values, actor, {"change": "resolve", "to": values["status"]})
    if received:
        notice = session.get(Notice, row.notice_id)
        if notice is not None and notice.first_sent_at is None:
            notice.first_sent_at = clock.now()
    return row


def clear_alert(session: Session, alert_id: int, *, actor: audit.Actor) -> None:
    alert = session.get(OutboxAlert, alert_id)
    if alert is None or alert.cleared_at is not None:
        raise ActionRefused("この警告は見つからないか、すでに解除されています。")
    alert.cleared_at = clock.now()
    audit.record(session, "delivery_change", actor=actor, target_type="outbox_alert", target_id=str(alert_id),
                 detail={"change": "clear_alert", "kind": alert.kind})
