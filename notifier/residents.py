"""Who is a current resident (現住者) on a business date D — rules.md "Shared definitions", once.

A juminhyo row is current on D when 住民となった日 is blank or on/before D and 消除日 is blank or later
than D. The same definition in the two forms the service needs: vectorised over a juminhyo frame
(`current_mask`, `current_rows`) and as a SQL condition on the stored snapshot (`current_condition`).
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:                       # the SQL form is used where pandas is never loaded (the dispatcher)
    import numpy as np
    import pandas as pd

# The juminhyo fields the definition reads.
PERIOD_COLUMNS = ["resident_since", "removed_on"]


def _timestamp(day: dt.date) -> pd.Timestamp:
    import pandas as pd
    return pd.Timestamp(day.year, day.month, day.day)


def current_mask(juminhyo: pd.DataFrame, as_of: dt.date) -> np.ndarray:
    """Per row: a current resident on `as_of`. A frame without 住民となった日 reads it as blank."""
    t = _timestamp(as_of)
    removed = juminhyo["removed_on"]
    keep = removed.isna().to_numpy() | (removed > t).to_numpy(dtype=bool, na_value=False)
    if "resident_since" in juminhyo:
        since = juminhyo["resident_since"]
        keep &= since.isna().to_numpy() | (since <= t).to_numpy(dtype=bool, na_value=False)
    return keep


def current_rows(juminhyo: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The current residents on `as_of`, one row per 宛名番号 (the last row wins), reindexed."""
    cur = juminhyo.loc[current_mask(juminhyo, as_of)]
    cur = cur.loc[~cur["atena_no"].duplicated(keep="last").to_numpy()]
    return cur.reset_index(drop=True)


def current_condition(table, as_of: dt.date):
    """The same definition as a SQLAlchemy condition on `src_juminhyo` (or any table with both dates)."""
    from sqlalchemy import and_, or_
    c = table.c
    return and_(or_(c.resident_since.is_(None), c.resident_since <= as_of),
                or_(c.removed_on.is_(None), c.removed_on > as_of))
