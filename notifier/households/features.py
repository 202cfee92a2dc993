"""Household features (世帯の特徴量): per-household counts and flags folded from the members frame.

Every column is one `np.bincount` over member positions, so the whole table costs a few dozen
vector operations however many households there are.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from notifier.contract import CARE_LEVELS

from .dates import fiscal_year, month_start
from .members import HANDBOOK_COLUMNS, SHOGAI_SERVICE_COLUMNS, build_members
from .table import HouseholdTable

# Member flags whose "any member" form is a household column of the same name.
RECEIPT_FLAGS = ("seikatsu_hogo", "jido_fuyo_teate", "jido_teate_recipient", "jido_teate_child",
                 "kodomo_iryo", "hoiku", "shugaku_enjo", "kajiso_open")


def _bool(col: pd.Series) -> np.ndarray:
    return col.to_numpy(dtype=bool, na_value=False)


def household_features(m: pd.DataFrame, index: pd.Index, facts: dict[str, pd.DataFrame],
                       as_of: dt.date) -> pd.DataFrame:
    n = len(index)
    hh = m["hh"].to_numpy()

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(hh[mask], minlength=n)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(hh, weights=values, minlength=n)

    age = m["age"].to_numpy(dtype="float64", na_value=np.nan)
    has_age = ~np.isnan(age)
    rel = m["relation_norm"].fillna("")
    is_child_rel = (rel == "子").to_numpy()
    is_spouse = rel.isin(["妻", "夫"]).to_numpy()
    is_jido = m["is_jido"].to_numpy()
    is_head = m["is_head"].to_numpy()
    grade = m["grade"].to_numpy(dtype="float64", na_value=np.nan)

    out = pd.DataFrame(index=index)
    out["size"] = count(np.ones(len(m), dtype=bool))
    out["n_jido"] = count(is_jido)
    out["n_child_relation"] = count(is_child_rel)
    out["n_minors"] = count(has_age & (age < 18))
    out["n_aged_65"] = count(has_age & (age >= 65))
    mn = np.full(n, np.inf)
    mx = np.full(n, -np.inf)
    np.minimum.at(mn, hh[has_age], age[has_age])
    np.maximum.at(mx, hh[has_age], age[has_age])
    out["min_age"] = pd.array(np.where(np.isfinite(mn), mn, 0).astype(np.int64), dtype="Int16")
    out.loc[~np.isfinite(mn), "min_age"] = pd.NA
    out["max_age"] = pd.array(np.where(np.isfinite(mx), mx, 0).astype(np.int64), dtype="Int16")
    out.loc[~np.isfinite(mx), "max_age"] = pd.NA

    head = pd.Series(pd.NA, index=index, dtype="str")
    hp = np.flatnonzero(is_head)
    head.iloc[hh[hp]] = m["atena_no"].to_numpy()[hp]
    out["head_atena_no"] = head
    out["has_head"] = count(is_head) > 0
    out["has_spouse"] = count(is_spouse) > 0

    # Enrolled pupils (linked roster rows, 学年 1–9).
    pupil = ~np.isnan(grade)
    out["n_pupils"] = count(pupil)
    out["n_elementary"] = count(pupil & (grade <= 6))
    out["n_junior_high"] = count(pupil & (grade >= 7))

    # ひとり親 signals. Registry: a 児童 with 続柄 子 (the registered head's child) and nobody is 妻/夫;
    # also when the head has moved out and the export shows no new head (children left with a
    # grandparent). Tax: a member's latest tax row has ひとり親控除.
    out["single_parent_registry"] = (count(is_jido & is_child_rel) > 0) & ~out["has_spouse"].to_numpy()
    out["single_parent_tax"] = count(_bool(m["hitorioya_deduction"])) > 0

    # Income: sum of latest-year 合計所得金額 (missing = 0). Tax-exempt: ≥ 1 latest row, all 非課税.
    has_tax = _bool(m["has_tax_row"])
    income = m["total_income"].to_numpy(dtype="float64", na_value=0.0)
    out["income"] = np.rint(total(income)).astype(np.int64)
    out["n_tax_rows"] = count(has_tax)
    taxed = has_tax & (m["tax_class"] != "非課税").to_numpy(dtype=bool, na_value=True)
    out["tax_exempt"] = (out["n_tax_rows"].to_numpy() > 0) & (count(taxed) == 0)

    for col in RECEIPT_FLAGS:
        out[col] = count(_bool(m[col])) > 0
    for col in SHOGAI_SERVICE_COLUMNS.values():
        out[col] = count(_bool(m[col])) > 0
    for col in HANDBOOK_COLUMNS.values():
        out["n_" + col] = count(m[col].notna().to_numpy())
    rank = np.zeros(n, dtype=np.int8)
    np.maximum.at(rank, hh, m["care_rank"].to_numpy())
    out["max_care_rank"] = rank
    out["max_care_level"] = pd.Series(np.array((None,) + CARE_LEVELS, dtype=object)[rank],
                                      index=index, dtype="str")

    # Check-ups whose target month has passed (before as_of's month) and that were not attended.
    ck = facts["checkups"]
    due = (ck["target_month"] < month_start(as_of)).to_numpy(dtype=bool, na_value=False) & \
        ck["attended_on"].isna().to_numpy()
    out["n_checkups_unattended"] = np.bincount(ck["hh"].to_numpy(dtype=np.int64)[due], minlength=n)
    return out


def build_household_table(sources: dict[str, pd.DataFrame], links: pd.DataFrame | None,
                          as_of: dt.date) -> HouseholdTable:
    """The household table for as_of (pure: frames in, frames out; no clock, no I/O)."""
    if isinstance(as_of, pd.Timestamp) or isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    members, index, facts = build_members(sources, links, as_of)
    households = household_features(members, index, facts, as_of)
    return HouseholdTable(as_of=as_of, fiscal_year=fiscal_year(as_of), members=members,
                          households=households, facts=facts)
