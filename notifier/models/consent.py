"""Consent texts (versioned) and consent events (append-only grants and withdrawals)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from notifier import clock
from notifier.models.base import Base


class ConsentText(Base):
    """The exact wording a resident agrees to (同意文言); a changed text is a new version."""
    __tablename__ = "consent_texts"
    __table_args__ = (UniqueConstraint("scope", "version", name="uq_consent_texts_scope_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class ConsentEvent(Base):
    """One grant or withdrawal of one scope by one resident (同意・撤回). Never updated or deleted.

    The current state is derived: the latest event per (resident, scope).
    """
    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_resident", "atena_no", "scope", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    atena_no: Mapped[str] = mapped_column(String(32))
    setai_no: Mapped[str | None] = mapped_column(String(32))      # household at the time
    scope: Mapped[str] = mapped_column(String(16))                # notify | tax
    action: Mapped[str] = mapped_column(String(16))               # grant | withdraw
    text_id: Mapped[int | None] = mapped_column(ForeignKey("consent_texts.id"))
    channel: Mapped[str] = mapped_column(String(8))               # LINE | LIFF | 窓口 | CSW | 職員
    staff_id: Mapped[str | None] = mapped_column(String(64))      # 職員ID for counter/CSW/staff actions
    line_account_id: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)       # when the resident said it (UTC)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    reference: Mapped[str | None] = mapped_column(String(128))    # webhook event id, import file:line …


class ConsentImportRow(Base):
    """A counter-consent file row already imported (取込済みの行), keyed by its content: 宛名番号, 種別,
    同意範囲 as the scopes it covers, 取得日時 (UTC), チャネル and 職員ID. A repeated or corrected file
    skips such rows; a consent event could not say, since a withdrawal that changed nothing writes none."""
    __tablename__ = "consent_import_rows"
    __table_args__ = (UniqueConstraint("row_key", name="uq_consent_import_rows_row_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"))   # none: from before 0011
    line: Mapped[int | None] = mapped_column(Integer)
    row_key: Mapped[str] = mapped_column(String(255))
