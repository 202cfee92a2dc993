"""The matcher (pure): roster and resident frames in, links and review candidates out.

Order, as the pilots learned it (data-notes.md "Record linkage"):
1. staff decisions on an unchanged roster row are reused (confirm / none; rejected pairs are excluded);
2. exact: a unique agreement on (strict kana, birth date, sex, 住所コード) on both sides;
3. scored: candidates from several blocking keys, each pair scored on the four basic items plus the
   guardian's kana in the candidate's household and the grade's birth-year window; a pupil is linked
   only when the best score is high AND clearly ahead of the next candidate, and no other pupil
   claims the same resident; otherwise the pupil goes to the review queue (or stays unlinked).
Everything is column operations over candidate pairs: no loop over pupils.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from notifier.clock import fiscal_year
from notifier.ingest.kana import GAIJI_MARK

# Scoring weights: log-likelihood-like points per item (agreement, disagreement).
W_KANA_STRICT, W_KANA_LOOSE, W_KANA_DIFF, W_KANA_GAIJI = 8.0, 6.0, -8.0, 2.0
W_DOB_SAME, W_DOB_DIFF = 7.0, -10.0
W_SEX_SAME, W_SEX_DIFF = 1.0, -5.0
W_ADDR_SAME, W_ADDR_DIFF = 3.0, -1.0
W_GUARDIAN_SAME, W_GUARDIAN_DIFF = 5.0, -1.0
W_GRADE_FITS, W_GRADE_MISFITS = 1.0, -3.0

AUTO_SCORE = 17.0      # high enough that kana + birth date + sex alone (16) never auto-link
AUTO_MARGIN = 6.0      # best must lead the runner-up by this much
REVIEW_SCORE = 8.0     # below this, a candidate is not worth a person's time

ROSTER_COLUMNS = ["pupil_id", "name_kana_strict", "name_kana_loose", "birth_date", "sex", "address_code",
                  "guardian_kana_strict", "guardian_kana_loose", "grade"]
RESIDENT_COLUMNS = ["atena_no", "setai_no", "name_kana_strict", "name_kana_loose", "birth_date", "sex",
                    "address_code"]


@dataclass
class LinkResult:
    links: pd.DataFrame        # pupil_id, atena_no, status (linked|review|unlinked), method, score, fingerprint
    candidates: pd.DataFrame   # pupil_id, atena_no, score, rank, evidence (dict) — review rows only


def fingerprints(roster: pd.DataFrame) -> pd.Series:
    """A stable hash of the fields that matching reads: a decision holds while these do not change."""
    parts = [roster[c].astype("string").fillna("") for c in
             ("name_kana_strict", "birth_date", "sex", "address_code", "guardian_kana_strict", "grade")]
    joined = parts[0].str.cat(parts[1:], sep="|")
    # hash_pandas_object uses a fixed key, so the value is stable across runs and machines.
    hashed = pd.util.hash_pandas_object(joined, index=False).to_numpy()
    return pd.Series([f"{h:016x}" for h in hashed.tolist()], index=roster.index, dtype=object)


def school_birth_window(grade: pd.Series, as_of: date) -> tuple[pd.Series, pd.Series]:
    """Birth dates a pupil of this grade has in the school year of `as_of` (April 2 … April 1)."""
    fy = fiscal_year(as_of)
    start_year = fy - 6 - grade.astype("Int64")
    first = pd.to_datetime(start_year.astype("string") + "-04-02", errors="coerce")
    last = pd.to_datetime((start_year + 1).astype("string") + "-04-01", errors="coerce")
    return first, last


def _unique_pairs(roster: pd.DataFrame, residents: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    r = roster.dropna(subset=keys)
    p = residents.dropna(subset=keys)
    r = r[~r.duplicated(keys, keep=False)]
    p = p[~p.duplicated(keys, keep=False)]
    return r[["pupil_id", *keys]].merge(p[["atena_no", *keys]], on=keys)[["pupil_id", "atena_no"]]


def _candidates(roster: pd.DataFrame, residents: pd.DataFrame) -> pd.DataFrame:
    blocks = [["name_kana_loose", "birth_date"], ["birth_date", "sex", "address_code"],
              ["name_kana_loose", "sex", "address_code"]]
    pairs = [roster[["pupil_id", *b]].dropna(subset=b).merge(residents[["atena_no", *b]].dropna(subset=b), on=b)
             [["pupil_id", "atena_no"]] for b in blocks]
    # Blank birth date: kana and sex only (the address may have changed too).
    blank = roster[roster["birth_date"].isna()]
    pairs.append(blank[["pupil_id", "name_kana_loose", "sex"]].merge(
        residents[["atena_no", "name_kana_loose", "sex"]], on=["name_kana_loose", "sex"])[["pupil_id", "atena_no"]])
    return pd.concat(pairs, ignore_index=True).drop_duplicates()


def _guardian_pairs(roster: pd.DataFrame, residents: pd.DataFrame) -> pd.DataFrame:
    """(pupil_id, setai_no) where someone in that household carries the roster's guardian kana."""
    g = roster[["pupil_id", "guardian_kana_loose"]].dropna()
    members = residents[["setai_no", "name_kana_loose"]].rename(columns={"name_kana_loose": "guardian_kana_loose"})
    return g.merge(members, on="guardian_kana_loose")[["pupil_id", "setai_no"]].drop_duplicates()


