"""Job-run rows (`job_runs`) for a one-step job run on its own: the scheduled `notify dispatch`.

`daily` records each of its steps itself; a job run outside it records one row: `running` when it
starts, then `ok` with its counts and note, or `failed` with the error. A run killed outright stays
`running`, which the operations page shows as such. Counts are numbers only, never personal data.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from notifier import clock
from notifier.models import JobRun


@dataclass
class Outcome:
    """What the job did, set by the caller inside `recorded`."""

    counts: dict | None = None
    note: str | None = None


@contextmanager
def recorded(engine: Engine, job: str, *, host: str, day: date | None = None,
             step: str | None = None) -> Iterator[Outcome]:
    """Record one run of `job` around the block: the row is committed at the start (so a run in progress
    is visible) and updated at the end, each in its own short transaction."""
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions.begin() as s:
        row = JobRun(run=uuid.uuid4().hex[:12], job=job, business_date=day or clock.today_jst(),
                     step=step or job, status="running", host=host[:128], started_at=clock.now())
        s.add(row)
        s.flush()
        row_id = row.id
    outcome = Outcome()
    try:
        yield outcome
    except BaseException as exc:
        with sessions.begin() as s:
            s.execute(update(JobRun).where(JobRun.id == row_id).values(
                status="failed", finished_at=clock.now(), counts=outcome.counts, note=outcome.note,
                error=f"{type(exc).__name__}: {exc}"[:2000]))
        raise
    with sessions.begin() as s:
        s.execute(update(JobRun).where(JobRun.id == row_id).values(
            status="ok", finished_at=clock.now(), counts=outcome.counts, note=outcome.note))
