"""Dates, months, fiscal years and JST date-times in every form the contract allows, and the bad ones."""
from __future__ import annotations

import pandas as pd
import pytest

from notifier.ingest.dates import parse_dates, parse_datetimes_jst, parse_fiscal_years, parse_months


def one(parse, value):
    values, bad = parse(pd.Series([value], dtype="str"))
    return values.iloc[0], bool(bad.iloc[0])


@pytest.mark.parametrize("text, expected", [
    ("2025-04-01", "2025-04-01"),
    ("2025/4/1", "2025-04-01"),
    ("2025/04/01", "2025-04-01"),
    ("2025.4.1", "2025-04-01"),
    ("20250401", "2025-04-01"),
    ("2023年4月1日", "2023-04-01"),
    ("令和7年4月1日", "2025-04-01"),
    ("R7.4.1", "2025-04-01"),
    ("R07.04.01", "2025-04-01"),
    ("r7.4.1", "2025-04-01"),
    ("R7/4/1", "2025-04-01"),
    ("R7年4月1日", "2025-04-01"),
    ("令和 7年 4月 1日", "2025-04-01"),
    ("令和元年5月1日", "2019-05-01"),
    ("R元.5.1", "2019-05-01"),
    ("R1.5.1", "2019-05-01"),
    ("平成31年4月30日", "2019-04-30"),
    ("H31.4.30", "2019-04-30"),
    ("H1.1.8", "1989-01-08"),
    ("昭和60年1月1日", "1985-01-01"),
    ("S60.1.1", "1985-01-01"),
    ("S64.1.7", "1989-01-07"),
    ("昭和元年12月25日", "1926-12-25"),
    ("大正15年12月24日", "1926-12-24"),
    ("T1.7.30", "1912-07-30"),
    ("明治45年7月29日", "1912-07-29"),
    ("M45.7.29", "1912-07-29"),
    ("２０２５－０４－０１", "2025-04-01"),       # full-width digits and dash (NFKC)
    ("令和７年４月１日", "2025-04-01"),
    ("Ｒ７．４．１", "2025-04-01"),
    ("  2025-04-01\u3000", "2025-04-01"),
    ("2025-04-01 00:00:00", "2025-04-01"),        # database exports put a midnight time on dates
    ("2025/4/1 0:00", "2025-04-01"),
    ("2024-02-29", "2024-02-29"),
])
def test_parse_dates_accepts(text, expected):
    value, bad = one(parse_dates, text)
    assert (value, bad) == (pd.Timestamp(expected), False)


@pytest.mark.parametrize("text", [
    "H31.5.1",        # 平成 ended 2019-04-30
    "S64.1.8",        # 昭和 ended 1989-01-07
    "R1.4.30",        # 令和 began 2019-05-01
    "H1.1.7",
    "T1.7.29",
    "M45.7.30",
    "R0.5.1",
    "R5.2.30",        # impossible dates
    "2025-02-29",
    "2025-13-01",
    "2025-04-31",
    "20250431",
    "2025041",        # 7 digits: GYYMMDD needs a mapping file, and is not a yyyymmd
    "25-04-01",
    "1500-01-01",     # before 明治
    "2025-04-01 10:30",   # a time other than midnight does not belong in a date column
    "X7.4.1",
    "令和7年4月",
    "2025-04",
    "yesterday",
    "NA",
])
def test_parse_dates_rejects(text):
    value, bad = one(parse_dates, text)
    assert pd.isna(value) and bad


@pytest.mark.parametrize("text", ["", "   ", "\u3000", "9999-12-31", "9999/12/31", "99991231", "9999-12-31 00:00:00"])
def test_blank_and_the_open_end_sentinel_mean_none(text):
    value, bad = one(parse_dates, text)
    assert pd.isna(value) and not bad


def test_parse_dates_keeps_index_and_dtype_and_parses_each_value_once():
    s = pd.Series(["R7.4.1", "", "bad", "R7.4.1", None], index=[5, 6, 7, 8, 9], dtype="str")
    values, bad = parse_dates(s)
    assert values.dtype == "datetime64[ns]" and bad.dtype == bool
    assert values.index.tolist() == [5, 6, 7, 8, 9]
    assert values.tolist()[0] == values.tolist()[3] == pd.Timestamp("2025-04-01")
    assert bad.tolist() == [False, False, True, False, False]


def test_parse_dates_of_an_empty_series():
    values, bad = parse_dates(pd.Series([], dtype="str"))
    assert len(values) == 0 and len(bad) == 0 and values.dtype == "datetime64[ns]"


