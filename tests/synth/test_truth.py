"""Truth files: roster links with their cases, rule matches from the reference, and what they cover."""
from __future__ import annotations

import unicodedata
from collections import Counter
from datetime import date

import jaconv
import pandas as pd
import pytest

from notifier.synth import DEFAULT_TRUTH_DATES
from notifier.synth.reference import RULE_IDS, evaluate, reference_matches

from .conftest import load_clean, load_links

CASES = {"current", "moved_away", "past_pupil", "namesake", "household_namesake", "twin", "blank_birth", "wrong_birth",
         "kana_variant", "address_moved"}


def kana_key(s: str) -> str:
    return jaconv.hira2kata(unicodedata.normalize("NFKC", s)).replace(" ", "").replace("\u3000", "")


@pytest.fixture(scope="module")
def truth(small_city):
    out, summary = small_city
    clean = load_clean(out)
    links = load_links(out)
    matches = pd.read_csv(out / "_truth" / "rule_matches.csv", dtype={"世帯番号": str})
    return out, summary, clean, links, matches


def test_links_point_at_current_residents_one_pupil_each(truth):
    _, _, clean, links, _ = truth
    j = clean["juminhyo"].set_index("atena_no")
    linked = links[links["宛名番号"] != ""]
    assert linked["宛名番号"].isin(j.index).all()
    assert j.loc[linked["宛名番号"], "removed_on"].isna().all()
    assert not linked["宛名番号"].duplicated().any()
    assert set(links["児童生徒番号"]) == set(clean["gakureibo"]["pupil_id"])
    assert set(links["case"]) == CASES


def test_pupils_without_a_current_resident_are_moved_away_or_absent(truth):
    _, _, clean, links, _ = truth
    j = clean["juminhyo"].set_index("atena_no")
    moved = links[links["case"] == "moved_away"]
    assert (moved["宛名番号"] == "").all()
    assert j.loc[moved["removed_atena_no"], "removal_reason"].eq("転出").all()
    # they left before the first truth date, so linking them or not changes no rule result
    assert (j.loc[moved["removed_atena_no"], "removed_on"] < pd.Timestamp(min(DEFAULT_TRUTH_DATES))).all()
    past = links[links["case"] == "past_pupil"]
    assert (past["宛名番号"] == "").all() and (past["removed_atena_no"] == "").all()
    roster = clean["gakureibo"].set_index("pupil_id")
    reg = set(zip(j["name_kana"].map(kana_key), j["birth_date"]))
    for p in past["児童生徒番号"]:
        assert (kana_key(roster.at[p, "name_kana"]), roster.at[p, "birth_date"]) not in reg


def test_each_case_is_what_it_says(truth):
    _, _, clean, links, _ = truth
    j = clean["juminhyo"]
    cur = j[j["removed_on"].isna()]
    roster = clean["gakureibo"].set_index("pupil_id")
    person = j.set_index("atena_no")
    same = Counter(zip(cur["name_kana"].map(kana_key), cur["birth_date"]))
    for _, row in links[links["宛名番号"] != ""].iterrows():
        me = person.loc[row["宛名番号"]]
        flags = set(row["flags"].split(";")) - {""}
        r = roster.loc[row["児童生徒番号"]]
        if "namesake" in flags:
            assert same[(kana_key(me["name_kana"]), me["birth_date"])] >= 2
        if "twin" in flags:
            hh = cur[(cur["setai_no"] == me["setai_no"]) & (cur["birth_date"] == me["birth_date"])]
            assert len(hh) >= 2
        if "household_namesake" in flags:
            hh = cur[(cur["setai_no"] == me["setai_no"]) & (cur["atena_no"] != row["宛名番号"])]
            assert (hh["name_kana"].map(kana_key) == kana_key(me["name_kana"])).any()
        if "blank_birth" in flags:
            assert pd.isna(r["birth_date"])
        elif "wrong_birth" in flags:  # a valid date, typed wrong: within a year and a day or two
            assert pd.notna(r["birth_date"]) and r["birth_date"] != me["birth_date"]
            assert abs((r["birth_date"] - me["birth_date"]).days) <= 366
        else:
            assert r["birth_date"] == me["birth_date"]
        if "address_moved" in flags:
            assert r["address_code"] != me["address_code"]
        else:
            assert r["address_code"] == me["address_code"]
        if flags & {"kana_long_vowel", "kana_small_kana"}:
            assert kana_key(r["name_kana"]) != kana_key(me["name_kana"])  # only a loose key matches
        else:  # half-width, hiragana, spaces: the strict key matches
            assert kana_key(r["name_kana"]) == kana_key(me["name_kana"])
        assert row["case"] in flags or (row["case"] == "kana_variant" and any(f.startswith("kana_") for f in flags)) \
            or (row["case"] == "current" and not flags)


