"""Priority points: each signal from the linked data, summed per household with its explanation."""
from __future__ import annotations

import datetime as dt

import pytest

from notifier.outreach.priority import (
    DEFAULT_SCHEME,
    SchemeError,
    reorder_preview,
    scheme_from_form,
    score,
    validate_scheme,
)
from tests.factories import household_table

AS_OF = dt.date(2026, 11, 1)          # FY2026: school age 5 = born 2020-04-02 … 2021-04-01


def person(no, born, setai="H1", **kw):
    return {"atena_no": no, "birth_date": born, "setai_no": setai, **kw}


def table():
    return household_table(AS_OF, juminhyo=[
        # H1: a mother of 19 at the first birth, twins in 年長 and not in nursery, a pupil who is
        # often absent, a baby: single parent by the registry.
        person("101", dt.date(2001, 6, 1), sex=2),
        person("102", dt.date(2020, 7, 1), relation="長男"),
        person("103", dt.date(2020, 7, 1), relation="二男"),
        person("104", dt.date(2016, 5, 1), relation="長女"),   # the mother was 14 at this birth
        person("105", dt.date(2026, 6, 1), relation="三男"),
        # H2: a couple and one child in nursery: nothing.
        person("201", dt.date(1985, 1, 1), "H2"),
        person("202", dt.date(1986, 1, 1), "H2", relation="妻", sex=2),
        person("203", dt.date(2021, 9, 1), "H2", relation="長女"),
        # H3: public assistance and a guardian with a handbook; a missed 3歳児 check-up.
        person("301", dt.date(1980, 1, 1), "H3"),
        person("302", dt.date(1982, 1, 1), "H3", relation="妻", sex=2),
        person("303", dt.date(2023, 3, 1), "H3", relation="長男"),
    ], gakureibo=[{"pupil_id": "P1", "grade": 5, "school_code": "E01", "school_name": "和泉小学校"}],
        links=[("P1", "104")],
        shusseki=[{"pupil_id": "P1", "month": dt.date(2026, m, 1), "school_days": 20, "absent_days": a}
                  for m, a in ((8, 2), (9, 9), (10, 12))],
        hoiku=[{"atena_no": "203", "facility": "和泉保育園", "start_on": dt.date(2024, 4, 1)}],
        seikatsu_hogo=[{"atena_no": "301", "start_on": dt.date(2025, 1, 1)}],
        shogai_techo=[{"atena_no": "301", "handbook_kind": "身体", "grade": "2級", "issued_on": dt.date(2020, 1, 1)}],
        boshi_kenshin=[{"atena_no": "303", "checkup_kind": "3歳児", "target_month": dt.date(2026, 4, 1)}])


def test_signals_points_and_why():
    s = score(table())
    by = {h: {x["signal"]: x["points"] for x in s.why(h)} for h in s.households_with_signals()}
    assert by["H1"]["not_in_nursery"] == 40 and [x["signal"] for x in s.why("H1")].count("not_in_nursery") == 2
    # absent 23 of 60 days: 62% attended → the 50–80% band; September and October both ≥ 7 days absent
    assert by["H1"]["attendance"] == 10 and by["H1"]["absence_months"] == 10
    assert {"single_parent", "young_mother", "many_children", "twins", "infant"} <= set(by["H1"])
    assert s.points["H1"] == 40 + 40 + 10 + 10 + 5 * 1
    assert "H2" not in s.households_with_signals() and s.points["H2"] == 0 and s.why("H2") == []
    # the 3-year-old (school age 3 = 年少) is not in nursery either
    assert by["H3"] == {"missed_checkup": 5, "not_in_nursery": 10, "public_assistance": 1, "disability_guardian": 1}
    attendance = next(x for x in s.why("H1") if x["signal"] == "attendance")
    assert attendance["member"] == "104" and attendance["detail"] == "62%" and attendance["label"].startswith("出席比率")
    assert next(x for x in s.why("H1") if x["signal"] == "many_children")["member"] is None


def test_a_tuned_scheme_changes_the_order_and_the_preview_says_how():
    t = table()
    before = score(t).points
    after = score(t, {"public_assistance": {"points": 200}}).points
    assert after["H3"] == 216 and before["H3"] == 17
    preview = reorder_preview(before, after, top=3)
    assert preview[0] == {"setai_no": "H3", "old_points": 17, "new_points": 216, "old_rank": 2, "new_rank": 1}


@pytest.mark.parametrize("bad, words", [
    ({"nosuch": {"points": 1}}, "未知の項目"),
    ({"twins": {"points": -1}}, "0 以上 1000 以下"),
    ({"twins": {"colour": "red"}}, "twins.colour"),
    ({"attendance": {"bands": [{"below": 2, "points": 5}]}}, "1 以下の割合"),
])
def test_a_bad_scheme_is_refused_naming_the_field(bad, words):
    with pytest.raises(SchemeError, match=words):
        validate_scheme(bad)
    assert validate_scheme({}) == DEFAULT_SCHEME


def test_thresholds_are_tuned_like_points_and_change_who_gets_them():
    t = table()
    base = validate_scheme({})
    tuned = scheme_from_form({"attendance.bands.1.below": "60", "many_children.min_children": "5",
                              "young_mother.max_age_at_birth": "13", "absence_months.min_absent_days": "10",
                              "csrf_token": "x", "note": "理由"}, base)
    assert tuned["attendance"]["bands"][1] == {"below": 0.6, "points": 10}
    assert base == DEFAULT_SCHEME            # the base is not changed in place
    by = {x["signal"]: x["points"] for x in score(t, tuned).why("H1")}
    # 62% attended is no longer under the second band's 60%: the third band (under 90%) gives 5
    assert by["attendance"] == 5
    # four children are not five; 14 at the birth is over 13; only October had 10+ absences (no run of 2)
    assert not {"many_children", "young_mother", "absence_months"} & set(by)
    assert {"many_children", "young_mother", "absence_months"} <= {x["signal"] for x in score(t).why("H1")}


@pytest.mark.parametrize("form, words", [
    ({"many_children.min_children": "1"}, r"many_children.min_children（子どもの多い世帯・子どもの人数（以上））: 2 以上 10 以下"),
    ({"absence_months.months": "0"}, "1 以上 12 以下"),
    ({"attendance.bands.0.below": "0"}, "1 以上 100 以下（%）"),
    ({"attendance.bands.0.below": "80"}, "同じ割合の区分が二つ"),
    ({"attendance.bands.5": "3"}, "attendance.bands.5: 未知の項目"),
    ({"twins.points": "一"}, "多胎児（双子など）（twins.points）: 0 以上の整数"),
    ({"twins.points": "1001"}, "0 以上 1000 以下"),
])
def test_a_bad_form_is_refused_naming_the_field(form, words):
    with pytest.raises(SchemeError, match=words):
        scheme_from_form(form, validate_scheme({}))
