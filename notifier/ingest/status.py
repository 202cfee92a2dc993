"""The state of each source as stored (`notifier data status`, the rules pages, eligibility runs):
its latest snapshot, rows, age and quarantined rows, and whether it may be used on a business date.

A source that was never imported, or whose latest snapshot is older than its maximum age, must not
feed a rule: it would read as "nobody receives this" and flag every family.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifier import clock
from notifier.contract import SOURCE_MAX_AGE_DAYS, SOURCE_MISSING, SOURCE_OK, SOURCE_STALE, SOURCES
from notifier.models import ImportRun

OK, MISSING, STALE = SOURCE_OK, SOURCE_MISSING, SOURCE_STALE


@dataclass(frozen=True)
class SourceStatus:
    name: str
    title: str
    state: str                       # ok | missing | stale
    max_age_days: int
    import_id: int | None = None     # the import that holds the current snapshot
    imported_at: dt.datetime | None = None   # naive UTC
    imported_on: dt.date | None = None       # the JST date of that import
    age_days: int | None = None      # business date − imported_on
    rows: int = 0
    rows_quarantined: int = 0
    last_rejected_at: dt.datetime | None = None   # a later file that was rejected (snapshot kept)

    @property
    def usable(self) -> bool:
        return self.state == OK

    def problem(self) -> str | None:
        """Why the source cannot be used, in Japanese (None when it can)."""
        if self.state == MISSING:
            return f"{self.title}のデータが取り込まれていません"
        if self.state == STALE:
            return (f"{self.title}のデータが古くなっています（最終取込 {self.imported_on}、"
                    f"{self.age_days}日前、上限 {self.max_age_days}日）")
        return None


def source_statuses(session: Session, as_of: dt.date,
                    max_age: dict[str, int] | None = None) -> dict[str, SourceStatus]:
    """Every contract source's status on `as_of` (the latest stored import is the snapshot)."""
    max_age = {**SOURCE_MAX_AGE_DAYS, **(max_age or {})}
    latest = select(ImportRun.source, func.max(ImportRun.id).label("id")) \
        .where(ImportRun.status == "stored").group_by(ImportRun.source).subquery()
    stored = {r.source: r for r in session.scalars(
        select(ImportRun).join(latest, ImportRun.id == latest.c.id))}
    rejected = dict(session.execute(select(ImportRun.source, func.max(ImportRun.finished_at))
                                    .where(ImportRun.status == "rejected").group_by(ImportRun.source)).all())
    out = {}
    for name, source in SOURCES.items():
        run = stored.get(name)
        limit = max_age[name]
        later_rejection = rejected.get(name)
        if run is not None and later_rejection is not None and later_rejection < (run.finished_at or run.started_at):
            later_rejection = None
        if run is None:
            out[name] = SourceStatus(name, source.title, MISSING, limit, last_rejected_at=later_rejection)
            continue
        at = run.finished_at or run.started_at
        day = clock.utc_to_jst(at).date()
        age = (as_of - day).days
        out[name] = SourceStatus(name, source.title, STALE if age > limit else OK, limit, run.id, at, day,
                                 age, run.rows_stored, run.rows_quarantined, later_rejection)
    return out
