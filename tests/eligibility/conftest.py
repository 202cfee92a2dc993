"""Fixtures for eligibility tests: the shipped rules directory and a tiny case builder."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from notifier.eligibility.cases import Case, case_inputs
from notifier.households import build_household_table

RULES_DIR = Path(__file__).resolve().parents[2] / "eligibility_rules"
AS_OF = dt.date(2026, 5, 10)


@pytest.fixture
def rules_dir() -> Path:
    return RULES_DIR


@pytest.fixture
def household():
    """household(members, others=(), as_of=AS_OF, tax=True) → (table, consents) using the compact
    member form of the example cases (README in eligibility_rules/)."""
    def make(members, others=(), as_of=AS_OF, tax=True, notify=True):
        ms = [dict(m, setai=m.get("setai", "H1")) for m in members]
        ms += [dict(m, setai=m.get("setai", "H2")) for m in others]
        case = Case(name="t", as_of=as_of, tax_consent=tax, notify_consent=notify, members=ms,
                    expect={"match": False}, where="test")
        sources, links, consents = case_inputs(case)
        return build_household_table(sources, links, as_of), consents
    return make
