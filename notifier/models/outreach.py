"""Outreach cases (見守りケース): a household that did not respond to a notice and its reminder, for
coordinators to route to the school/SSW, the public-health nurse or a CSW under 要対協, and the
append-only history of each case (opened, assigned, contacts, outcomes, closed)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from notifier import clock
from notifier.models.base import Base

CASE_STATUSES = ("open", "closed")


class OutreachCase(Base):
    """One case per (household, rule) while open: `open_key` is "<世帯番号>|<rule>" while the case is
    open and NULL once closed, and it is unique, so a second open case for the pair cannot exist."""
    __tablename__ = "outreach_cases"
    __table_args__ = (Index("ix_outreach_cases_status", "status", "opened_at"),
                      Index("ix_outreach_cases_setai", "setai_no"),
                      Index("ix_outreach_cases_notice", "notice_id"),
                      Index("ix_outreach_cases_worklist", "status", "priority_points"),
                      Index("ix_outreach_cases_org", "assigned_org", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    open_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    setai_no: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version_id: Mapped[int] = mapped_column(ForeignKey("rule_versions.id"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"))
    reminder_notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"))
    reasons: Mapped[str | None] = mapped_column(Text)             # the match's reasons (JSON), for staff
    route: Mapped[str] = mapped_column(String(32))                # contract.OUTREACH_ROUTES
    school_code: Mapped[str | None] = mapped_column(String(32))
    school_name: Mapped[str | None] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(String(32))       # contract.CASE_OUTCOMES
    close_reason: Mapped[str | None] = mapped_column(Text)
    assigned_org: Mapped[str | None] = mapped_column(String(200))
    consent_withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)   # noted; the case goes on
    area_code: Mapped[str | None] = mapped_column(String(32))     # the head's 住所コード (worklist filter)
    priority_points: Mapped[int] = mapped_column(Integer, default=0)
    priority_signals: Mapped[list | None] = mapped_column(JSON)   # the signals that gave the points
    priority_scheme_id: Mapped[int | None] = mapped_column(ForeignKey("priority_schemes.id"))
    last_contact_on: Mapped[date | None] = mapped_column(Date)
    as_of: Mapped[date] = mapped_column(Date)                     # the business date follow-up opened it
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)


class OutreachCaseEvent(Base):
    """One entry of a case's history; never changed. kind: opened | assigned | contact | outcome |
    closed | note | consent_withdrawn."""
    __tablename__ = "outreach_case_events"
    __table_args__ = (Index("ix_outreach_case_events_case", "case_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("outreach_cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict | None] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class PriorityScheme(Base):
    """One version of the priority points (優先度の点数表): the scheme as JSON (outreach.priority),
    who saved it and when. The newest version is the one in use; saving a version rescores every open
    case in the same transaction."""
    __tablename__ = "priority_schemes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    scheme: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
