"""Vectorised helpers shared by the pure cores and the services (no database, no clock).

`isin`: membership of a string column in a large set. pandas 3's `Series.isin` on Arrow strings
builds one Python scalar per *allowed* value (about 5 µs each: a second for 200,000 resident numbers);
pyarrow's `is_in` does the same in milliseconds. Other dtypes use pandas' own hash-based isin.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def isin(values, allowed) -> np.ndarray:
    """Per element of `values` (a Series, Index or array): True where it is one of `allowed` (any
    iterable). Missing values are never members. Returns a numpy bool array."""
    series = values if isinstance(values, (pd.Series, pd.Index)) else pd.Series(values)
    if not pd.api.types.is_string_dtype(series.dtype):
        return np.asarray(series.isin(list(allowed) if isinstance(allowed, (set, frozenset)) else allowed),
                          dtype=bool)
    import pyarrow as pa
    import pyarrow.compute as pc
    if isinstance(allowed, (pd.Series, pd.Index)):
        allowed = allowed.astype("str").dropna().to_numpy(dtype=object)
    else:
        allowed = [a for a in allowed if isinstance(a, str)]
    left = pa.array(series.astype("str").array, type=pa.large_string())
    right = pa.array(allowed, type=pa.large_string()) if len(allowed) else None
    if right is None:
        return np.zeros(len(series), dtype=bool)
    return pc.is_in(left, value_set=right, skip_nulls=True).fill_null(False).to_numpy(zero_copy_only=False)
