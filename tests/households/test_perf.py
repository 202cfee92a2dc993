"""Izumi-scale timing targets (issue "Eligibility"): table ≤ 5 s, seven rules ≤ 1 s on 2 cores."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from notifier.eligibility.engine import evaluate
from notifier.eligibility.rules import load_rules
from notifier.households import build_household_table

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def izumi():
    from tests.households import synthetic
    sources, links, consents = synthetic.generate(residents=185_000)
    return sources, links, consents, synthetic.AS_OF


def median_time(fn, runs=3):
    """Median CPU seconds of this process: other jobs on the machine (CI neighbours, parallel test
    runs) stretch wall time but not the work done here. Wall-clock figures come from `notifier bench`."""
    times, out = [], None
    for _ in range(runs):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return out, statistics.median(times)


def test_it_builds_the_izumi_household_table_within_5_seconds(izumi):
    sources, links, _, as_of = izumi
    assert len(sources["kaigo_service"]) > 600_000 and len(sources["shiminzei"]) > 180_000
    table, seconds = median_time(lambda: build_household_table(sources, links, as_of))
    assert len(table.members) == 185_000 and 75_000 < table.n < 90_000
    assert seconds <= 5.0, seconds


def test_it_evaluates_seven_rules_over_izumi_within_1_second(izumi):
    sources, links, consents, as_of = izumi
    table = build_household_table(sources, links, as_of)
    rules = load_rules(HERE.parents[1] / "eligibility_rules")
    assert len(rules) >= 7
    res, seconds = median_time(lambda: evaluate(rules, table, consents))
    assert (res.counts["matches"] > 0).all()
    assert len(res.matches) == res.counts["matches"].sum()
    assert seconds <= 1.0, seconds
