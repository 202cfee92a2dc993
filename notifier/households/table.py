"""HouseholdTable: the members, the households and the dated facts of one as-of date.

Households are addressed by position (`hh`, 0 … n-1, in 世帯番号 order) in every frame, so per-household
answers are numpy arrays aligned with `households.index`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class HouseholdTable:
    """世帯 table for as_of: one row per current household, plus its current residents (世帯員)."""

    as_of: dt.date
    fiscal_year: int
    members: pd.DataFrame          # one row per current resident; `hh` = household position
    households: pd.DataFrame       # index setai_no (sorted); row i is household position i
    facts: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.households)

    @property
    def hh(self) -> np.ndarray:
        return self.members["hh"].to_numpy()

    def count_members(self, mask: np.ndarray) -> np.ndarray:
        """Per household: how many members satisfy a member-level mask."""
        return np.bincount(self.hh[mask], minlength=self.n)

    def any_member(self, mask: np.ndarray) -> np.ndarray:
        return self.count_members(mask) > 0

    def count_rows(self, rows: pd.DataFrame, mask: np.ndarray | None = None,
                   distinct_members: bool = True) -> np.ndarray:
        """Per household: members (or rows) of a fact frame, optionally masked."""
        if mask is not None:
            rows = rows.loc[mask]
        if distinct_members:
            rows = rows.drop_duplicates("member")
        return np.bincount(rows["hh"].to_numpy(dtype=np.int64), minlength=self.n)

    def member_flag(self, rows: pd.DataFrame, mask: np.ndarray | None = None) -> np.ndarray:
        """Per member: True where some (masked) fact row belongs to the member."""
        if mask is not None:
            rows = rows.loc[mask]
        out = np.zeros(len(self.members), dtype=bool)
        out[rows["member"].to_numpy(dtype=np.int64)] = True
        return out

    def lists(self, positions: np.ndarray, frame: pd.DataFrame, mask: np.ndarray | None,
              column: str, months: bool = False) -> list[list]:
        """For the households at `positions`: the values of `column` over the (masked) rows of
        `frame` (members or a fact frame) in those households, sorted, as plain Python lists.

        Used to explain matches, so it only touches the rows of the given households: one sort and
        one conversion to Python values for all of them, then a slice per household. Dates come back
        as ISO strings ('YYYY-MM' with months=True).
        """
        positions = np.asarray(positions, dtype=np.int64)
        slot = np.full(self.n, -1, dtype=np.int64)
        slot[positions] = np.arange(len(positions))
        row_slot = slot[frame["hh"].to_numpy(dtype=np.int64)]
        values = frame[column]
        sel = (row_slot >= 0) & values.notna().to_numpy()
        if mask is not None:
            sel = sel & mask
        sub = pd.DataFrame({"slot": row_slot[sel], "v": values.array[sel]})
        sub = sub.sort_values(["slot", "v"], kind="stable")
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            vals = sub["v"].dt.strftime("%Y-%m" if months else "%Y-%m-%d").tolist()
        else:
            vals = sub["v"].tolist()
        counts = np.bincount(sub["slot"].to_numpy(dtype=np.int64), minlength=len(positions))
        ends = np.cumsum(counts).tolist()
        starts = [0] + ends[:-1]
        return [vals[a:b] for a, b in zip(starts, ends)]

    def household_positions(self, setai_nos) -> np.ndarray:
        return self.households.index.get_indexer(pd.Index(setai_nos))