def test_namesakes_live_in_different_households_and_twins_in_the_same(truth):
    _, _, clean, links, _ = truth
    person = clean["juminhyo"].set_index("atena_no")
    ns = links[links["case"] == "namesake"]
    assert len(ns) >= 4
    hh = person.loc[ns["宛名番号"], "setai_no"]
    key = person.loc[ns["宛名番号"], "birth_date"]
    for b, group in hh.groupby(key.values):
        if len(group) >= 2:
            assert group.nunique() >= 2
    tw = links[links["case"] == "twin"]
    assert len(tw) >= 4
    names = person.loc[tw["宛名番号"]]
    assert names.groupby(["setai_no", "birth_date"])["name_kana"].nunique().ge(1).all()


def test_rule_matches_file_is_well_formed(truth):
    _, summary, clean, _, m = truth
    assert list(m.columns) == ["as_of", "rule_id", "世帯番号", "match_with_tax", "match_without_tax"]
    assert set(m["as_of"]) == {d.isoformat() for d in DEFAULT_TRUTH_DATES}
    assert set(m["rule_id"]) == set(RULE_IDS)
    assert ((m["match_with_tax"] == 1) | (m["match_without_tax"] == 1)).all()
    # without tax consent a household can only lose matches
    assert (m["match_with_tax"] >= m["match_without_tax"]).all()
    assert set(m["世帯番号"]) <= set(clean["juminhyo"]["setai_no"])
    for d, rules in summary["rule_matches"].items():
        for rule, n in rules.items():
            sel = m[(m["as_of"] == d) & (m["rule_id"] == rule)]
            assert sel["match_with_tax"].sum() == n["with_tax"]
            assert sel["match_without_tax"].sum() == n["without_tax"]


def test_each_rule_has_a_healthy_number_of_matches_at_small_scale(truth):
    _, summary, *_ = truth
    for d, rules in summary["rule_matches"].items():
        for rule, n in rules.items():
            assert 20 <= n["with_tax"] <= 600, (d, rule, n)
        assert rules["shugaku_enjo"]["without_tax"] >= 10
        assert rules["hitorioya"]["with_tax"] > rules["hitorioya"]["without_tax"]


def test_each_clause_matters(truth):
    """For every rule and clause some household fails that clause alone (with tax consent)."""
    _, _, clean, links, _ = truth
    d = DEFAULT_TRUTH_DATES[-1]
    res = evaluate(clean, links.rename(columns={"児童生徒番号": "pupil_id", "宛名番号": "atena_no"}), [d], (True,))
    for rule, per in res[(d, True)].items():
        only = Counter()
        for clauses in per.values():
            fails = [i for i, ok in enumerate(clauses) if not ok]
            if len(fails) == 1:
                only[fails[0]] += 1
        n = len(next(iter(per.values())))
        assert all(only[k] > 0 for k in range(n)), (rule, only)


def test_reference_matches_on_the_clean_data_reproduce_the_truth_file(truth):
    _, _, clean, links, m = truth
    d = date(2026, 5, 10)
    links = links.rename(columns={"児童生徒番号": "pupil_id", "宛名番号": "atena_no"})
    for tax, col in ((True, "match_with_tax"), (False, "match_without_tax")):
        got = reference_matches(clean, links, d, tax)
        for rule in RULE_IDS:
            want = set(m[(m["as_of"] == d.isoformat()) & (m["rule_id"] == rule) & (m[col] == 1)]["世帯番号"])
            assert got[rule] == want, (rule, tax)


def test_same_name_cousins_share_a_household_but_not_a_birth_date(truth):
    _, _, clean, links, _ = truth
    person = clean["juminhyo"].set_index("atena_no")
    hn = links[links["flags"].str.contains("household_namesake")]
    assert len(hn) >= 4
    p = person.loc[hn["宛名番号"]]
    groups = p.assign(kana=p["name_kana"].map(kana_key)).groupby(["setai_no", "kana"])
    # Mostly both cousins are on the roster (one may be at a private school, or held back as invalid).
    assert (groups.size() >= 2).mean() >= 0.8
    cur = clean["juminhyo"][clean["juminhyo"]["removed_on"].isna()]
    kin = cur.assign(kana=cur["name_kana"].map(kana_key)).merge(groups.size().rename("n").reset_index())
    assert (kin.groupby(["setai_no", "kana"])["birth_date"].nunique() >= 2).all()
    # The cousins the generator builds are grandchildren of the head; a father and son of one name
    # (the given-name lists of two generations overlap) are household namesakes too.
    assert (p["relation"] == "孫").sum() >= 4


def test_past_pupils_are_many_and_some_graduated(truth):
    _, _, _, links, _ = truth
    past = links[links["case"] == "past_pupil"]
    assert len(past) > 0.4 * len(links)
    assert past["flags"].str.contains("graduated").mean() == pytest.approx(0.5, abs=0.1)
