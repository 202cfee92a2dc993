"""Vectorised parsing of the dates, months, fiscal years and JST date-times that city exports write (和暦 included)."""
from __future__ import annotations

import pandas as pd

from .decode import extract, parse_distinct

# (letter, first day, first day of the next era). 明治 starts on 1868-01-25, the Gregorian day of
# 慶応4年1月1日, because the 改元 of 1868-10-23 was made retroactive to the start of that year.
_ERAS = {
    "明治": ("M", "1868-01-25", "1912-07-30"),
    "大正": ("T", "1912-07-30", "1926-12-25"),
    "昭和": ("S", "1926-12-25", "1989-01-08"),
    "平成": ("H", "1989-01-08", "2019-05-01"),
    "令和": ("R", "2019-05-01", "2262-01-01"),
}
_LETTER = {name: letter for name, (letter, _, _) in _ERAS.items()} | {l: l for l, _, _ in _ERAS.values()}
_START = pd.Series({l: pd.Timestamp(a) for l, a, _ in _ERAS.values()})
_START_YEAR = _START.dt.year
_NEXT = pd.Series({l: pd.Timestamp(b) for l, _, b in _ERAS.values()})

# datetime64[ns] ends in 2262; no record or resident predates 明治, so earlier years are typos.
_MIN_YEAR, _MAX_YEAR = 1868, 2261
# Many municipal systems write 9999-12-31 for "no end date"; it means the same as blank.
_OPEN_END_RE = r"9999(?:[-/.]12[-/.]31|年12月31日?|1231)(?:[ T]0?0:00(?::00)?)?"
JST_OFFSET = pd.Timedelta(hours=9)

_ERA = r"(?P<era>明治|大正|昭和|平成|令和|[MTSHR])(?P<ey>元|[0-9]{1,2})"
_YEAR = rf"(?:{_ERA}|(?P<y>[0-9]{{4}}))"
_DATE_RE = (rf"^(?:{_YEAR}(?:年(?P<m1>[0-9]{{1,2}})月(?P<d1>[0-9]{{1,2}})日?"
            r"|[-/.](?P<m2>[0-9]{1,2})[-/.](?P<d2>[0-9]{1,2}))"
            r"|(?P<y8>[0-9]{4})(?P<m8>[0-9]{2})(?P<d8>[0-9]{2}))$")
_MONTH_RE = rf"^(?:{_YEAR}(?:年(?P<m1>[0-9]{{1,2}})月|[-/.](?P<m2>[0-9]{{1,2}}))|(?P<y6>[0-9]{{4}})(?P<m6>[0-9]{{2}}))$"
_FY_RE = rf"^{_YEAR}(?:年度|年)?$"
# A date, then optionally a time (10:30, 10:30:00, 10時30分) and a UTC offset.
_DATETIME_RE = (r"^(?P<date>.+?)(?:(?:[ \t]+|T)(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2}(?:\.[0-9]+)?))?"
                r"|[ \t]*(?P<hj>[0-9]{1,2})時(?P<mij>[0-9]{1,2})分(?:(?P<sj>[0-9]{1,2})秒)?)?"
                r"[ \t]*(?P<tz>Z|[+-][0-9]{2}:?[0-9]{2})?$")
# The ISO forms databases write, which pandas parses at C speed; the others go through the regexes.
_ISO_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_ISO_DATETIME_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"


def _num(*parts: pd.Series) -> pd.Series:
    """First non-missing of several captured digit groups, as a float (NaN where none matched)."""
    out = parts[0]
    for p in parts[1:]:
        out = out.fillna(p)
    # The groups hold digits only; this cast runs in pyarrow (pd.to_numeric is ~100x slower on str).
    return out.astype("Int64").astype("float64")


def _in_range(stamps: pd.Series) -> pd.Series:
    """Keep timestamps whose year is plausible, as datetime64[ns] (pandas 3 parses to µs)."""
    return stamps.where(stamps.dt.year.between(_MIN_YEAR, _MAX_YEAR)).astype("datetime64[ns]")


def _compact(text: pd.Series) -> pd.Series:
    # Era letters may come in lower case; spaces inside (令和 7年 4月 1日) carry no meaning.
    # (Whitespace spelled out: pandas falls back to Python's re for \s.)
    return text.str.upper().str.replace("[ \t\u3000]+", "", regex=True)


