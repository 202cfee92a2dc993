"""What the operations page (運用状況) shows: the scheduler's heartbeat and the last runs of each job,
step by step (reading only; the jobs write these rows)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier import clock
from notifier.models import JobRun, Lease


@dataclass
class Heartbeat:
    holder: str | None
    renewed_at: datetime | None
    expires_at: datetime | None

    @property
    def alive(self) -> bool:
        return self.expires_at is not None and self.expires_at > clock.now()

    @property
    def seconds_ago(self) -> int | None:
        return None if self.renewed_at is None else int((clock.now() - self.renewed_at).total_seconds())


@dataclass
class Invocation:
    run: str
    job: str
    business_date: date
    started_at: datetime
    finished_at: datetime | None
    steps: list[JobRun] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        statuses = {s.status for s in self.steps}
        if "failed" in statuses:
            return "failed"
        if "running" in statuses:
            return "running"
        if "stopped" in statuses:
            return "stopped"
        return "ok"

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def heartbeat(session: Session, name: str = "scheduler") -> Heartbeat:
    row = session.get(Lease, name)
    return Heartbeat(None, None, None) if row is None else Heartbeat(row.holder, row.renewed_at, row.expires_at)


def recent_invocations(session: Session, limit: int = 10, *, job: str | None = None) -> list[Invocation]:
    """The last `limit` invocations of `job` (default: of any job), newest first, each with its steps
    in order."""
    q = select(JobRun)
    if job is not None:
        q = q.where(JobRun.job == job)
    rows = session.scalars(q.order_by(JobRun.id.desc()).limit(limit * 12)).all()
    out: dict[str, Invocation] = {}
    for r in reversed(rows):
        inv = out.get(r.run)
        if inv is None:
            inv = out[r.run] = Invocation(r.run, r.job, r.business_date, r.started_at, r.finished_at)
        inv.steps.append(r)
        inv.started_at = min(inv.started_at, r.started_at)
        ends = [s.finished_at for s in inv.steps]
        inv.finished_at = None if any(e is None for e in ends) else max(ends)
    return sorted(out.values(), key=lambda i: i.started_at, reverse=True)[:limit]
