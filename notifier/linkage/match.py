"""The matcher (pure): roster and resident frames in, links and review candidates out.

Order, as the pilots learned it (data-notes.md "Record linkage"):
1. staff decisions on an unchanged roster row are reused (confirm / none; rejected pairs are excluded);
2. exact: a unique agreement on (strict kana, birth date, sex, 住所コード) on both sides;
3. scored: candidates from several blocking keys, each pair scored on the four basic items plus the
   guardian's kana in the candidate's household and the grade's birth-year window; a pupil is linked
   only when the best score is high AND clearly ahead of the next candidate, and no other pupil
   claims the same resident; otherwise the pupil goes to the review queue (or stays unlinked).

Everything is column operations: no loop over pupils. The text fields are factorised once into
integer codes shared by both sides (`_Coded`), so blocking, the exact step and every comparison work
on integers. A blocking key shared by more than BLOCK_CAP residents is too common to say anything
for that pupil and proposes no one through that block (the pupil's other blocks still do), so the
candidate pairs, and with them time and memory, grow linearly with the roster.
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
# A birth date one typing slip away (a day or three off, day and month swapped, the year off by one):
# hand-entered rosters do that. Weak disagreement, so such a pupil reaches the review queue rather
# than nobody; kana, sex, address, guardian and grade with it make 16 < AUTO_SCORE, never a link.
W_DOB_NEAR = -2.0
W_SEX_SAME, W_SEX_DIFF = 1.0, -5.0
W_ADDR_SAME, W_ADDR_DIFF = 3.0, -1.0
W_GUARDIAN_SAME, W_GUARDIAN_DIFF = 5.0, -1.0
W_GRADE_FITS, W_GRADE_MISFITS = 1.0, -3.0

AUTO_SCORE = 17.0      # high enough that kana + birth date + sex alone (16) never auto-link
AUTO_MARGIN = 6.0      # best must lead the runner-up by this much
REVIEW_SCORE = 8.0     # below this, a candidate is not worth a person's time
# Residents one blocking key may propose to one pupil. Far above any real household or namesake
# group (a common kana and sex without a birth date: a few dozen in a city of 185,000).
BLOCK_CAP = 200

ROSTER_COLUMNS = ["pupil_id", "name_kana_strict", "name_kana_loose", "birth_date", "sex", "address_code",
                  "guardian_kana_strict", "guardian_kana_loose", "grade"]
RESIDENT_COLUMNS = ["atena_no", "setai_no", "name_kana_strict", "name_kana_loose", "birth_date", "sex",
                    "address_code"]
EVIDENCE = ("kana", "dob", "sex", "addr", "guardian", "grade")
_NAT = np.iinfo(np.int64).min  # a missing date as int64 days (what numpy gives for NaT)
_ARROW = pd.StringDtype("pyarrow")


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
    hashed = pd.util.hash_pandas_object(joined, index=False).to_numpy(np.uint64)
    # 16 lower-case hex digits, written in numpy rather than one format call per row.
    nibbles = (hashed[:, None] >> np.arange(60, -4, -4, dtype=np.uint64)) & np.uint64(15)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles.astype(np.intp)]
    text = np.ascontiguousarray(digits).view("S16").ravel().astype(str)
    return pd.Series(text, index=roster.index, dtype=object)


def school_birth_window(grade: pd.Series, as_of: date) -> tuple[pd.Series, pd.Series]:
    """Birth dates a pupil of this grade has in the school year of `as_of` (April 2 … April 1)."""
    fy = fiscal_year(as_of)
    start_year = fy - 6 - grade.astype("Int64")
    first = pd.to_datetime(start_year.astype("string") + "-04-02", errors="coerce")
    last = pd.to_datetime((start_year + 1).astype("string") + "-04-01", errors="coerce")
    return first, last


def _days(col: pd.Series) -> np.ndarray:
    """Dates as int64 days since 1970 (_NAT for missing), comparable as plain integers."""
    return pd.to_datetime(col).to_numpy(dtype="datetime64[D]").astype(np.int64)


class _Coded:
    """Roster (pupils 0…P-1) and residents (0…R-1, in 宛名番号 order) as integer arrays.

    Each text field is factorised over both sides at once, so equal text is an equal code; -1 is
    missing. Pandas' string[pyarrow] comparisons and isin go through Python objects, integers do not.
    """

    def __init__(self, roster: pd.DataFrame, residents: pd.DataFrame, as_of: date):
        self.P, self.R = len(roster), len(residents)
        distinct = {}

        def shared(rcol: str, pcol: str) -> tuple[np.ndarray, np.ndarray]:
            # Arrow strings factorise in C (dictionary encoding); object strings would hash in Python.
            both = pd.concat([roster[rcol].astype(_ARROW), residents[pcol].astype(_ARROW)], ignore_index=True)
            codes, uniques = both.factorize()
            distinct[rcol] = len(uniques)
            return codes[:self.P].astype(np.int64), codes[self.P:].astype(np.int64)

        self.strict = shared("name_kana_strict", "name_kana_strict")
        self.loose = shared("name_kana_loose", "name_kana_loose")
        self.addr = shared("address_code", "address_code")
        # The guardian is looked for among the residents' names, so it shares their codes.
        self.guardian, names = shared("guardian_kana_loose", "name_kana_loose")
        self.setai = residents["setai_no"].astype(_ARROW).factorize()[0].astype(np.int64)
        self.dob = (_days(roster["birth_date"]), _days(residents["birth_date"]))
        self.sex = (pd.to_numeric(roster["sex"]).fillna(-1).to_numpy(np.int64),
                    pd.to_numeric(residents["sex"]).fillna(-2).to_numpy(np.int64))
        self.gaiji = tuple(s["name_kana_strict"].astype("string").str.contains(GAIJI_MARK, regex=False)
                           .fillna(False).to_numpy(bool) for s in (roster, residents))
        self.grade_blank = roster["grade"].isna().to_numpy()
        first, last = school_birth_window(roster["grade"], as_of)
        self.window = (_days(first), _days(last))
        # (household, name) of every resident: "someone in that household carries the guardian's kana".
        # Every guardian or name code is below the width, so a key names one household and one name.
        self._width = distinct["guardian_kana_loose"] + 1
        self._member_keys = np.unique((self.setai * self._width + names)[names >= 0])

    def _field(self, side: int, name: str) -> np.ndarray:
        return {"name_kana_strict": self.strict, "name_kana_loose": self.loose, "address_code": self.addr,
                "birth_date": self.dob, "sex": self.sex}[name][side]

    def keys(self, fields: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """One int64 code per row for a combination of fields, equal across the two sides; -1 where
        any field is missing. Combined a field at a time and re-factorised, so codes stay below the
        row count and never overflow."""
        code = np.zeros(self.P + self.R, dtype=np.int64)
        missing = np.zeros(self.P + self.R, dtype=bool)
        for f in fields:
            v = np.concatenate([self._field(0, f), self._field(1, f)])
            gone = (v == _NAT) if f == "birth_date" else (v < 0)
            missing |= gone
            v = np.where(gone, 0, v)
            v = v - v.min(initial=0)
            code = pd.factorize(code * (int(v.max(initial=0)) + 1) + v)[0].astype(np.int64)
        code[missing] = -1
        return code[:self.P], code[self.P:]

    def guardian_in_household(self, p: np.ndarray, r: np.ndarray) -> np.ndarray:
        keys = self.setai[r] * self._width + self.guardian[p]
        at = np.searchsorted(self._member_keys, keys)
        found = self._member_keys[np.minimum(at, max(len(self._member_keys) - 1, 0))] == keys \
            if len(self._member_keys) else np.zeros(len(keys), dtype=bool)
        return found & (self.guardian[p] >= 0)


def _block_pairs(pk: np.ndarray, rk: np.ndarray, pupils: np.ndarray, pool: np.ndarray,
                 cap: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(pupil, resident) index pairs agreeing on a key, for the given pupils and residents.

    With `cap`, a pupil whose key is shared by more than `cap` pool residents gets none from it.
    """
    pupils = pupils[pk[pupils] >= 0]
    pool = pool[rk[pool] >= 0]
    order = pool[np.argsort(rk[pool], kind="stable")]
    sorted_keys = rk[order]
    start = np.searchsorted(sorted_keys, pk[pupils], side="left")
    count = np.searchsorted(sorted_keys, pk[pupils], side="right") - start
    if cap is not None:
        count = np.where(count > cap, 0, count)
    p = np.repeat(pupils, count)
    offset = np.arange(len(p)) - np.repeat(np.cumsum(count) - count, count)
    r = order[np.repeat(start, count) + offset]
    return p, r


