"""Derive the current consent state from the event history (pure: frames in, frames out)."""
from __future__ import annotations

import pandas as pd

EVENT_COLUMNS = ["id", "atena_no", "scope", "action", "occurred_at"]


def person_state(events: pd.DataFrame) -> pd.DataFrame:
    """One row per resident with bools `notify` and `tax`: the latest event per scope is a grant.

    Ties on `occurred_at` are broken by the event id (the order of recording). `tax` counts only
    while `notify` is active too, whatever the history says.
    """
    if events.empty:
        return pd.DataFrame({"notify": pd.Series(dtype=bool), "tax": pd.Series(dtype=bool)},
                            index=pd.Index([], name="atena_no"))
    latest = (events.sort_values(["occurred_at", "id"])
              .drop_duplicates(["atena_no", "scope"], keep="last"))
    wide = (latest.assign(granted=latest["action"].eq("grant"))
            .pivot(index="atena_no", columns="scope", values="granted"))
    for scope in ("notify", "tax"):
        if scope not in wide.columns:
            wide[scope] = False
    wide = wide[["notify", "tax"]].fillna(False).astype(bool)
    wide["tax"] = wide["tax"] & wide["notify"]
    wide.columns.name = None
    return wide


def household_state(persons: pd.DataFrame, residents: pd.DataFrame) -> pd.DataFrame:
    """Household scopes: held when any current member holds them (rules.md "Household consent").

    `residents` has atena_no and setai_no of current residents; returns index setai_no, bools.
    """
    merged = residents[["atena_no", "setai_no"]].merge(persons, left_on="atena_no", right_index=True, how="inner")
    if merged.empty:
        return pd.DataFrame({"notify": pd.Series(dtype=bool), "tax": pd.Series(dtype=bool)},
                            index=pd.Index([], name="setai_no"))
    return merged.groupby("setai_no")[["notify", "tax"]].any()
