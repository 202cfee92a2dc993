"""The data batch: import → 名寄せ → eligibility in one process, keeping the frames it imports.

Each stage also runs on its own from the command line (reading its input from the database); the
batch passes the frames it has just written straight to the next stage instead of reading them back.
`notifier bench` times it beside the operators' separate commands.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier.eligibility.run import RunOutcome, run_eligibility
from notifier.ingest.importer import ImportSummary, import_directory
from notifier.ingest.mapping import Mapping
from notifier.linkage.run import LinkCounts, LinkResult, run_linkage


@dataclass
class BatchResult:
    imported: ImportSummary
    link_result: LinkResult
    link_counts: LinkCounts
    eligibility: RunOutcome
    seconds: dict[str, float] = field(default_factory=dict)


def run_batch(engine: Engine, session: Session, directory: Path, mapping: Mapping, as_of: date, *,
              actor="system", max_age: dict[str, int] | None = None) -> BatchResult:
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    imported = import_directory(engine, directory, mapping, actor=actor, keep_frames=True)
    seconds["import"] = time.perf_counter() - t
    t = time.perf_counter()
    link_result, link_counts = run_linkage(engine, as_of, imported.frames)
    seconds["link"] = time.perf_counter() - t
    t = time.perf_counter()
    outcome = run_eligibility(engine, session, as_of, actor=actor, max_age=max_age, sources=imported.frames,
                              keep_frames=True)
    seconds["eligibility"] = time.perf_counter() - t
    return BatchResult(imported, link_result, link_counts, outcome, seconds)