def _without(p: np.ndarray, r: np.ndarray, exclude: np.ndarray, n_res: int) -> np.ndarray:
    """Mask of the pairs (p, r) not in `exclude` (an int64 array of p * n_res + r)."""
    if not len(exclude):
        return np.ones(len(p), dtype=bool)
    return ~np.isin(p * n_res + r, exclude)


def _one_slip_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dates (int64 days) differing by one typing slip: 1–3 days apart, day and month swapped, or the
    same day of the month one year apart. Missing dates never are."""
    ok = (a != _NAT) & (b != _NAT)
    a_, b_ = np.where(ok, a, 0).astype("datetime64[D]"), np.where(ok, b, 0).astype("datetime64[D]")
    ya, yb = a_.astype("datetime64[Y]"), b_.astype("datetime64[Y]")
    ma, mb = a_.astype("datetime64[M]") - ya.astype("datetime64[M]"), b_.astype("datetime64[M]") - yb.astype("datetime64[M]")
    da, db = a_ - a_.astype("datetime64[M]").astype("datetime64[D]"), b_ - b_.astype("datetime64[M]").astype("datetime64[D]")
    ma, mb, da, db = (x.astype(np.int64) + 1 for x in (ma, mb, da, db))
    ya, yb = ya.astype(np.int64), yb.astype(np.int64)
    close = np.abs(a - b) <= 3
    swapped = (ya == yb) & (ma == db) & (da == mb)
    year = (ma == mb) & (da == db) & (np.abs(ya - yb) == 1)
    return ok & (a != b) & (close | swapped | year)


def score_pairs(c: _Coded, p: np.ndarray, r: np.ndarray) -> dict[str, np.ndarray]:
    """Each pair's points per item (EVIDENCE) and their sum, `score`."""
    sp, sr = c.strict
    lp, lr = c.loose
    kana = np.select([(sp[p] == sr[r]) & (sp[p] >= 0), (lp[p] == lr[r]) & (lp[p] >= 0),
                      c.gaiji[0][p] | c.gaiji[1][r]], [W_KANA_STRICT, W_KANA_LOOSE, W_KANA_GAIJI], W_KANA_DIFF)
    dp, dr = c.dob[0][p], c.dob[1][r]
    dob = np.where(dp == _NAT, 0.0, np.where(dp == dr, W_DOB_SAME,
                                             np.where(_one_slip_apart(dp, dr), W_DOB_NEAR, W_DOB_DIFF)))
    sex = np.where(c.sex[0][p] == c.sex[1][r], W_SEX_SAME, W_SEX_DIFF)
    ap, ar = c.addr[0][p], c.addr[1][r]
    addr = np.where(ap < 0, 0.0, np.where(ap == ar, W_ADDR_SAME, W_ADDR_DIFF))
    guardian = np.where(c.guardian[p] < 0, 0.0,
                        np.where(c.guardian_in_household(p, r), W_GUARDIAN_SAME, W_GUARDIAN_DIFF))
    first, last = c.window[0][p], c.window[1][p]
    fits = (dr != _NAT) & (first != _NAT) & (dr >= first) & (dr <= last)
    grade = np.where(c.grade_blank[p], 0.0, np.where(fits, W_GRADE_FITS, W_GRADE_MISFITS))
    out = {"kana": kana, "dob": dob, "sex": sex, "addr": addr, "guardian": guardian, "grade": grade}
    out["score"] = kana + dob + sex + addr + guardian + grade
    return out


