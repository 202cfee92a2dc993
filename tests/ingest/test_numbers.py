"""Integers as exports write them: commas, full-width digits, negative signs; everything else is bad."""
from __future__ import annotations

import pandas as pd
import pytest

from notifier.ingest.numbers import parse_ints


@pytest.mark.parametrize("text, expected", [
    ("123456", 123456),
    ("123,456", 123456),
    ("12,345,678", 12345678),
    ("１２３,４５６", 123456),
    ("１２３，４５６", 123456),        # full-width comma
    ("0", 0),
    ("0012", 12),
    ("-5", -5),
    ("－５", -5),
    ("\u22125", -5),                   # U+2212 survives NFKC
    ("△5", -5),                        # Japanese accounts write negatives with △ / ▲
    ("▲1,000", -1000),
    ("+7", 7),
    ("10.0", 10),                      # a float export of a whole number
    (" 42 ", 42),
    ("999999999999999999", 999999999999999999),
])
def test_parse_ints_accepts(text, expected):
    values, bad = parse_ints(pd.Series([text]))
    assert values.dtype == "Int64"
    assert (values.iloc[0], bool(bad.iloc[0])) == (expected, False)


@pytest.mark.parametrize("text", ["10.5", "1,2345", "1,23", ",123", "1 234", "abc", "12円", "--5", "1e5",
                                  "9999999999999999999", "٣", "-", "NaN"])
def test_parse_ints_rejects(text):
    values, bad = parse_ints(pd.Series([text]))
    assert pd.isna(values.iloc[0]) and bool(bad.iloc[0])


def test_blank_is_missing_not_bad_and_the_index_is_kept():
    values, bad = parse_ints(pd.Series(["", "1", "\u3000", None], index=[3, 4, 5, 6], dtype="str"))
    assert values.index.tolist() == [3, 4, 5, 6]
    assert values.isna().tolist() == [True, False, True, True]
    assert bad.tolist() == [False] * 4
