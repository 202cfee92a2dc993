"""evaluate(): matches with reasons, tax-consent semantics, counts and the reach preview."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest

from notifier.eligibility import catalog
from notifier.eligibility.engine import evaluate, reason_text, reasons_json
from notifier.eligibility.rules import load_rule_file, parse_rule
from notifier.households import build_household_table, empty_consents, empty_sources

D = dt.date


def make_rule(criteria, **kw):
    data = {"id": "t", "name": "テスト", "procedure_code": "t", "application_url": "/apply/t",
            "template": "t", "criteria": criteria, **kw}
    return parse_rule(data, "t.yaml")


def consents(**scopes):
    """consents(H1="notify,tax", H2="notify") → frame."""
    rows = [{"setai_no": k, "notify": "notify" in v, "tax": "tax" in v} for k, v in scopes.items()]
    return pd.DataFrame(rows, columns=["setai_no", "notify", "tax"]).astype(
        {"setai_no": "str", "notify": bool, "tax": bool})


@pytest.fixture
def town(household):
    """Five shugaku_enjo-shaped households (each 母 + 小5):
    H1 low income; H2 low income; H3 high income; H4 high income + 児童扶養手当; H5 on 生活保護."""
    def fam(h, income, **extra):
        return [{"id": f"{h}m", "setai": h, "rel": "世帯主", "age": 38, "tax": {"income": income}, **extra},
                {"id": f"{h}k", "setai": h, "rel": "長男", "age": 10, "grade": 5}]
    members = fam("H1", 500_000)
    others = fam("H2", 500_000) + fam("H3", 9_000_000) + \
        fam("H4", 9_000_000, jido_fuyo_teate=True) + fam("H5", 0, seikatsu_hogo=True)
    table, _ = household(members, others)
    return table


def test_tax_criteria_are_false_without_the_tax_scope_and_such_households_are_counted(town, rules_dir):
    rule = load_rule_file(rules_dir / "shugaku_enjo.yaml")
    res = evaluate([rule], town, consents(H1="notify,tax", H2="notify", H3="notify", H4="notify"))
    assert sorted(res.matches["setai_no"]) == ["H1", "H4"]     # H4 through 児童扶養手当, no tax needed
    c = res.counts.loc["shugaku_enjo"]
    assert c["matches"] == 2
    # H2 (low income) and H3 (high income) lack tax consent and only the income test could decide;
    # H5 fails clause 2 whatever its income, so it was evaluated.
    assert c["not_evaluated_no_tax_consent"] == 2
    assert sorted(res.not_evaluated["setai_no"]) == ["H2", "H3"]
    assert c["matches_with_notify"] == 2 and c["matches_with_tax_consent"] == 1
    row = res.breakdown.set_index("key").loc["household_income_at_most"]
    assert row["passes"] == 1                                  # only H1: H2 has no tax scope


def test_a_household_missing_from_consents_holds_no_scope(town, rules_dir):
    rule = load_rule_file(rules_dir / "shugaku_enjo.yaml")
    res = evaluate([rule], town, empty_consents())
    assert sorted(res.matches["setai_no"]) == ["H4"]
    assert res.counts.loc["shugaku_enjo", "matches_with_notify"] == 0
    assert evaluate([rule], town, None).counts.loc["shugaku_enjo", "matches"] == 1


def test_a_tax_criterion_under_not_never_matches_a_household_without_tax_consent(town):
    rule = make_rule({"all": [{"criterion": "has_enrolled_pupil"},
                              {"not": {"criterion": "tax_exempt_household"}}]})
    res = evaluate([rule], town, consents(H1="notify,tax", H3="notify,tax"))
    # H1 (500,000 課税 — not exempt) and H3 with tax consent match; the others are unknown.
    assert sorted(res.matches["setai_no"]) == ["H1", "H3"]
    assert sorted(res.not_evaluated["setai_no"]) == ["H2", "H4", "H5"]


def test_reasons_name_the_leaves_that_held_with_parameters_and_values(town, rules_dir):
    rule = load_rule_file(rules_dir / "shugaku_enjo.yaml")
    res = evaluate([rule], town, consents(H1="notify,tax", H4="notify"))
    by = dict(zip(res.matches["setai_no"], res.matches["reasons"]))
    h1 = {r["key"]: r for r in by["H1"]}
    assert list(h1) == ["has_enrolled_pupil", "not receives(seikatsu_hogo)",
                        "not receives(shugaku_enjo)", "household_income_at_most"]
    assert h1["household_income_at_most"]["values"] == {"income": 500_000, "size": 2, "limit": 2_000_000}
    assert h1["household_income_at_most"]["params"] == {"base": 1_000_000, "per_person": 500_000}
    assert h1["household_income_at_most"]["sensitivity"] == ["tax"]
    assert h1["has_enrolled_pupil"]["values"] == {"pupils": 1, "grades": ["小5"], "schools": ["和泉小学校"]}
    assert h1["not receives(seikatsu_hogo)"]["negated"] is True
    assert h1["not receives(seikatsu_hogo)"]["values"] == {}
    assert [r["key"] for r in by["H4"]][-1] == "receives(jido_fuyo_teate)"
    assert json.loads(reasons_json(by["H1"])) == by["H1"]
    assert reason_text(h1["household_income_at_most"]) == (
        "世帯の合計所得金額が基準以下（基本額: 1,000,000円、世帯員1人あたりの加算額: 500,000円）"
        " → 世帯の合計所得金額: 500,000、世帯人数: 2、基準額: 2,000,000")
    assert reason_text(h1["not receives(seikatsu_hogo)"]).startswith("次に当てはまらない: ")


def test_the_breakdown_shows_what_dropping_each_leaf_would_change(town, rules_dir):
    rule = load_rule_file(rules_dir / "shugaku_enjo.yaml")
    res = evaluate([rule], town, consents(H1="tax", H2="tax", H3="tax", H4="tax", H5="tax"))
    assert sorted(res.matches["setai_no"]) == ["H1", "H2", "H4"]
    b = res.breakdown.set_index("key")
    assert b.loc["not receives(seikatsu_hogo)", "gained_if_dropped"] == 1          # H5
    assert b.loc["not receives(seikatsu_hogo)", "passes"] == 4
    assert b.loc["not receives(seikatsu_hogo)", "criterion_holds"] == 1
    assert b.loc["household_income_at_most", "lost_if_dropped"] == 2                # H1, H2
    assert b.loc["receives(jido_fuyo_teate)", "lost_if_dropped"] == 1               # H4
    assert b.loc["has_enrolled_pupil", "gained_if_dropped"] == 0
    assert b.loc["tax_exempt_household", "lost_if_dropped"] == 0


def test_dropping_the_only_leaf_of_a_group_removes_the_group():
    rule = make_rule({"all": [{"criterion": "has_jido"},
                              {"any": [{"criterion": "receives", "params": {"source": "hoiku"}}]}]})
    table = build_household_table(empty_sources(), None, D(2026, 5, 10))
    res = evaluate([rule], table, None)
    assert res.breakdown["path"].tolist() == ["criteria.all[0]", "criteria.all[1].any[0]"]


def test_rules_not_in_force_produce_no_matches_unless_previewed(town):
    rule = make_rule({"criterion": "has_enrolled_pupil"}, effective_from="2027-04-01")
    res = evaluate([rule], town, None)
    assert res.counts.loc["t", "effective"] == False  # noqa: E712
    assert len(res.matches) == 0
    preview = evaluate([rule], town, None, only_effective=False)
    assert len(preview.matches) == 5
    ended = make_rule({"criterion": "has_enrolled_pupil"}, effective_to="2026-05-10")
    assert len(evaluate([ended], town, None).matches) == 5            # last day inclusive


def test_dated_parameters_take_the_value_in_force(town):
    rule = make_rule({"criterion": "household_income_at_most",
                      "params": {"base": {"2025-04-01": 0, "2026-05-10": 8_000_000}, "per_person": 0}},
                     effective_from="2025-04-01")
    c = consents(H1="tax", H2="tax", H3="tax", H4="tax", H5="tax")
    assert len(evaluate([rule], town, c).matches) == 3               # 8,000,000 in force
    earlier = build_household_table(empty_sources(), None, D(2026, 5, 9))
    assert evaluate([rule], earlier, c).counts.loc["t", "matches"] == 0


def test_each_distinct_leaf_is_computed_once_per_run(town, rules_dir, monkeypatch):
    calls = []
    crit = catalog.CATALOG["receives"]
    original = crit.func
    monkeypatch.setitem(catalog.CATALOG, "receives", dataclasses.replace(
        crit, func=lambda table, **p: calls.append(p) or original(table, **p)))
    rules = [load_rule_file(rules_dir / f"{r}.yaml") for r in ("shugaku_enjo", "hitorioya", "kodomo_iryo")]
    evaluate(rules, town, None)
    assert sorted(p["source"] for p in calls) == ["jido_fuyo_teate", "seikatsu_hogo", "shugaku_enjo"]


def test_an_empty_table_gives_empty_frames(rules_dir):
    from notifier.eligibility.rules import load_rules
    table = build_household_table(empty_sources(), None, D(2026, 5, 10))
    res = evaluate(load_rules(rules_dir), table, empty_consents())
    assert list(res.matches.columns) == ["rule_id", "rule_hash", "setai_no", "reasons"]
    assert len(res.matches) == 0 and (res.counts["matches"] == 0).all()
    assert len(res.breakdown) > 0