def score_pairs(pairs: pd.DataFrame, roster: pd.DataFrame, residents: pd.DataFrame, as_of: date) -> pd.DataFrame:
    r = roster.set_index("pupil_id")
    p = residents.set_index("atena_no")
    df = pairs.copy()
    rv = r.loc[df["pupil_id"]].reset_index(drop=True)
    pv = p.loc[df["atena_no"]].reset_index(drop=True)
    df["setai_no"] = pv["setai_no"].to_numpy()

    strict_same = (rv["name_kana_strict"] == pv["name_kana_strict"]).fillna(False).to_numpy(bool)
    loose_same = (rv["name_kana_loose"] == pv["name_kana_loose"]).fillna(False).to_numpy(bool)
    gaiji = (rv["name_kana_strict"].astype("string").str.contains(GAIJI_MARK, regex=False).fillna(False) |
             pv["name_kana_strict"].astype("string").str.contains(GAIJI_MARK, regex=False).fillna(False)).to_numpy(bool)
    kana = np.select([strict_same, loose_same, gaiji], [W_KANA_STRICT, W_KANA_LOOSE, W_KANA_GAIJI], W_KANA_DIFF)

    dob_blank = rv["birth_date"].isna().to_numpy()
    dob_same = (rv["birth_date"] == pv["birth_date"]).fillna(False).to_numpy(bool)
    dob = np.where(dob_blank, 0.0, np.where(dob_same, W_DOB_SAME, W_DOB_DIFF))

    sex = np.where((rv["sex"] == pv["sex"]).fillna(False).to_numpy(bool), W_SEX_SAME, W_SEX_DIFF)

    addr_blank = rv["address_code"].isna().to_numpy()
    addr_same = (rv["address_code"] == pv["address_code"]).fillna(False).to_numpy(bool)
    addr = np.where(addr_blank, 0.0, np.where(addr_same, W_ADDR_SAME, W_ADDR_DIFF))

    guardians = _guardian_pairs(roster, residents)
    gmatch = set(guardians["pupil_id"].astype(str) + "\x1f" + guardians["setai_no"].astype(str))
    pair_key = df["pupil_id"].astype(str) + "\x1f" + df["setai_no"].astype(str)
    g_blank = rv["guardian_kana_loose"].isna().to_numpy()
    g_same = pair_key.isin(gmatch).to_numpy()
    guardian = np.where(g_blank, 0.0, np.where(g_same, W_GUARDIAN_SAME, W_GUARDIAN_DIFF))

    first, last = school_birth_window(rv["grade"], as_of)
    fits = ((pv["birth_date"] >= first) & (pv["birth_date"] <= last)).fillna(False).to_numpy(bool)
    grade = np.where(rv["grade"].isna().to_numpy(), 0.0, np.where(fits, W_GRADE_FITS, W_GRADE_MISFITS))

    df["score"] = kana + dob + sex + addr + guardian + grade
    df["kana"], df["dob"], df["sex"], df["addr"], df["guardian"], df["grade"] = kana, dob, sex, addr, guardian, grade
    return df


