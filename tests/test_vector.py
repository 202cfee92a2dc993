"""notifier.vector.isin equals pandas' isin (strings with missing values, numbers, empty sets) and
is fast on the set sizes of a city."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.vector import isin

words = st.lists(st.one_of(st.none(), st.text(alphabet="0123456789アイ", max_size=4)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(words, st.lists(st.text(alphabet="0123456789アイ", max_size=4), max_size=30), st.sampled_from(["set", "list", "series"]))
def test_it_equals_pandas_isin_on_strings(values, allowed, shape):
    series = pd.Series(values, dtype="str")
    given_allowed = {"set": set(allowed), "list": list(allowed), "series": pd.Series(allowed, dtype="str")}[shape]
    want = series.isin(list(allowed)).to_numpy(dtype=bool) & series.notna().to_numpy()
    assert np.array_equal(isin(series, given_allowed), want)


def test_numbers_and_indexes():
    assert isin(pd.Series([1, 2, 3]), {2, 3}).tolist() == [False, True, True]
    assert isin(pd.Index(["a", "b"], dtype="str"), ["b"]).tolist() == [False, True]
    assert isin(pd.Series(["a"], dtype="str"), []).tolist() == [False]


def test_it_is_fast_for_a_city():
    known = pd.Series([f"{i:010d}" for i in range(200_000)], dtype="str")
    col = pd.Series([f"{i * 3:010d}" for i in range(50_000)], dtype="str")
    values = set(known)
    best = float("inf")
    for _ in range(3):   # best of 3: a shared CI machine's other jobs only ever add time
        t0 = time.perf_counter()
        hit = isin(col, values)
        best = min(best, time.perf_counter() - t0)
    assert best < 0.5    # ≈0.13 s here; pandas' own isin on Arrow strings takes ≈2 s
    assert hit.sum() == len(col[col.astype(int) < 200_000])
