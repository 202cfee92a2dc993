"""One eligibility run (判定の実行): the active rules over every household on a business date, stored.

`run_eligibility` is the only place that wires readiness → inputs → engine → storage; the command
line (`notifier eligibility run`), the demo and the batch all call it. A rule whose sources were never
imported or are too old is not evaluated: the run records it with the reason and stores no matches
for it, so nothing downstream can notify from it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier.ingest.status import SourceStatus, source_statuses

from .dao import active_rules, store_run
from .engine import EvaluationResult, evaluate
from .pipeline import build_inputs
from .readiness import Readiness, readiness


class NoActiveRules(RuntimeError):
    """There is nothing to evaluate (no rule has been loaded and approved)."""


@dataclass
class RunOutcome:
    run_id: int
    as_of: dt.date
    households: int
    rules: dict[str, dict]                    # rule_id → counts and readiness (as stored in the summary)
    readiness: dict[str, Readiness]
    statuses: dict[str, SourceStatus]
    evaluation: EvaluationResult | None = None
    frames: tuple = field(default=(), repr=False)   # (sources, links, table, consents) when kept

    @property
    def skipped(self) -> dict[str, str]:
        """rule_id → the Japanese reason, for the rules that were not evaluated."""
        return {rid: r.reason for rid, r in self.readiness.items() if not r.evaluable}

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "as_of": self.as_of.isoformat(), "households": self.households,
                "rules": self.rules, "skipped": self.skipped}

    def lines(self) -> list[str]:
        """What the command prints, in Japanese."""
        out = [f"{self.as_of.isoformat()} 時点、世帯数 {self.households:,}"]
        for rid, r in self.rules.items():
            if not r["evaluated"]:
                out.append(f"  {rid}: {r['reason']}")
                continue
            out.append(f"  {rid}: 対象 {r['matches']:,} 世帯（うち通知の同意あり {r['matches_with_notify']:,}）、"
                       f"税の同意がなく判定できない {r['not_evaluated_no_tax_consent']:,}"
                       + ("" if r["effective"] else "（適用期間外）"))
        return out


def run_eligibility(engine: Engine, session: Session, as_of: dt.date, *, actor,
                    max_age: dict[str, int] | None = None, sources: dict[str, pd.DataFrame] | None = None,
                    keep_frames: bool = False, progress=None) -> RunOutcome:
    """Evaluate every active rule that can be evaluated on `as_of` and store the run (one transaction).

    `sources`: frames a batch has just imported (the rest are read from the database, only the
    columns the household table uses of only the sources the evaluable rules read).
    """
    step = progress or (lambda _label, _done, _total: None)
    pairs = active_rules(session)
    if not pairs:
        raise NoActiveRules("no active rules: run `notifier rules load eligibility_rules --activate` first")
    statuses = source_statuses(session, as_of, max_age)
    ready = {rule.id: readiness(rule, statuses) for _v, rule in pairs}
    evaluable = [(v, rule) for v, rule in pairs if ready[rule.id].evaluable]
    names = {s for _v, rule in evaluable for s in rule.sources}
    step("読込・世帯テーブル", 0, 3)
    frames = build_inputs(engine, as_of, sources, names=names)
    _sources, _links, table, consents = frames
    step("判定", 1, 3)
    evaluation = evaluate([rule for _v, rule in evaluable], table, consents)
    versions = {rule.id: v.id for v, rule in pairs}
    summary = {}
    counts = evaluation.counts
    for v, rule in pairs:
        entry = {"version": v.version, **ready[rule.id].as_dict()}
        if rule.id in counts.index:
            row = counts.loc[rule.id]
            entry.update(effective=bool(row["effective"]), matches=int(row["matches"]),
                         matches_with_notify=int(row["matches_with_notify"]),
                         matches_with_tax_consent=int(row["matches_with_tax_consent"]),
                         not_evaluated_no_tax_consent=int(row["not_evaluated_no_tax_consent"]))
        summary[rule.id] = entry
    step("保存", 2, 3)
    run_id = store_run(engine, as_of, table.n, evaluation, versions, actor=actor, summary=summary)
    step("", 3, 3)
    return RunOutcome(run_id, as_of, table.n, summary, ready, statuses, evaluation,
                      frames if keep_frames else ())
