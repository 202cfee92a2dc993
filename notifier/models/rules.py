"""The rules database: immutable rule versions with an approval step, and eligibility runs and matches."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from notifier import clock
from notifier.models.base import Base

# pending: waiting for a second person's approval; active: the version in force; superseded: was
# active before a newer approval; rejected: an approver declined it; withdrawn: replaced by a newer draft.
VERSION_STATUSES = ("pending", "active", "superseded", "rejected", "withdrawn")


class RuleVersion(Base):
    """One immutable version of a rule (ルール版). Its definition never changes; only its status does."""
    __tablename__ = "rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "version", name="uq_rule_versions_rule_version"),
                      Index("ix_rule_versions_status", "rule_id", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str] = mapped_column(Text)          # canonical JSON of the rule
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)


class EligibilityRun(Base):
    """One evaluation of the active rules over every household, as of a business date."""
    __tablename__ = "eligibility_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    households: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict | None] = mapped_column(JSON)      # per-rule counts
    actor: Mapped[str] = mapped_column(String(64), default="system")


class EligibilityMatch(Base):
    """A household that qualifies for a rule but does not receive the service (対象世帯), with reasons."""
    __tablename__ = "eligibility_matches"
    __table_args__ = (Index("ix_eligibility_matches_run_rule", "run_id", "rule_id"),
                      Index("ix_eligibility_matches_setai", "setai_no"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eligibility_runs.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version_id: Mapped[int] = mapped_column(ForeignKey("rule_versions.id"))
    setai_no: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[str] = mapped_column(Text)               # JSON list; for staff, never for messages
