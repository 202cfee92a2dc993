"""Vectorised parsing of integer amounts and counts as city exports write them (commas, full-width digits)."""
from __future__ import annotations

import pandas as pd

from .decode import extract, parse_distinct

# After NFKC: "１２３，４５６" is "123,456" and "－" is "-". U+2212 (−) survives NFKC, and Japanese
# accounts write negatives as △/▲ (e.g. a business loss in 合計所得金額). Commas must group by
# thousands, so a stray "1,2345" is bad rather than silently 12345. A ".0" tail is a float export.
# RE2 (run by pyarrow) takes literal characters, not \u escapes.
_INT_RE = "^(?P<sign>[-+−△▲]?)(?P<digits>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,18})(?:\\.0+)?$"


def parse_ints(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse integers → (Int64 with <NA> for blank or bad, mask of bad values).

    Accepts 123456, 123,456, １２３,４５６, １２３，４５６, -5, △5, 10.0; anything else is bad.
    """
    return parse_distinct(s, _ints)


def _ints(text: pd.Series) -> pd.Series:
    m = extract(text, _INT_RE)
    digits = m["digits"].str.replace(",", "", regex=False)
    ok = digits.notna() & (digits.str.len() <= 18)  # int64 holds every 18-digit number
    values = digits.where(ok, "0").astype("int64")
    values = values.where(~m["sign"].isin(["-", "\u2212", "△", "▲"]), -values)
    return values.astype("Int64").where(ok)
