"""The data batch: import → 名寄せ → household table → eligibility, keeping the frames it imports.

Each stage also runs on its own from the command line (reading its input from the database); the
batch passes the frames it has just written straight to the next stage instead of reading them back.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier.eligibility.dao import active_rules, store_run
from notifier.eligibility.engine import EvaluationResult, evaluate
from notifier.eligibility.pipeline import build_inputs
from notifier.ingest.importer import ImportSummary, import_directory
from notifier.ingest.mapping import Mapping
from notifier.linkage.run import LinkCounts, LinkResult, run_linkage


@dataclass
class BatchResult:
    imported: ImportSummary
    link_result: LinkResult
    link_counts: LinkCounts
    evaluation: EvaluationResult | None
    run_id: int | None
    households: int
    seconds: dict[str, float] = field(default_factory=dict)
    frames: tuple = ()


def run_batch(engine: Engine, session: Session, directory: Path, mapping: Mapping, as_of: date, *,
              actor: str = "system") -> BatchResult:
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    imported = import_directory(engine, directory, mapping, actor=actor, keep_frames=True)
    seconds["import"] = time.perf_counter() - t
    t = time.perf_counter()
    link_result, link_counts = run_linkage(engine, as_of, imported.frames)
    seconds["link"] = time.perf_counter() - t
    t = time.perf_counter()
    sources, links, table, consents = build_inputs(engine, as_of, imported.frames)
    seconds["household_table"] = time.perf_counter() - t
    pairs = active_rules(session)
    evaluation = run_id = None
    if pairs:
        t = time.perf_counter()
        evaluation = evaluate([rule for _v, rule in pairs], table, consents)
        seconds["evaluate"] = time.perf_counter() - t
        t = time.perf_counter()
        run_id = store_run(engine, as_of, table.n, evaluation, {r.id: v.id for v, r in pairs}, actor=actor)
        seconds["store_matches"] = time.perf_counter() - t
    return BatchResult(imported, link_result, link_counts, evaluation, run_id, table.n, seconds,
                       (sources, links, table, consents))
