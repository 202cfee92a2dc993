"""Reading the import history (取込履歴) and its quarantined rows, for staff pages and status reports."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.models import ImportRun, QuarantineRow

QUARANTINE_PAGE = 1000


def recent_runs(session: Session, limit: int = 200) -> list[ImportRun]:
    return session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)).all()


def run(session: Session, run_id: int) -> ImportRun | None:
    return session.get(ImportRun, run_id)


def quarantined_rows(session: Session, run_id: int, limit: int = QUARANTINE_PAGE) -> list[QuarantineRow]:
    return session.scalars(select(QuarantineRow).where(QuarantineRow.import_id == run_id)
                           .order_by(QuarantineRow.line, QuarantineRow.id).limit(limit)).all()