def link_roster(roster: pd.DataFrame, residents: pd.DataFrame, decisions: pd.DataFrame | None = None,
                *, as_of: date) -> LinkResult:
    """Link every roster row to at most one current resident (see the module docstring)."""
    roster = roster.drop_duplicates("pupil_id").reset_index(drop=True)
    residents = residents.drop_duplicates("atena_no").reset_index(drop=True)
    roster = roster.assign(fingerprint=fingerprints(roster))
    out = pd.DataFrame({"pupil_id": roster["pupil_id"], "atena_no": pd.Series([None] * len(roster), dtype=object),
                        "status": "unlinked", "method": "none", "score": np.nan, "fingerprint": roster["fingerprint"]})
    out = out.set_index("pupil_id")
    resident_ids = set(residents["atena_no"])

    # 1. Staff decisions for unchanged roster rows.
    rejected = pd.DataFrame(columns=["pupil_id", "atena_no"])
    if decisions is not None and len(decisions):
        latest = (decisions.merge(roster[["pupil_id", "fingerprint"]], on=["pupil_id", "fingerprint"])
                  .sort_values("decided_at"))
        rejected = latest[latest["decision"] == "reject"][["pupil_id", "atena_no"]]
        final = latest[latest["decision"].isin(["confirm", "none"])].drop_duplicates("pupil_id", keep="last")
        confirm = final[(final["decision"] == "confirm") & final["atena_no"].isin(resident_ids)]
        out.loc[confirm["pupil_id"], ["atena_no", "status", "method", "score"]] = \
            np.column_stack([confirm["atena_no"], ["linked"] * len(confirm), ["manual"] * len(confirm),
                             [np.nan] * len(confirm)])
        none = final[final["decision"] == "none"]
        out.loc[none["pupil_id"], ["status", "method"]] = ["unlinked", "manual"]
    decided = set(out.index[out["method"] == "manual"])
    taken = set(out.loc[out["status"] == "linked", "atena_no"])

    # 2. Exact, unique on both sides.
    open_roster = roster[~roster["pupil_id"].isin(decided)]
    open_res = residents[~residents["atena_no"].isin(taken)]
    exact = _unique_pairs(open_roster, open_res, ["name_kana_strict", "birth_date", "sex", "address_code"])
    exact = exact.merge(rejected.assign(_r=1), how="left", on=["pupil_id", "atena_no"])
    exact = exact[exact["_r"].isna()]
    out.loc[exact["pupil_id"], "atena_no"] = exact["atena_no"].to_numpy()
    out.loc[exact["pupil_id"], ["status", "method"]] = ["linked", "exact"]
    out.loc[exact["pupil_id"], "score"] = np.nan
    decided |= set(exact["pupil_id"])
    taken |= set(exact["atena_no"])

    # 3. Scored comparison for the rest.
    rest = roster[~roster["pupil_id"].isin(decided)]
    pool = residents[~residents["atena_no"].isin(taken)]
    pairs = _candidates(rest, pool)
    if len(rejected):
        pairs = pairs.merge(rejected.assign(_r=1), how="left", on=["pupil_id", "atena_no"])
        pairs = pairs[pairs["_r"].isna()].drop(columns="_r")
    empty_candidates = pd.DataFrame(columns=["pupil_id", "atena_no", "score", "rank", "evidence"])
    if pairs.empty:
        return LinkResult(out.reset_index(), empty_candidates)
    scored = score_pairs(pairs, roster, residents, as_of)
    scored = scored[scored["score"] >= REVIEW_SCORE].sort_values(["pupil_id", "score", "atena_no"],
                                                                 ascending=[True, False, True])
    scored["rank"] = scored.groupby("pupil_id").cumcount() + 1
    best = scored[scored["rank"] == 1].set_index("pupil_id")
    second = scored[scored["rank"] == 2].set_index("pupil_id")["score"]
    margin = best["score"] - second.reindex(best.index).fillna(-np.inf)
    auto = best[(best["score"] >= AUTO_SCORE) & (margin >= AUTO_MARGIN)]
    # One resident, one pupil: a resident claimed by two pupils' best candidates is for a person to decide.
    claimed_twice = best["atena_no"].duplicated(keep=False)
    auto = auto[~claimed_twice.reindex(auto.index).fillna(False).to_numpy(bool)]
    out.loc[auto.index, "atena_no"] = auto["atena_no"].to_numpy()
    out.loc[auto.index, ["status", "method"]] = ["linked", "scored"]
    out.loc[auto.index, "score"] = auto["score"].to_numpy()

    review_ids = best.index.difference(auto.index)
    out.loc[review_ids, ["status", "method"]] = ["review", "scored"]
    out.loc[review_ids, "score"] = best.loc[review_ids, "score"].to_numpy()
    review = scored[scored["pupil_id"].isin(review_ids) & (scored["rank"] <= 5)].copy()
    review["evidence"] = review[["kana", "dob", "sex", "addr", "guardian", "grade"]].to_dict("records")
    candidates = review[["pupil_id", "atena_no", "score", "rank", "evidence"]].reset_index(drop=True)
    links = out.reset_index()
    links["score"] = links["score"].astype(float)
    return LinkResult(links, candidates)
