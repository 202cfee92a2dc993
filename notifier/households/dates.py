"""Date arithmetic of the eligibility definitions (rules.md), vectorised over date columns.

Ages follow 年齢計算ニ関スル法律: a year is reached on the day before the birthday, so a person born on
Feb 29 reaches a year on Feb 28 in non-leap years.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from notifier.clock import fiscal_year


def as_timestamp(d: dt.date) -> pd.Timestamp:
    return pd.Timestamp(d.year, d.month, d.day)


def month_start(d: dt.date, months_back: int = 0) -> pd.Timestamp:
    """First day of the month `months_back` calendar months before d's month."""
    k = d.year * 12 + (d.month - 1) - months_back
    return pd.Timestamp(k // 12, k % 12 + 1, 1)


def _parts(dates: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(year, month*100+day, month, valid) as int arrays; NaT rows are marked invalid."""
    valid = dates.notna().to_numpy()
    y = dates.dt.year.to_numpy(dtype="float64", na_value=np.nan)
    m = dates.dt.month.to_numpy(dtype="float64", na_value=np.nan)
    d = dates.dt.day.to_numpy(dtype="float64", na_value=np.nan)
    y = np.nan_to_num(y).astype(np.int64)
    m = np.nan_to_num(m).astype(np.int64)
    d = np.nan_to_num(d).astype(np.int64)
    return y, m * 100 + d, m, valid


def age_on(birth: pd.Series, d: dt.date) -> pd.Series:
    """Age in full years at d, as nullable Int16 (NA where the birth date is blank).

    A year counts as reached on the day before the birthday, i.e. the calendar age on d + 1 day,
    where a Feb 29 birthday in a non-leap year falls on Mar 1 (so Feb 28 is the day it is reached).
    """
    e = d + dt.timedelta(days=1)
    y, md, _, valid = _parts(birth)
    age = e.year - y - ((e.month * 100 + e.day) < md)
    return pd.Series(pd.arrays.IntegerArray(age.astype(np.int16), ~valid), index=birth.index)


def school_age_on(birth: pd.Series, d: dt.date) -> pd.Series:
    """学年齢: the age reached by March 31 before FY(d) starts (age on that day under the same law).

    A child of school-age 6 is in 小1 during FY(d); 3/4/5 are the 年少/年中/年長 years. A child born on
    April 1 reaches the age on March 31 and so belongs to the year above, as in 学校教育法.
    """
    fy = fiscal_year(d)
    y, md, _, valid = _parts(birth)
    age = fy - y - (md > 401)
    return pd.Series(pd.arrays.IntegerArray(age.astype(np.int16), ~valid), index=birth.index)


def jido_until_fy(birth: pd.Series) -> np.ndarray:
    """Last fiscal year in which a person is a 児童 (児童手当法・児童扶養手当法).

    A 児童 has not passed the first March 31 on or after the day they reach 18. That day is the day
    before the 18th birthday (Feb 28 for Feb 29 births in non-leap years); only its month matters to
    find the March 31: January–March → March 31 of that year, April–December → of the next year.
    """
    prev = birth - pd.Timedelta(days=1)
    y, _, m, valid = _parts(prev)
    reach_year = y + 18
    end_year = reach_year + (m > 3)          # year of the March 31 that ends the status
    out = end_year - 1                       # March 31 of end_year is the last day of FY end_year-1
    return np.where(valid, out, -1)


def is_jido(birth: pd.Series, d: dt.date) -> np.ndarray:
    """True while d ≤ that March 31 (rules.md, read literally: a resident of the snapshot born after
    d — only possible when evaluating a past date — counts too). False for a blank birth date."""
    return fiscal_year(d) <= jido_until_fy(birth)


def active(start: pd.Series, end: pd.Series, d: dt.date) -> np.ndarray:
    """Period row active on d: start ≤ d and (end blank or end > d)."""
    t = as_timestamp(d)
    s = (start <= t).to_numpy(dtype=bool, na_value=False)
    e = (end > t).to_numpy(dtype=bool, na_value=False) | end.isna().to_numpy()
    return s & e


def valid_handbook(issued: pd.Series, valid_until: pd.Series, returned: pd.Series,
                   d: dt.date) -> np.ndarray:
    """Handbook active on d: 交付日 ≤ d, 有効期限 blank or ≥ d, 返還日 blank or > d."""
    t = as_timestamp(d)
    i = (issued <= t).to_numpy(dtype=bool, na_value=False)
    v = (valid_until >= t).to_numpy(dtype=bool, na_value=False) | valid_until.isna().to_numpy()
    r = (returned > t).to_numpy(dtype=bool, na_value=False) | returned.isna().to_numpy()
    return i & v & r