def link_roster(roster: pd.DataFrame, residents: pd.DataFrame, decisions: pd.DataFrame | None = None,
                *, as_of: date) -> LinkResult:
    """Link every roster row to at most one current resident (see the module docstring)."""
    roster = roster.drop_duplicates("pupil_id").reset_index(drop=True)
    # 宛名番号 order: equal scores are broken by the lower 宛名番号, as a person reading a list would.
    residents = residents.drop_duplicates("atena_no").sort_values("atena_no", kind="stable").reset_index(drop=True)
    fingerprint = fingerprints(roster)
    c = _Coded(roster, residents, as_of)
    P, R = c.P, c.R
    pupil_ids = roster["pupil_id"].astype(object).to_numpy()
    atena_ids = residents["atena_no"].astype(object).to_numpy()
    atena_index = pd.Index(atena_ids)

    link_to = np.full(P, -1, dtype=np.int64)         # resident index, -1 = none
    status = np.full(P, "unlinked", dtype=object)
    method = np.full(P, "none", dtype=object)
    score = np.full(P, np.nan)
    decided = np.zeros(P, dtype=bool)
    taken = np.zeros(R, dtype=bool)
    rejected = np.empty(0, dtype=np.int64)

    # 1. Staff decisions for unchanged roster rows.
    if decisions is not None and len(decisions):
        mine = pd.DataFrame({"pupil_id": pupil_ids, "fingerprint": fingerprint.to_numpy(), "_p": np.arange(P)})
        latest = decisions.merge(mine, on=["pupil_id", "fingerprint"]).sort_values("decided_at", kind="stable")
        latest["_r"] = atena_index.get_indexer(latest["atena_no"].astype(object))
        rej = latest[(latest["decision"] == "reject") & (latest["_r"] >= 0)]
        rejected = np.unique(rej["_p"].to_numpy(np.int64) * R + rej["_r"].to_numpy(np.int64))
        final = latest[latest["decision"].isin(["confirm", "none"])].drop_duplicates("pupil_id", keep="last")
        confirm = final[(final["decision"] == "confirm") & (final["_r"] >= 0)]
        cp, cr = confirm["_p"].to_numpy(), confirm["_r"].to_numpy()
        link_to[cp], status[cp], method[cp] = cr, "linked", "manual"
        none = final["_p"][final["decision"] == "none"].to_numpy()
        status[none], method[none] = "unlinked", "manual"
        decided[cp] = decided[none] = True
        taken[cr] = True

    # 2. Exact, unique on both sides (among the rows still open).
    exact = ["name_kana_strict", "birth_date", "sex", "address_code"]
    pk, rk = c.keys(exact)
    open_p, open_r = np.flatnonzero(~decided), np.flatnonzero(~taken)
    n_keys = int(max(pk.max(initial=-1), rk.max(initial=-1))) + 1
    p_count = np.bincount(pk[open_p][pk[open_p] >= 0], minlength=n_keys)
    r_count = np.bincount(rk[open_r][rk[open_r] >= 0], minlength=n_keys)
    up = open_p[(pk[open_p] >= 0) & (p_count[np.maximum(pk[open_p], 0)] == 1)]
    ur = open_r[(rk[open_r] >= 0) & (r_count[np.maximum(rk[open_r], 0)] == 1)]
    ep, er = _block_pairs(pk, rk, up, ur, None)
    keep = _without(ep, er, rejected, R)
    ep, er = ep[keep], er[keep]
    link_to[ep], status[ep], method[ep] = er, "linked", "exact"
    decided[ep] = True
    taken[er] = True

    # 3. Scored comparison for the rest.
    rest, pool = np.flatnonzero(~decided), np.flatnonzero(~taken)
    blocks = [["name_kana_loose", "birth_date"], ["birth_date", "sex", "address_code"],
              ["name_kana_loose", "sex", "address_code"]]
    found = [_block_pairs(*c.keys(b), rest, pool, BLOCK_CAP) for b in blocks]
    # Blank birth date: kana and sex only (the address may have changed too).
    blank = rest[c.dob[0][rest] == _NAT]
    found.append(_block_pairs(*c.keys(["name_kana_loose", "sex"]), blank, pool, BLOCK_CAP))
    pair = np.unique(np.concatenate([p * R + r for p, r in found]))
    pair = pair[_without(pair // max(R, 1), pair % max(R, 1), rejected, R)] if len(pair) else pair
    empty = pd.DataFrame(columns=["pupil_id", "atena_no", "score", "rank", "evidence"])
    candidates = empty
    if len(pair):
        p, r = pair // R, pair % R
        points = score_pairs(c, p, r)
        worth = points["score"] >= REVIEW_SCORE
        p, r = p[worth], r[worth]
        points = {k: v[worth] for k, v in points.items()}
        s = points["score"]
        order = np.lexsort((r, -s, p))                # per pupil: best score first, then lower 宛名番号
        p, r, s = p[order], r[order], s[order]
        points = {k: v[order] for k, v in points.items()}
        first = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, dtype=bool)
        rank = np.arange(len(p)) - np.maximum.accumulate(np.where(first, np.arange(len(p)), 0)) + 1
        bp, br, bs = p[first], r[first], s[first]
        has_second = np.r_[p[1:] == p[:-1], False][first] if len(p) else np.zeros(0, dtype=bool)
        second = np.where(has_second, s[np.minimum(np.flatnonzero(first) + 1, len(s) - 1)], -np.inf)
        # One resident, one pupil: a resident claimed by two pupils' best candidates is for a person to decide.
        claimed_twice = pd.Series(br).duplicated(keep=False).to_numpy()
        auto = (bs >= AUTO_SCORE) & (bs - second >= AUTO_MARGIN) & ~claimed_twice
        ap = bp[auto]
        link_to[ap], status[ap], method[ap], score[ap] = br[auto], "linked", "scored", bs[auto]
        rp = bp[~auto]
        status[rp], method[rp], score[rp] = "review", "scored", bs[~auto]
        review = np.zeros(P, dtype=bool)
        review[rp] = True
        shown = review[p] & (rank <= 5)
        evidence = pd.DataFrame({k: points[k][shown] for k in EVIDENCE}).to_dict("records")
        candidates = pd.DataFrame({"pupil_id": pupil_ids[p[shown]], "atena_no": atena_ids[r[shown]],
                                   "score": s[shown], "rank": rank[shown], "evidence": evidence})

    links = pd.DataFrame({"pupil_id": pupil_ids,
                          "atena_no": np.where(link_to >= 0, atena_ids[np.maximum(link_to, 0)] if R else None, None),
                          "status": status, "method": method, "score": score.astype(float),
                          "fingerprint": fingerprint.to_numpy()})
    links["atena_no"] = links["atena_no"].astype(object)
    return LinkResult(links, candidates)
