"""The outbox: notices (one per household and rule, or a reminder of one), their deliveries (one per
LINE account, each with its own retry key), opens of the one-tap link, message template versions
(approved by a second person, like rules), the cross-process send rate, and alerts for staff.

State changes of a delivery: queued → sending → sent | failed | unknown; queued → cancelled.
A delivery is claimed (status sending, claimed_by) by exactly one dispatcher at a time.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from notifier import clock
from notifier.models.base import Base

NOTICE_KINDS = ("notice", "reminder")
DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "cancelled", "unknown")
TEMPLATE_STATUSES = ("pending", "active", "superseded", "rejected", "withdrawn")


class MessageTemplateVersion(Base):
    """One immutable version of a rule's message template (お知らせ文面). Only its status changes;
    a version reaches residents once a second person approved it (status active)."""
    __tablename__ = "message_template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version", name="uq_message_template_versions_id_version"),
                      Index("ix_message_template_versions_status", "template_id", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64))      # the rule's `template` name
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[str] = mapped_column(Text)             # canonical JSON (title, alt_text, …)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)


class Notice(Base):
    """One notice (お知らせ) to one household about one rule, or one reminder of an earlier notice.

    Unique per (rule, household, business date, kind), and at most one reminder per notice
    (`reminder_of` unique), so re-running enqueue or follow-up for the same day adds nothing.
    """
    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("rule_id", "setai_no", "as_of", "kind", name="uq_notices_rule_household_day"),
                      UniqueConstraint("reminder_of", name="uq_notices_reminder_of"),
                      Index("ix_notices_setai_rule", "setai_no", "rule_id"),
                      Index("ix_notices_rule_created", "rule_id", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="notice")       # notice | reminder
    reminder_of: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    setai_no: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version_id: Mapped[int] = mapped_column(ForeignKey("rule_versions.id"))
    template_version_id: Mapped[int | None] = mapped_column(ForeignKey("message_template_versions.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("eligibility_runs.id", ondelete="SET NULL"))
    match_id: Mapped[int | None] = mapped_column(Integer)    # the eligibility match it came from (kept if runs go)
    as_of: Mapped[date] = mapped_column(Date)                 # the business date it was enqueued for
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    first_sent_at: Mapped[datetime | None] = mapped_column(DateTime)   # when LINE first accepted a delivery


class Delivery(Base):
    """One push of a notice to one LINE account. `retry_key` (a UUID made at enqueue) goes with every
    attempt as X-Line-Retry-Key, so LINE never delivers it twice within its 24 hours."""
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_next", "status", "next_attempt_at"),
                      Index("ix_deliveries_notice", "notice_id"),
                      Index("ix_deliveries_account", "line_account_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    line_account_id: Mapped[int] = mapped_column(ForeignKey("line_accounts.id"))
    atena_no: Mapped[str] = mapped_column(String(32))          # the member whose account it is
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version_id: Mapped[int] = mapped_column(ForeignKey("rule_versions.id"))
    message: Mapped[str] = mapped_column(Text)                 # the rendered LINE messages (JSON list)
    retry_key: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    first_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(128))    # host:pid of the dispatcher sending it
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    line_request_id: Mapped[str | None] = mapped_column(String(64))
    error_status: Mapped[int | None] = mapped_column(Integer)      # LINE's HTTP status (None: no answer)
    error_message: Mapped[str | None] = mapped_column(Text)        # LINE's message (no user ids, no bodies)
    cancel_reason: Mapped[str | None] = mapped_column(String(64))  # withdrawn | unfollowed | moved_out | staff …
    first_opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class LinkOpen(Base):
    """One open of a delivery's /r/ link: the time only (no address, no user agent)."""
    __tablename__ = "link_opens"
    __table_args__ = (Index("ix_link_opens_delivery", "delivery_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class SendRate(Base):
    """The send rate shared by every dispatcher (GCRA): `tat` is the theoretical arrival time of the
    next allowed send, seconds since the epoch; a dispatcher takes slots by advancing it atomically."""
    __tablename__ = "send_rates"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    tat: Mapped[float] = mapped_column(Float, default=0.0)


class OutboxAlert(Base):
    """Something staff must see on the sending page and the dashboard (the monthly quota reached, …)."""
    __tablename__ = "outbox_alerts"
    __table_args__ = (Index("ix_outbox_alerts_open", "kind", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))              # quota | …
    raised_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime)
    detail: Mapped[dict | None] = mapped_column(JSON)          # numbers and LINE's message only
