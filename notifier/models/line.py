"""LINE accounts linked to residents, received webhook events, and link attempts (for throttling)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from notifier import clock
from notifier.models.base import Base


class LineAccount(Base):
    """A LINE user of the city's official account; linked to a resident by the online application ID."""
    __tablename__ = "line_accounts"
    __table_args__ = (Index("ix_line_accounts_atena_no", "atena_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    atena_no: Mapped[str | None] = mapped_column(String(32))     # the linked resident (宛名番号)
    linked_at: Mapped[datetime | None] = mapped_column(DateTime)
    link_channel: Mapped[str | None] = mapped_column(String(8))  # LINE | LIFF
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)  # false once the user blocks us
    followed_at: Mapped[datetime | None] = mapped_column(DateTime)
    unfollowed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class WebhookEvent(Base):
    """A webhook event as received; `webhook_event_id` makes redeliveries have no second effect."""
    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_pending", "processed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))


class LinkAttempt(Base):
    """One try at linking by online application ID (success or not), for per-user throttling."""
    __tablename__ = "link_attempts"
    __table_args__ = (Index("ix_link_attempts_user_at", "line_user_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