def _years(m: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Gregorian year from a Western or era year, and the era letter (missing for Western years)."""
    era = m["era"].map(_LETTER)
    era_year = _num(m["ey"].replace("元", "1"))
    start_year = era.map(_START_YEAR).astype("float64")  # all-missing maps keep the str dtype
    return _num(m["y"]).fillna(start_year + era_year - 1), era


def _assemble(year: pd.Series, month: pd.Series, day) -> pd.Series:
    """Dates from parts; impossible dates (R5.2.30) and years out of range become NaT."""
    year = year.where(year.between(_MIN_YEAR, _MAX_YEAR))
    parts = pd.DataFrame({"year": year, "month": month, "day": day})
    return pd.to_datetime(parts, errors="coerce").astype("datetime64[ns]")


def _dates(text: pd.Series) -> pd.Series:
    """Dates from distinct, NFKC-normalised texts; dates outside their era are NaT."""
    # Most cells are the ISO form databases write, which pandas parses at C speed.
    iso = text.str.fullmatch(_ISO_DATE_RE).fillna(False).astype(bool)
    dates = _in_range(pd.to_datetime(text.where(iso), format="%Y-%m-%d", errors="coerce"))
    if not iso.all():
        dates[~iso] = _dates_from_parts(text[~iso])
    return dates


def _dates_from_parts(text: pd.Series) -> pd.Series:
    m = extract(_compact(text), _DATE_RE)
    year, era = _years(m)
    year = year.fillna(_num(m["y8"]))
    dates = _assemble(year, _num(m["m1"], m["m2"], m["m8"]), _num(m["d1"], m["d2"], m["d8"]))
    in_era = era.isna() | ((dates >= era.map(_START)) & (dates < era.map(_NEXT)))
    return dates.where(in_era)


def parse_dates(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dates in any contract form → (datetime64[ns] with NaT for blank or bad, mask of bad values).

    Accepts 2025-04-01, 2025/4/1, 2025.4.1, 20250401, 2025年4月1日, 令和7年4月1日, R7.4.1, R07.04.01,
    令和元年5月1日 and the same for 明治/大正/昭和/平成 (M/T/S/H), full-width digits, and a trailing
    midnight time (2025-04-01 00:00:00). Dates outside their era (H31.5.1, S64.1.8, R1.4.30),
    impossible dates (R5.2.30) and years outside 1868–2261 are bad. 9999-12-31 means "no end"
    and reads as blank.
    """
    return parse_distinct(s, _dates_at_midnight, none=_OPEN_END_RE)


def _dates_at_midnight(text: pd.Series) -> pd.Series:
    dates = _dates(text)
    timed = dates.isna() & text.str.contains(r"[0-9][ T][0-9]|時", regex=True).fillna(False).astype(bool)
    if timed.any():  # exports from databases often carry a 00:00:00 time on dates
        stamps = _datetimes(text[timed]) + JST_OFFSET
        dates[timed] = stamps.where(stamps == stamps.dt.normalize())
    return dates


def parse_months(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse months (2025-04, 202504, 2025/4, 2025年4月, R7.4, 令和7年4月) → first day of the month.

    A full date on the 1st (2025-04-01) is a month too; other days are bad, since they suggest the
    wrong column was mapped. Era months must overlap their era (平成31年4月 yes, 平成31年5月 no).
    """
    return parse_distinct(s, _months)


def _months(text: pd.Series) -> pd.Series:
    m = extract(_compact(text), _MONTH_RE)
    year, era = _years(m)
    year = year.fillna(_num(m["y6"]))
    months = _assemble(year, _num(m["m1"], m["m2"], m["m6"]), 1)
    overlaps = era.isna() | ((months < era.map(_NEXT)) & (months + pd.offsets.MonthBegin(1) > era.map(_START)))
    months = months.where(overlaps)
    rest = months.isna()
    if rest.any():
        first_days = _dates(text[rest])
        months[rest] = first_days.where(first_days.dt.day == 1)
    return months


def parse_fiscal_years(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse fiscal years (2025, 2025年度, 令和7, R7, R07, 令和元年度, H31) → Int64.

    An era year must fall inside its era: 平成31 and 令和元 are both 2019; 平成32 is bad.
    """
    return parse_distinct(s, _fiscal_years)


def _fiscal_years(text: pd.Series) -> pd.Series:
    m = extract(_compact(text), _FY_RE)
    year, era = _years(m)
    in_era = era.isna() | (year.between(era.map(_START).dt.year, era.map(_NEXT).dt.year))
    return year.where(in_era & year.between(_MIN_YEAR, _MAX_YEAR)).astype("Int64")


def parse_datetimes_jst(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse JST date-times (2025-04-01 10:30, 2025/4/1 10:30:00, 2025-04-01T10:30:00, R7.4.1 10:30,
    令和7年4月1日 10時30分) → naive UTC datetime64[ns]. A date alone means 00:00 JST; an explicit
    offset (Z, +09:00) overrides JST.
    """
    return parse_distinct(s, _datetimes)


def _datetimes(text: pd.Series) -> pd.Series:
    iso = text.str.fullmatch(_ISO_DATETIME_RE).fillna(False).astype(bool)
    stamps = _in_range(pd.to_datetime(text.where(iso), format="ISO8601", errors="coerce")) - JST_OFFSET
    rest = stamps.isna() & text.ne("")
    if rest.any():
        stamps[rest] = _datetimes_slow(text[rest])
    return stamps


def _datetimes_slow(text: pd.Series) -> pd.Series:
    m = extract(text, _DATETIME_RE)
    h, mi = _num(m["h"], m["hj"]).fillna(0), _num(m["mi"], m["mij"]).fillna(0)
    sec = m["s"].fillna(m["sj"]).astype("float64").fillna(0)  # may carry a fraction (15.25)
    valid = (h < 24) & (mi < 60) & (sec < 60)
    tz = m["tz"].fillna("+09:00").replace("Z", "+00:00").str.replace(":", "")
    offset = _num(tz.str[1:3]) * 60 + _num(tz.str[3:5])
    offset = offset.where(tz.str[0] == "+", -offset)
    local = _dates(m["date"].fillna("")) + pd.to_timedelta(h * 3600 + mi * 60 + sec, unit="s")
    return (local - pd.to_timedelta(offset, unit="min")).where(valid)
