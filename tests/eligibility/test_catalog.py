"""Criteria of the catalog: vectorised results, explanations and parameter checks."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from notifier.eligibility.catalog import CATALOG, get
from notifier.eligibility.params import Param, ParamError
from notifier.households import build_household_table, empty_sources

D = dt.date


def run(table, name, **params):
    crit = get(name)
    full, errors = crit.normalize(params)
    assert errors == []
    res = crit.evaluate(table, crit.resolve(full, table.as_of))
    return dict(zip(table.households.index, res.mask.tolist())), res


def test_it_pairs_a_child_with_a_different_member_with_a_severe_condition(household):
    table, _ = household(
        [{"id": "f", "rel": "世帯主", "age": 45, "handbook": "身体1級"}, {"id": "c", "rel": "長男", "age": 12}],
        others=[
            # H2: the only child is the disabled one → no
            {"id": "a", "setai": "H2", "rel": "世帯主", "age": 45},
            {"id": "b", "setai": "H2", "rel": "長男", "age": 12, "handbook": "療育A"},
            # H3: two children, one disabled → the other child makes the pair
            {"id": "d", "setai": "H3", "rel": "世帯主", "age": 45},
            {"id": "e", "setai": "H3", "rel": "長男", "age": 12, "handbook": "療育A"},
            {"id": "g", "setai": "H3", "rel": "二男", "age": 9},
            # H4: two children, both disabled → each is the other's "other member"
            {"id": "h", "setai": "H4", "rel": "世帯主", "age": 45},
            {"id": "i", "setai": "H4", "rel": "長男", "age": 12, "handbook": "療育A1"},
            {"id": "j", "setai": "H4", "rel": "二男", "age": 9, "handbook": "身体2級"},
            # H5: a 16-year-old head of household with 要介護5, no other child → no
            {"id": "k", "setai": "H5", "rel": "世帯主", "age": 16, "care_level": "要介護5"},
            # H6: severe condition but nobody aged 6–17 → no
            {"id": "l", "setai": "H6", "rel": "世帯主", "age": 45, "care_level": "要介護3"},
            {"id": "m", "setai": "H6", "rel": "長男", "age": 19},
        ])
    got, res = run(table, "other_member_with_severe_condition")
    assert got == {"H1": True, "H2": False, "H3": True, "H4": True, "H5": False, "H6": False}
    pos = table.household_positions(["H1", "H3", "H4"])
    ex = res.explain(pos)
    assert ex["child_ages"] == [[12], [9], [9, 12]]
    assert ex["conditions"] == [["身体1級"], ["療育A"], ["療育A1", "身体2級"]]


def test_no_service_use_looks_at_the_three_months_before_the_as_of_month(household):
    as_of = D(2026, 5, 10)
    rows = {"H1": ["訪問介護 2026-05"], "H2": ["訪問介護 2026-04"], "H3": ["訪問介護 2026-02"],
            "H4": ["訪問介護 2026-01"], "H5": ["通所介護 2026-04"]}
    members = [{"id": "x1", "rel": "世帯主", "age": 80, "kaigo_service": rows["H1"]}]
    others = [{"id": f"x{i}", "setai": f"H{i}", "rel": "世帯主", "age": 80,
               "kaigo_service": rows[f"H{i}"]} for i in range(2, 6)]
    others.append({"id": "y", "setai": "H6", "rel": "世帯主", "age": 40, "shogai_service": "重度訪問介護"})
    table, _ = household(members, others, as_of=as_of)
    got, res = run(table, "no_service_use")
    assert got == {"H1": True, "H2": False, "H3": False, "H4": True, "H5": True, "H6": False}
    assert res.explain(np.array([0]))["checked_months"] == ["2026-02〜2026-04"]
    got6, _ = run(table, "no_service_use", months=6)
    assert got6["H4"] is False


def test_member_aged_uses_the_age_basis_and_relations(household):
    table, _ = household([{"id": "p", "rel": "世帯主", "age": 30},
                          {"id": "k", "rel": "長男", "born": D(2020, 4, 1)}])   # 6 now, school-age 6 (小1)
    assert run(table, "member_aged", min_age=6, max_age=6)[0]["H1"] is True
    assert run(table, "member_aged", min_age=6, max_age=6, basis="school_year")[0]["H1"] is True
    assert run(table, "member_aged", min_age=6, max_age=6, relations=["孫"])[0]["H1"] is False
    table2, _ = household([{"id": "k", "rel": "世帯主", "born": D(2020, 5, 11)}])  # 6 today (day before)
    assert run(table2, "member_aged", min_age=6, max_age=6)[0]["H1"] is True
    assert run(table2, "member_aged", min_age=6, max_age=6, basis="school_year")[0]["H1"] is False


def test_child_aged_without_jido_teate_counts_a_recipient_in_another_household(household):
    table, _ = household([{"id": "m", "rel": "世帯主", "age": 34}, {"id": "k", "rel": "長男", "age": 3}],
                         others=[{"id": "f", "rel": "世帯主", "age": 36, "jido_teate": {"child": "k"}}])
    got, _ = run(table, "child_aged_without", source="jido_teate", max_age=18, only_jido=True)
    assert got["H1"] is False


def test_checkup_not_attended_ignores_other_kinds_and_attended_rows(household):
    table, _ = household(
        [{"id": "k", "rel": "世帯主", "age": 3, "checkup": [
            {"kind": "3歳児", "month": "2026-02"},
            {"kind": "3歳児", "month": "2026-03", "attended": D(2026, 3, 20)}]}],
        others=[{"id": "j", "setai": "H2", "rel": "世帯主", "age": 1,
                 "checkup": [{"kind": "1歳6か月児", "month": "2026-03"}]}])
    got, res = run(table, "checkup_not_attended", kind="3歳児")
    assert got == {"H1": False, "H2": False}       # H1 attended (a re-listed target month)
    got, res = run(table, "checkup_not_attended", kind="1歳6か月児")
    assert got == {"H1": False, "H2": True}
    assert res.explain(table.household_positions(["H2"]))["target_months"] == [["2026-03"]]


def test_pupil_absence_and_applications(household):
    table, _ = household([
        {"id": "p", "rel": "世帯主", "age": 40,
         "applied": [{"procedure": "shugaku_enjo", "on": D(2025, 5, 11)}]},
        {"id": "k", "rel": "長男", "age": 10, "grade": 5, "attendance": [
            {"month": "2026-02", "absent": 2}, {"month": "2026-03", "absent": 10},
            {"month": "2026-04", "absent": 8}, {"month": "2026-05", "absent": 20}]}])
    got, res = run(table, "pupil_absence_at_least", min_percent=30)
    assert got["H1"] is True                        # 20 / 60 days = 33 %
    assert res.explain(np.array([0]))["absence_percent"] == [[33]]
    assert run(table, "pupil_absence_at_least", min_percent=34)[0]["H1"] is False
    assert run(table, "applied_for", procedure_code="shugaku_enjo", within_days=365)[0]["H1"] is True
    assert run(table, "applied_for", procedure_code="shugaku_enjo", within_days=364)[0]["H1"] is False


@pytest.fixture(scope="module")
def synthetic_table():
    from tests.households import synthetic
    sources, links, _ = synthetic.generate(residents=3_000, seed=1)
    return build_household_table(sources, links, synthetic.AS_OF)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_criterion_runs_vectorised_on_empty_and_populated_tables(name, synthetic_table):
    crit = CATALOG[name]
    params = crit.resolve(crit.normalize({})[0], D(2026, 5, 10))
    empty = build_household_table(empty_sources(), None, D(2026, 5, 10))
    res = crit.evaluate(empty, params)
    assert res.mask.shape == (0,)
    table = synthetic_table
    res = crit.evaluate(table, params)
    assert res.mask.dtype == bool and res.mask.shape == (table.n,)
    pos = np.flatnonzero(res.mask)[:50]
    values = res.explain(pos)
    assert set(values) == set(crit.values)
    assert all(len(v) == len(pos) for v in values.values())


def test_params_are_checked_with_clear_messages():
    p = Param("n", "int", "人数", 1, min=0, max=9)
    with pytest.raises(ParamError, match="integer"):
        p.check(True)
    with pytest.raises(ParamError, match="≤ 9"):
        p.check(10)
    assert p.check({"2026-04-01": 3, dt.date(2025, 4, 1): 2}) == {"2025-04-01": 2, "2026-04-01": 3}
    assert p.resolve({"2025-04-01": 2, "2026-04-01": 3}, D(2026, 3, 31)) == 2
    with pytest.raises(ParamError, match="no value in force"):
        p.resolve({"2025-04-01": 2}, D(2025, 3, 31))
    c = Param("k", "choices", "種別", [], choices=("a", "b", "c"))
    assert c.check(["c", "a", "c"]) == ["a", "c"]           # declared order, no duplicates
    with pytest.raises(ParamError, match="one of"):
        c.check(["d"])
    with pytest.raises(ParamError, match="dated values"):
        c.check({"2025-04-01": ["a"]})


def test_sensitivity_follows_the_source_a_criterion_reads():
    r = get("receives")
    assert r.sensitivity_for({"source": "seikatsu_hogo"}) == ("welfare",)
    assert r.sensitivity_for({"source": "shugaku_enjo"}) == ("education",)
    assert r.sensitivity_for({"source": "jido_teate"}) == ()
    assert get("household_income_at_most").reads_tax({"base": 1, "per_person": 1})
    sev = get("other_member_with_severe_condition")
    assert sev.sensitivity_for(dict(sev.defaults(), care_levels=[])) == ("disability",)
    assert sev.sensitivity_for(dict(sev.defaults(), shintai_grades=[], seishin_grades=[],
                                    ryoiku_grades=[])) == ("care",)


def test_evaluate_criterion_is_false_for_tax_criteria_without_the_tax_scope(household):
    from notifier.eligibility.catalog import evaluate_criterion
    table, _ = household([{"id": "a", "rel": "世帯主", "age": 40, "tax": {"income": 0}}],
                         others=[{"id": "b", "rel": "世帯主", "age": 40, "tax": {"income": 0}}])
    consents = pd.DataFrame({"setai_no": ["H1", "H2"], "notify": [True, True], "tax": [True, False]})
    holds, values = evaluate_criterion(table, "tax_exempt_household", {}, consents)
    assert holds.to_dict() == {"H1": True, "H2": False}
    assert values.to_dict("index") == {"H1": {"taxed_members": 1, "tax_years": [2026]}}
    holds, _ = evaluate_criterion(table, "tax_exempt_household")          # no consents: none
    assert not holds.any()
    holds, _ = evaluate_criterion(table, "member_aged", {"min_age": 40, "max_age": 40})
    assert holds.all()                                                      # not a tax criterion
    with pytest.raises(ValueError, match="min_age"):
        evaluate_criterion(table, "member_aged", {"min_age": "forty"})
