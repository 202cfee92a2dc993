"""Reach preview (到達数): how many households a rule version would match on a date, per criterion,
how that compares with the active version, and whether its data is there at all — before anyone
turns it on (Amagasaki's lesson: staff must see the count first).

The household table is expensive, so it is cached per app, keyed by what it is built from (imports,
名寄せ runs and decisions, consent events); evaluation summaries are cached by inputs and rule content.
"""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, replace

from cachetools import LRUCache
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier.ingest.status import source_statuses
from notifier.models import ConsentEvent, ImportRun, LinkDecision, PupilLink, RuleVersion

from .engine import evaluate
from .presentation import japanese, path_label
from .readiness import Readiness, readiness
from .rules import DEFAULT_COOLDOWN_DAYS, Rule, RuleError


class BuildOnceCache:
    """A least-recently-used cache (cachetools) whose values are built at most once at a time:
    the household table is heavy, so a second request for the same key waits for the first."""

    def __init__(self, size: int, *, serialise_builds: bool):
        self._cache: LRUCache = LRUCache(maxsize=size)
        self._lock = threading.RLock()
        self._build_lock = threading.Lock() if serialise_builds else None
        self.builds = 0

    def get(self, key, build):
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        if self._build_lock is None:
            return self._put(key, build())
        with self._build_lock:
            with self._lock:
                if key in self._cache:          # built by the request we waited for
                    return self._cache[key]
            return self._put(key, build())

    def _put(self, key, value):
        with self._lock:
            self.builds += 1
            self._cache[key] = value
            return value


class PreviewCache:
    """The caches of one app: household inputs (2 dates) and evaluation summaries (64)."""

    def __init__(self):
        self.inputs = BuildOnceCache(2, serialise_builds=True)
        self.results = BuildOnceCache(64, serialise_builds=False)


@dataclass
class Reach:
    as_of: dt.date
    households: int
    matches: int
    with_notify: int
    with_tax: int
    not_evaluated: int
    effective: bool
    breakdown: list
    matched: frozenset
    cooldown_days: int = DEFAULT_COOLDOWN_DAYS
    compared_version: int | None = None
    same_as_active: bool = False
    gained: int | None = None
    lost: int | None = None
    error: str | None = None
    readiness: Readiness | None = None        # the rule's data on as_of (missing or stale sources)
    notified_in_cooldown: int = 0             # matches with notify that were notified within the cool-down

    @property
    def would_notify(self) -> int:
        """Matches with notify consent that the cool-down does not hold back."""
        return max(self.with_notify - self.notified_in_cooldown, 0)

    @property
    def blocked(self) -> bool:
        """True when the rule could not be evaluated in a run on as_of (its data is missing or old)."""
        return self.readiness is not None and not self.readiness.evaluable


def inputs_key(session: Session, as_of: dt.date) -> tuple:
    """What the household table and consents of a date are built from: a change to any of these
    (an import, a 名寄せ run or review decision, a consent event) makes a new table."""
    return (as_of.isoformat(),
            session.scalar(select(func.max(ImportRun.id))),
            session.scalar(select(func.max(PupilLink.linked_at))),
            session.scalar(select(func.count()).select_from(PupilLink)),
            session.scalar(select(func.max(LinkDecision.id))),
            session.scalar(select(func.count(ConsentEvent.id))))


def _inputs(cache: PreviewCache, engine: Engine, key: tuple, as_of: dt.date):
    from .pipeline import build_inputs

    def build():
        _sources, _links, table, consents = build_inputs(engine, as_of)
        return table, consents
    return cache.inputs.get(key, build)


def _summary(cache: PreviewCache, engine: Engine, rule: Rule, as_of: dt.date, key: tuple) -> Reach:
    def build():
        table, consents = _inputs(cache, engine, key, as_of)
        res = evaluate([rule], table, consents, only_effective=False, reasons=False)
        row = res.counts.iloc[0]
        breakdown = [{"label": path_label(b["path"]), "description": b["description"], "note": b["note"],
                      "negated": bool(b["negated"]), "reads_tax": bool(b["reads_tax"]),
                      "passes": int(b["passes"]), "lost": int(b["lost_if_dropped"]),
                      "gained": int(b["gained_if_dropped"])} for b in res.breakdown.to_dict("records")]
        return Reach(as_of, int(row["households"]), int(row["matches"]), int(row["matches_with_notify"]),
                     int(row["matches_with_tax_consent"]), int(row["not_evaluated_no_tax_consent"]),
                     rule.is_effective(as_of), breakdown, frozenset(res.matches["setai_no"]),
                     rule.cooldown_days)
    return cache.results.get((key, rule.content_hash), build)


def reach(session: Session, engine: Engine, cache: PreviewCache, rule: Rule, as_of: dt.date,
          active: tuple[RuleVersion, Rule] | None, *, max_age: dict[str, int] | None = None,
          notified_recently=None) -> Reach:
    """The reach of `rule` on as_of, with the change against the active version when there is one.

    `notified_recently(rule_id, setai_nos, as_of, cooldown_days) -> int` counts matched households
    that were notified for the rule within the cool-down (None: the outbox is not consulted).
    """
    key = inputs_key(session, as_of)
    ready = readiness(rule, source_statuses(session, as_of, max_age))
    try:
        mine = _summary(cache, engine, rule, as_of, key)
        out = replace(mine, readiness=ready)
        out.same_as_active = active is not None and active[1].content_hash == rule.content_hash
        if active is not None and not out.same_as_active:
            theirs = _summary(cache, engine, active[1], as_of, key)
            out.compared_version = active[0].version
            out.gained = len(mine.matched - theirs.matched)
            out.lost = len(theirs.matched - mine.matched)
        if notified_recently is not None:
            out.notified_in_cooldown = notified_recently(rule.id, mine.matched, as_of, rule.cooldown_days)
        return out
    except RuleError as e:
        return Reach(as_of, 0, 0, 0, 0, 0, rule.is_effective(as_of), [], frozenset(), readiness=ready,
                     error="；".join(japanese(x.split(": ", 2)[-1]) for x in e.errors))
