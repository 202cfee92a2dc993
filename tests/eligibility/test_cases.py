"""Every example case file in eligibility_rules/ runs through build_household_table + evaluate."""
from __future__ import annotations

from pathlib import Path

import pytest

from notifier.eligibility.cases import load_cases, run_case
from notifier.eligibility.rules import load_rule_file

RULES_DIR = Path(__file__).resolve().parents[2] / "eligibility_rules"

CASE_FILES = sorted(RULES_DIR.glob("*.cases.yaml"))
DEFAULT_RULES = ("shugaku_enjo", "hitorioya", "home_helper")


def _all_cases():
    for path in CASE_FILES:
        rule_id, cases = load_cases(path)
        for i, case in enumerate(cases):
            yield pytest.param(rule_id, case, id=f"{rule_id}[{i}] {case.name}")


@pytest.mark.parametrize("rule_id,case", list(_all_cases()))
def test_it_matches_the_expected_outcome(rule_id, case):
    rule = load_rule_file(RULES_DIR / f"{rule_id}.yaml")
    outcome = run_case(rule, case)
    assert outcome.problems() == [], f"{case.where} ({case.name})"


def test_every_rule_has_a_case_file_with_matches_and_non_matches():
    rule_ids = {p.name.removesuffix(".yaml") for p in RULES_DIR.glob("*.yaml")
                if not p.name.endswith(".cases.yaml")}
    case_ids = {load_cases(p)[0] for p in CASE_FILES}
    assert rule_ids == case_ids
    for path in CASE_FILES:
        _, cases = load_cases(path)
        assert {bool(c.expect["match"]) for c in cases} == {True, False}, path.name


@pytest.mark.parametrize("rule_id", DEFAULT_RULES)
def test_default_rules_have_cases_for_both_tax_consent_states(rule_id):
    _, cases = load_cases(RULES_DIR / f"{rule_id}.cases.yaml")
    assert {c.tax_consent for c in cases} == {True, False}


@pytest.mark.parametrize("rule_id", DEFAULT_RULES)
def test_default_rules_have_a_failing_case_for_every_clause(rule_id):
    """Each top-level clause (all[i]) has a case that fails it while a match is reported for the
    base household — recorded in the case name as 条件<n> 不成立."""
    rule = load_rule_file(RULES_DIR / f"{rule_id}.yaml")
    _, cases = load_cases(RULES_DIR / f"{rule_id}.cases.yaml")
    clauses = len(rule.criteria.children)
    for n in range(1, clauses + 1):
        failing = [c for c in cases if c.name.startswith(f"条件{n} 不成立") and not c.expect["match"]]
        assert failing, f"{rule_id}: no case fails only clause {n}"
