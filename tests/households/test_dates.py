"""Age, 学年齢 and 児童 status under 年齢計算ニ関スル法律 — the edge days."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from notifier.households.dates import active, age_on, fiscal_year, is_jido, school_age_on, valid_handbook

D = dt.date


def ages(births, on):
    return age_on(pd.Series(pd.to_datetime(births)).astype("datetime64[ns]"), on).tolist()


def jido(births, on):
    return is_jido(pd.Series(pd.to_datetime(births)).astype("datetime64[ns]"), on).tolist()


@pytest.mark.parametrize("d,fy", [(D(2026, 5, 10), 2026), (D(2026, 4, 1), 2026),
                                  (D(2026, 3, 31), 2025), (D(2026, 1, 1), 2025)])
def test_it_computes_the_fiscal_year(d, fy):
    assert fiscal_year(d) == fy


def test_it_counts_a_year_on_the_day_before_the_birthday():
    born = "2010-05-11"
    assert ages([born], D(2026, 5, 9)) == [15]
    assert ages([born], D(2026, 5, 10)) == [16]      # the day before the 16th birthday
    assert ages([born], D(2026, 5, 11)) == [16]


def test_it_reaches_a_year_on_feb_28_for_feb_29_births_in_non_leap_years():
    born = "2008-02-29"
    assert ages([born], D(2025, 2, 27)) == [16]
    assert ages([born], D(2025, 2, 28)) == [17]
    assert ages([born], D(2025, 3, 1)) == [17]
    # leap year: the day before Feb 29 is Feb 28 too
    assert ages([born], D(2028, 2, 27)) == [19]
    assert ages([born], D(2028, 2, 28)) == [20]


def test_it_handles_a_march_1_birth_in_a_leap_year():
    # born 2008-03-01: the day before the birthday is Feb 29 in leap years, Feb 28 otherwise
    assert ages(["2008-03-01"], D(2025, 2, 27)) == [16]
    assert ages(["2008-03-01"], D(2025, 2, 28)) == [17]
    assert ages(["2008-03-01"], D(2028, 2, 28)) == [19]
    assert ages(["2008-03-01"], D(2028, 2, 29)) == [20]


def test_it_returns_na_for_a_blank_birth_date():
    s = age_on(pd.Series([pd.NaT, pd.Timestamp("2000-01-01")], dtype="datetime64[ns]"), D(2026, 5, 10))
    assert s.isna().tolist() == [True, False]


@pytest.mark.parametrize("born,last_day", [
    ("2008-04-01", D(2026, 3, 31)),   # reaches 18 on 2026-03-31 → that very March 31
    ("2008-04-02", D(2027, 3, 31)),   # reaches 18 on 2026-04-01 → next March 31
    ("2008-01-01", D(2026, 3, 31)),   # reaches 18 on 2025-12-31
    ("2008-02-29", D(2026, 3, 31)),   # reaches 18 on 2026-02-28
    ("2008-03-31", D(2026, 3, 31)),   # reaches 18 on 2026-03-30
    ("2007-12-31", D(2026, 3, 31)),   # reaches 18 on 2025-12-30
])
def test_it_keeps_jido_status_until_the_first_march_31_after_reaching_18(born, last_day):
    assert jido([born], last_day) == [True]
    assert jido([born], last_day + dt.timedelta(days=1)) == [False]


def test_jido_status_reads_rules_md_literally_for_births_after_the_as_of_date():
    # Only possible when a past date is evaluated against a later snapshot; rules.md has no lower
    # bound (D ≤ that March 31), and the synthetic city's reference reads it the same way.
    assert jido(["2026-06-01"], D(2026, 5, 10)) == [True]
    assert ages(["2026-06-01"], D(2026, 5, 10)) == [-1]
    assert jido([None], D(2026, 5, 10)) == [False]


@pytest.mark.parametrize("born,school_age", [
    ("2019-04-01", 7),  # FY2026: 小2 (entered FY2025)
    ("2019-04-02", 6),  # 小1
    ("2020-04-01", 6),  # 小1 — April 1 births go with the year above
    ("2020-04-02", 5),  # 年長
    ("2023-04-01", 3),  # 年少
])
def test_it_computes_the_school_year_age(born, school_age):
    s = pd.Series(pd.to_datetime([born])).astype("datetime64[ns]")
    assert school_age_on(s, D(2026, 5, 10)).tolist() == [school_age]


def test_a_period_is_active_from_its_start_day_until_the_day_before_its_end():
    d = D(2026, 5, 10)
    start = pd.Series(pd.to_datetime(["2026-05-10", "2026-05-11", "2025-01-01", "2025-01-01",
                                      "2025-01-01", None])).astype("datetime64[ns]")
    end = pd.Series(pd.to_datetime([None, None, "2026-05-10", "2026-05-11", "2026-05-09",
                                    None])).astype("datetime64[ns]")
    assert active(start, end, d).tolist() == [True, False, False, True, False, False]


def test_a_handbook_is_valid_through_its_expiry_day_and_until_returned():
    d = D(2026, 5, 10)
    issued = pd.Series(pd.to_datetime(["2020-01-01"] * 5 + ["2026-05-11"])).astype("datetime64[ns]")
    valid = pd.Series(pd.to_datetime(["2026-05-10", "2026-05-09", None, None, None, None])
                      ).astype("datetime64[ns]")
    returned = pd.Series(pd.to_datetime([None, None, "2026-05-10", "2026-05-11", None, None])
                         ).astype("datetime64[ns]")
    assert valid_handbook(issued, valid, returned, d).tolist() == [True, False, False, True, True, False]
