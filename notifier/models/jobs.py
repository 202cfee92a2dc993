"""Scheduled work: one row per step of each job run (運用の記録), the lease that lets only one
scheduler act at a time, and APScheduler's job store (declared here so migrations create it)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Date, DateTime, Float, Index, Integer, LargeBinary, String, Table, Text, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from notifier import clock
from notifier.models.base import Base


class JobRun(Base):
    """One step of one run of a job (daily: import, link, eligibility, …), with what it did."""
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_day_step", "job", "business_date", "step"),
                      Index("ix_job_runs_started", "started_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run: Mapped[str] = mapped_column(String(40))                 # one invocation (all its steps share it)
    job: Mapped[str] = mapped_column(String(32))                 # daily | dispatch | …
    business_date: Mapped[date] = mapped_column(Date)
    step: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))              # running | ok | failed | skipped | stopped
    started_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    counts: Mapped[dict | None] = mapped_column(JSON)           # numbers only, never personal data
    note: Mapped[str | None] = mapped_column(Text)              # Japanese, for the operations page
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(128))       # host:pid that ran it


class Lease(Base):
    """A named lease (リース): whoever holds an unexpired one may act (the scheduler, a daily run)."""
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(DateTime)
    renewed_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


# APScheduler 3's SQLAlchemyJobStore table, exactly as it defines it (it creates the table only if
# missing; declaring it here lets the migrations own the schema).
APSCHEDULER_JOBS = Table(
    "apscheduler_jobs", Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