@pytest.mark.parametrize("text, expected", [
    ("2025-04", "2025-04-01"),
    ("202504", "2025-04-01"),
    ("2025/4", "2025-04-01"),
    ("2025.04", "2025-04-01"),
    ("2025年4月", "2025-04-01"),
    ("R7.4", "2025-04-01"),
    ("R07.04", "2025-04-01"),
    ("令和7年4月", "2025-04-01"),
    ("令和元年5月", "2019-05-01"),
    ("H31.4", "2019-04-01"),
    ("S64.1", "1989-01-01"),
    ("H1.1", "1989-01-01"),
    ("２０２５０４", "2025-04-01"),
    ("2025-04-01", "2025-04-01"),       # a date on the 1st is a month
    ("R7.4.1", "2025-04-01"),
])
def test_parse_months_accepts(text, expected):
    value, bad = one(parse_months, text)
    assert (value, bad) == (pd.Timestamp(expected), False)


@pytest.mark.parametrize("text", ["2025-13", "202513", "H31.5", "R1.4", "S65.1", "2025-04-15", "R7", "2025", "x"])
def test_parse_months_rejects(text):
    value, bad = one(parse_months, text)
    assert pd.isna(value) and bad


@pytest.mark.parametrize("text, expected", [
    ("2025", 2025), ("2025年度", 2025), ("令和7", 2025), ("令和7年度", 2025), ("R7", 2025), ("R07", 2025),
    ("r7", 2025), ("令和元", 2019), ("令和元年度", 2019), ("H31", 2019), ("平成31年度", 2019), ("S64", 1989),
    ("２０２５", 2025), ("Ｒ７", 2025),
])
def test_parse_fiscal_years_accepts(text, expected):
    values, bad = parse_fiscal_years(pd.Series([text]))
    assert values.dtype == "Int64"
    assert (values.iloc[0], bool(bad.iloc[0])) == (expected, False)


@pytest.mark.parametrize("text", ["H32", "R0", "S65", "T16", "1800", "25", "2025-04", "令和", "x"])
def test_parse_fiscal_years_rejects(text):
    value, bad = one(parse_fiscal_years, text)
    assert pd.isna(value) and bad


def test_parse_fiscal_years_blank_is_missing_not_bad():
    values, bad = parse_fiscal_years(pd.Series(["", "2025"]))
    assert pd.isna(values.iloc[0]) and bad.tolist() == [False, False]


@pytest.mark.parametrize("text, utc", [
    ("2025-04-01 10:30", "2025-04-01 01:30"),
    ("2025/4/1 10:30:00", "2025-04-01 01:30"),
    ("2025-04-01T10:30:00", "2025-04-01 01:30"),
    ("2025-04-01 10:30:15.250", "2025-04-01 01:30:15.250"),
    ("2025/4/1 10:30:15.5", "2025-04-01 01:30:15.500"),
    ("2025-04-01 05:00", "2025-03-31 20:00"),          # crosses midnight into the previous UTC day
    ("R7.4.1 10:30", "2025-04-01 01:30"),
    ("令和7年4月1日 10時30分", "2025-04-01 01:30"),
    ("令和7年4月1日10時30分15秒", "2025-04-01 01:30:15"),
    ("２０２５／０４／０１　１０：３０", "2025-04-01 01:30"),
    ("2025-04-01", "2025-03-31 15:00"),               # a date alone is 00:00 JST
    ("2025-04-01T10:30:00Z", "2025-04-01 10:30"),      # an explicit offset wins over JST
    ("2025-04-01T10:30:00+09:00", "2025-04-01 01:30"),
    ("2025-04-01T10:30:00+0000", "2025-04-01 10:30"),
])
def test_parse_datetimes_jst_accepts(text, utc):
    value, bad = one(parse_datetimes_jst, text)
    assert (value, bad) == (pd.Timestamp(utc), False)


@pytest.mark.parametrize("text", ["2025-04-01 24:00", "2025-04-01 10:60", "2025-02-29 10:00",
                                  "H31.5.1 10:00", "10:30", "2025-04-01 10", "x"])
def test_parse_datetimes_jst_rejects(text):
    value, bad = one(parse_datetimes_jst, text)
    assert pd.isna(value) and bad


def test_parse_datetimes_jst_returns_naive_ns():
    values, _ = parse_datetimes_jst(pd.Series(["2025-04-01 10:30", ""]))
    assert values.dtype == "datetime64[ns]" and values.dt.tz is None and pd.isna(values.iloc[1])
