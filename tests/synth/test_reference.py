"""The naive reference of rules.md on hand-made households: the edge cases, one at a time."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from notifier.synth.reference import age, is_jido, reference_matches

D = date(2026, 11, 1)


def person(atena, setai, relation, birth, removed=None):
    return {"atena_no": atena, "setai_no": setai, "relation": relation, "birth_date": pd.Timestamp(birth),
            "removed_on": pd.Timestamp(removed) if removed else pd.NaT}


def frames(people, **sources):
    f = {"juminhyo": pd.DataFrame(people)}
    for name, rows in sources.items():
        f[name] = pd.DataFrame(rows)
    return f


def links(pairs=()):
    return pd.DataFrame(list(pairs), columns=["pupil_id", "atena_no"])


def roster(*pupils):
    return [{"pupil_id": p, "grade": g} for p, g in pupils]


def tax(atena, year, income, cls="課税", hitorioya=False):
    return {"atena_no": atena, "tax_year": year, "total_income": income, "tax_class": cls,
            "hitorioya_deduction": hitorioya}


def match(f, lk, d, rule, with_tax=True):
    return "H1" in reference_matches(f, lk, d, with_tax)[rule]


# ---------------------------------------------------------------- dates
@pytest.mark.parametrize("birth,d,want", [
    (date(2010, 11, 2), date(2026, 10, 31), 15),
    (date(2010, 11, 2), date(2026, 11, 1), 16),     # birthday eve: the year is reached
    (date(2010, 11, 2), date(2026, 11, 2), 16),
    (date(2008, 2, 29), date(2026, 2, 27), 17),
    (date(2008, 2, 29), date(2026, 2, 28), 18),     # Feb 29: reached on Feb 28 in a non-leap year
    (date(2008, 3, 1), date(2026, 2, 28), 18),
    (date(2008, 3, 1), date(2028, 2, 28), 19),     # leap year: 1 March birthday reached on 29 Feb
    (date(2008, 3, 1), date(2028, 2, 29), 20),
    (date(2008, 2, 29), date(2028, 2, 28), 20),
])
def test_age_follows_the_age_calculation_act(birth, d, want):
    assert age(birth, d) == want


@pytest.mark.parametrize("birth,last", [
    (date(2008, 4, 1), date(2026, 3, 31)),   # reaches 18 on 31 March itself
    (date(2008, 4, 2), date(2027, 3, 31)),   # reaches 18 on 1 April → the next 31 March
    (date(2008, 2, 29), date(2026, 3, 31)),
    (date(2007, 12, 31), date(2026, 3, 31)),
])
def test_jido_until_the_first_march_31_after_reaching_18(birth, last):
    assert is_jido(birth, last)
    assert not is_jido(birth, date(last.year, 4, 1))


# ---------------------------------------------------------------- ひとり親
def single_parent(child_birth="2015-05-05", removed=None):
    return [person("1", "H1", "世帯主", "1985-01-01"), person("2", "H1", "子", child_birth, removed)]


def test_hitorioya_matches_a_registry_single_parent_without_the_allowance():
    assert match(frames(single_parent()), links(), D, "hitorioya", with_tax=False)


def test_hitorioya_fails_when_someone_receives_the_allowance_until_the_day_it_is_lost():
    rows = [{"atena_no": "1", "certified_on": pd.Timestamp("2020-01-01"), "lost_on": pd.Timestamp(D)}]
    f = frames(single_parent(), jido_fuyo_teate=rows)
    assert match(f, links(), D, "hitorioya")          # lost on D: no longer a recipient on D
    assert not match(f, links(), date(2026, 10, 31), "hitorioya")


def test_hitorioya_needs_a_jido_and_the_registry_signal_needs_no_spouse_and_a_head_child():
    f = frames(single_parent(child_birth="2008-04-01"))   # 児童 until 2026-03-31
    assert match(f, links(), date(2026, 3, 31), "hitorioya")
    assert not match(f, links(), date(2026, 4, 1), "hitorioya")
    people = single_parent() + [person("3", "H1", "妻", "1986-01-01")]
    assert not match(frames(people), links(), D, "hitorioya")
    grand = [person("1", "H1", "世帯主", "1955-01-01"), person("2", "H1", "子", "1985-01-01"),
             person("3", "H1", "孫", "2015-01-01")]
    assert not match(frames(grand), links(), D, "hitorioya")
    # ひとり親控除 on the tax row catches the split registration, with tax consent only
    f = frames(grand, shiminzei=[tax("2", 2026, 1_500_000, hitorioya=True)])
    assert match(f, links(), D, "hitorioya", with_tax=True)
    assert not match(f, links(), D, "hitorioya", with_tax=False)
    ordinal = [person("1", "H1", "世帯主", "1985-01-01"), person("2", "H1", "長女", "2015-05-05")]
    assert match(frames(ordinal), links(), D, "hitorioya")


def test_removed_on_the_as_of_date_is_not_a_resident_that_day():
    f = frames(single_parent(removed=D))
    assert not match(f, links(), D, "hitorioya")
    assert match(f, links(), date(2026, 10, 31), "hitorioya")


# ---------------------------------------------------------------- 就学援助
def pupil_household():
    return [person("1", "H1", "世帯主", "1985-01-01"), person("2", "H1", "妻", "1986-01-01"),
            person("3", "H1", "子", "2015-05-05")]


def test_shugaku_enjo_uses_the_latest_tax_year_up_to_the_fiscal_year():
    lk = links([("P1", "3")])
    # FY2025 low, FY2026 high: in FY2026 the new year counts, in February 2026 the old one
    f = frames(pupil_household(), gakureibo=roster(("P1", 5)),
               shiminzei=[tax("1", 2025, 1_000_000), tax("1", 2026, 6_000_000)])
    assert not match(f, lk, D, "shugaku_enjo")
    assert match(f, lk, date(2026, 2, 15), "shugaku_enjo")
    # the new year is missing: the latest one there is counts
    f = frames(pupil_household(), gakureibo=roster(("P1", 5)), shiminzei=[tax("1", 2025, 1_000_000)])
    assert match(f, lk, D, "shugaku_enjo")
    # threshold: 1,000,000 + 500,000 × 3 members
    f = frames(pupil_household(), gakureibo=roster(("P1", 5)), shiminzei=[tax("1", 2026, 2_500_000)])
    assert match(f, lk, D, "shugaku_enjo")
    f = frames(pupil_household(), gakureibo=roster(("P1", 5)), shiminzei=[tax("1", 2026, 2_500_001)])
    assert not match(f, lk, D, "shugaku_enjo")


def test_shugaku_enjo_tax_exempt_branch_and_allowance_branch():
    lk = links([("P1", "3")])
    exempt = [tax("1", 2026, 9_000_000, "非課税"), tax("2", 2026, 0, "非課税")]
    f = frames(pupil_household(), gakureibo=roster(("P1", 5)), shiminzei=exempt)
    assert match(f, lk, D, "shugaku_enjo")
    assert not match(f, lk, D, "shugaku_enjo", with_tax=False)
    rich = [tax("1", 2026, 9_000_000)]
    jf = [{"atena_no": "2", "certified_on": pd.Timestamp("2025-01-01"), "lost_on": pd.NaT}]
    f = frames(pupil_household(), gakureibo=roster(("P1", 5)), shiminzei=rich, jido_fuyo_teate=jf)
    assert match(f, lk, D, "shugaku_enjo", with_tax=False)   # this branch needs no tax consent


def test_shugaku_enjo_needs_an_enrolled_pupil_no_welfare_and_no_certificate_this_year():
    low = [tax("1", 2026, 1_000_000)]
    f = frames(pupil_household(), gakureibo=roster(("P1", 5)), shiminzei=low)
    assert not match(f, links(), D, "shugaku_enjo")                 # not linked
    assert not match(frames(pupil_household(), gakureibo=roster(("P1", 10)), shiminzei=low),
                     links([("P1", "3")]), D, "shugaku_enjo")        # not 小1–中3
    welfare = [{"atena_no": "1", "start_on": pd.Timestamp("2024-01-01"), "end_on": pd.Timestamp(D)}]
    f = frames(pupil_household(), gakureibo=roster(("P1", 5)), shiminzei=low, seikatsu_hogo=welfare)
    assert match(f, links([("P1", "3")]), D, "shugaku_enjo")          # period ended on D: inactive
    assert not match(f, links([("P1", "3")]), date(2026, 10, 31), "shugaku_enjo")
    aid = [{"pupil_id": "P1", "fiscal_year": 2026, "certified_on": pd.Timestamp("2026-04-01"),
            "cancelled_on": pd.NaT}]
    f = frames(pupil_household(), gakureibo=roster(("P1", 5)), shiminzei=low, shugaku_enjo=aid)
    assert not match(f, links([("P1", "3")]), D, "shugaku_enjo")
    assert match(f, links([("P1", "3")]), date(2026, 2, 15), "shugaku_enjo")  # FY2025 not certified
    # clause 3 (rules.md): 認定日 ≤ D and 取消日 blank or later than D
    for certified, cancelled, matches in (("2026-04-01", "2026-10-01", True),   # cancelled before D
                                          ("2026-04-01", "2026-12-01", False),  # still certified on D
                                          ("2026-11-02", None, True)):          # certified after D
        aid[0].update(certified_on=pd.Timestamp(certified), cancelled_on=pd.Timestamp(cancelled or "NaT"))
        f = frames(pupil_household(), gakureibo=roster(("P1", 5)), shiminzei=low, shugaku_enjo=aid)
        assert match(f, links([("P1", "3")]), D, "shugaku_enjo") is matches, (certified, cancelled)


# ---------------------------------------------------------------- ホームヘルパー
def carer_household(child_birth="2012-05-05"):
    return [person("1", "H1", "世帯主", "1980-01-01"), person("2", "H1", "子", child_birth),
            person("3", "H1", "母", "1945-01-01")]


def care(atena, level="要介護3", start="2025-01-01", end="2027-12-31"):
    return {"atena_no": atena, "care_level": level, "start_on": pd.Timestamp(start), "end_on": pd.Timestamp(end)}


def handbook(atena, kind, grade, issued="2020-01-01", valid=None, returned=None):
    return {"atena_no": atena, "handbook_kind": kind, "grade": grade, "issued_on": pd.Timestamp(issued),
            "valid_until": pd.Timestamp(valid) if valid else pd.NaT,
            "returned_on": pd.Timestamp(returned) if returned else pd.NaT}


def test_home_helper_matches_a_child_with_a_member_needing_care_and_no_home_help():
    assert match(frames(carer_household(), kaigo_nintei=[care("3")]), links(), D, "home_helper")
    assert not match(frames(carer_household(), kaigo_nintei=[care("3", "要介護2")]), links(), D, "home_helper")
    # care certification ending on D is not active on D
    assert not match(frames(carer_household(), kaigo_nintei=[care("3", end=str(D))]), links(), D, "home_helper")


@pytest.mark.parametrize("child_birth,ok", [
    ("2020-11-02", True),    # 6 on 2026-11-01 (the day before the birthday)
    ("2020-11-03", False),   # still 5
    ("2008-11-02", False),   # 18
    ("2008-11-03", True),    # 17
])
def test_home_helper_child_is_aged_6_to_17(child_birth, ok):
    f = frames(carer_household(child_birth), kaigo_nintei=[care("3")])
    assert match(f, links(), D, "home_helper") == ok


def test_home_helper_handbooks_valid_until_inclusive_returned_exclusive():
    hb = [handbook("1", "精神", "2級", valid=str(D))]
    assert match(frames(carer_household(), shogai_techo=hb), links(), D, "home_helper")
    hb = [handbook("1", "精神", "2級", valid="2026-10-31")]
    assert not match(frames(carer_household(), shogai_techo=hb), links(), D, "home_helper")
    hb = [handbook("1", "身体", "1級", returned=str(D))]
    assert not match(frames(carer_household(), shogai_techo=hb), links(), D, "home_helper")
    hb = [handbook("1", "身体", "3級")]
    assert not match(frames(carer_household(), shogai_techo=hb), links(), D, "home_helper")
    for grade in ("A", "A1", "A2"):
        assert match(frames(carer_household(), shogai_techo=[handbook("1", "療育", grade)]), links(), D,
                     "home_helper")
    assert not match(frames(carer_household(), shogai_techo=[handbook("1", "療育", "B1")]), links(), D,
                     "home_helper")


def test_home_helper_the_needing_member_must_be_someone_other_than_the_child():
    hb = [handbook("2", "療育", "A")]
    assert not match(frames(carer_household(), shogai_techo=hb), links(), D, "home_helper")
    sibling = carer_household() + [person("4", "H1", "子", "2014-01-01")]
    assert match(frames(sibling, shogai_techo=hb), links(), D, "home_helper")


@pytest.mark.parametrize("month,blocks", [
    ("2026-11-01", False),   # D's own month does not count
    ("2026-10-01", True),
    ("2026-08-01", True),    # three calendar months before D's month
    ("2026-07-01", False),
])
def test_home_helper_home_help_in_the_three_months_before_ds_month(month, blocks):
    svc = [{"atena_no": "3", "service_kind": "訪問介護", "service_month": pd.Timestamp(month)},
           {"atena_no": "3", "service_kind": "居宅介護支援", "service_month": pd.Timestamp("2026-10-01")}]
    f = frames(carer_household(), kaigo_nintei=[care("3")], kaigo_service=svc)
    assert match(f, links(), D, "home_helper") == (not blocks)


def test_home_helper_disability_home_help_blocks_while_active():
    svc = [{"atena_no": "1", "service_kind": "居宅介護", "start_on": pd.Timestamp("2026-04-01"),
            "end_on": pd.Timestamp(D)}]
    hb = [handbook("1", "身体", "1級")]
    f = frames(carer_household(), shogai_techo=hb, shogai_service=svc)
    assert match(f, links(), D, "home_helper")
    assert not match(f, links(), date(2026, 10, 31), "home_helper")
    svc[0]["service_kind"] = "生活介護"
    assert match(frames(carer_household(), shogai_techo=hb, shogai_service=svc), links(), date(2026, 10, 31),
                 "home_helper")


def test_reference_accepts_dates_as_strings_and_python_dates():
    people = [{"atena_no": "1", "setai_no": "H1", "relation": "世帯主", "birth_date": "1985-01-01", "removed_on": ""},
              {"atena_no": "2", "setai_no": "H1", "relation": "子", "birth_date": date(2015, 5, 5),
               "removed_on": None}]
    assert match({"juminhyo": pd.DataFrame(people)}, links(), D, "hitorioya")
