"""Whether a rule may be evaluated on a business date: every source it reads must have been imported
and be fresh enough (pure: a rule and the source statuses in, a verdict out).

A rule over a source the city never sent would read that source as "receives nothing" and flag every
family; such a rule is not evaluated, and the run, the rules pages and `data status` say why.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from notifier.contract import SOURCE_MISSING, SOURCE_STALE

from .rules import Rule


class SourceState(Protocol):
    """What readiness needs to know of a source (ingest.status.SourceStatus provides it)."""
    state: str

    def problem(self) -> str | None: ...


@dataclass(frozen=True)
class Readiness:
    rule_id: str
    sources: tuple[str, ...]
    missing: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()          # Japanese, one per unusable source

    @property
    def evaluable(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str | None:
        """`判定しません（…）` for staff and operators, or None when the rule can be evaluated."""
        return None if self.evaluable else "判定しません（" + "／".join(self.problems) + "）"

    def as_dict(self) -> dict:
        return {"evaluated": self.evaluable, "reason": self.reason, "sources": list(self.sources),
                "missing_sources": list(self.missing), "stale_sources": list(self.stale)}


def readiness(rule: Rule, statuses: Mapping[str, SourceState]) -> Readiness:
    sources = rule.sources
    missing = tuple(s for s in sources if statuses[s].state == SOURCE_MISSING)
    stale = tuple(s for s in sources if statuses[s].state == SOURCE_STALE)
    problems = tuple(statuses[s].problem() for s in missing + stale)
    return Readiness(rule.id, sources, missing, stale, problems)
