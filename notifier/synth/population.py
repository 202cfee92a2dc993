"""The synthetic population: households of 1–8 people with names, ages, addresses and registry history.

Households are built per type (couple with children, single parent, three generations …) with numpy,
one type at a time; there is no Python loop over people or households. Dates are numpy
``datetime64[D]`` throughout.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import dirt, names

DAY = np.timedelta64(1, "D")
NAT = np.datetime64("NaT", "D")
YEAR_DAYS = 365.2425

# Share of each household type among current households (normalised below), tuned so that the
# age structure is Izumi's: ~16% children under 18, ~8% pupils 小1–中3, ~27% aged 65+.
HOUSEHOLD_TYPES: dict[str, float] = {
    "single_young": 0.165,     # one adult 20–64
    "single_elderly": 0.150,   # one person 65+
    "couple": 0.080,           # couple 25–64 without children at home
    "couple_elderly": 0.140,   # couple 65+
    "couple_children": 0.180,  # couple with 1–4 children (some adult children still at home)
    "single_parent": 0.030,    # one parent with children
    "sp_grandparents": 0.011,  # single parent + grandparent(s); either the parent or a grandparent heads
    "three_gen": 0.036,        # couple + children + grandparent(s)
    "elder_with_child": 0.070, # elderly parent(s) with an unmarried adult child
    "other": 0.020,            # siblings, 同居人, 縁故者
    "cohabit": 0.005,          # unmarried partner registered as 同居人, with children
    "split": 0.004,            # couple registered as two households at one address (世帯分離)
}
# Types of the households that moved out of the city (転出) in the last three years.
MOVED_OUT_TYPES: dict[str, float] = {
    "single_young": 0.40, "couple": 0.15, "couple_children": 0.32, "single_parent": 0.06,
    "other": 0.04, "couple_elderly": 0.03,
}

ROLE_MAIN, ROLE_SPOUSE, ROLE_SP, ROLE_CHILD, ROLE_ELDER, ROLE_ADULT = (
    "main", "spouse", "single_parent", "child", "elder", "adult")


@dataclass
class Population:
    people: pd.DataFrame       # one row per person ever in the registry export
    households: pd.DataFrame   # one row per household (世帯)
    surnames: pd.DataFrame     # vocabulary: kanji, kana, weight


def d64(x) -> np.datetime64:
    return np.datetime64(x, "D")


def days(a) -> np.ndarray:
    """Dates as numpy datetime64[D] (frames hold datetime64[s]; mixing units silently breaks arithmetic)."""
    return np.asarray(a).astype("datetime64[D]")


def ymd(d: np.ndarray):
    d = days(d)
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, dd


def from_ymd(y, m, d) -> np.ndarray:
    y, m, d = (np.asarray(v, dtype=np.int64) for v in (y, m, d))
    months = (y - 1970) * 12 + (m - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]") + (d - 1) * DAY


def age_at(birth: np.ndarray, d: np.datetime64) -> np.ndarray:
    """Age by 年齢計算ニ関スル法律: a year is reached on the day before the birthday."""
    d = np.datetime64(d, "D")
    by, bm, bd = ymd(birth)
    y, m, dd = ymd(np.array([d + DAY]))
    return y[0] - by - ((m[0] * 100 + dd[0]) < (bm * 100 + bd))


def school_year(birth: np.ndarray) -> np.ndarray:
    """Cohort year: children born 2 April Y … 1 April Y+1 share school year Y."""
    y, m, d = ymd(birth)
    return y - ((m * 100 + d) < 402)


def grade_in(birth: np.ndarray, fy: int) -> np.ndarray:
    """School grade in fiscal year fy (1 = 小1 … 9 = 中3; ≤0 pre-school, ≥10 beyond)."""
    return fy - school_year(birth) - 6


def child_until(birth: np.ndarray) -> np.ndarray:
    """Last day someone is a 児童: the first 31 March on or after the day they reach 18."""
    y, m, d = ymd(birth)
    leap = ((y + 18) % 4 == 0) & (((y + 18) % 100 != 0) | ((y + 18) % 400 == 0))
    feb29 = (m == 2) & (d == 29) & ~leap
    anniv = from_ymd(y + 18, np.where(feb29, 3, m), np.where(feb29, 1, d))
    reach = anniv - DAY
    ry, rm, _ = ymd(reach)
    return from_ymd(ry + (rm > 3), 3, 31)


def month_start(d: np.ndarray) -> np.ndarray:
    return d.astype("datetime64[M]").astype("datetime64[D]")


def month_end(d: np.ndarray) -> np.ndarray:
    return (d.astype("datetime64[M]") + 1).astype("datetime64[D]") - DAY


def fiscal_year(d: np.ndarray) -> np.ndarray:
    y, m, _ = ymd(d)
    return y - (m < 4)


def _years(x) -> np.ndarray:
    return np.round(np.asarray(x) * YEAR_DAYS).astype(np.int64) * DAY


def _birth(rng, n, t0, lo, hi, a=1.0, b=1.0) -> np.ndarray:
    """Birth dates such that the age at t0 is lo + (hi - lo)·Beta(a, b) years."""
    return t0 - _years(lo + (hi - lo) * rng.beta(a, b, n)) - DAY * rng.integers(0, 2, n)


def _elder_birth(rng, n, t0, lo=65):
    return _birth(rng, n, t0, lo, 101, 1.15, 2.6)


# ---------------------------------------------------------------- household builders
class _Members:
    """Collects member rows of one household type as column arrays."""

    def __init__(self):
        self.parts: list[dict] = []

    def add(self, hh, slot, relation, sex, birth, role, mother=-1, father=-1, own=True, twin=False,
            left=False):
        hh = np.asarray(hh)
        n = len(hh)
        full = lambda v: np.broadcast_to(np.asarray(v), (n,)).copy()  # noqa: E731
        self.parts.append(dict(hh=hh, slot=full(slot), relation=full(relation), sex=full(sex),
                               birth=full(birth).astype("datetime64[D]"), role=full(role),
                               mother_slot=full(mother), father_slot=full(father),
                               own_surname=full(own), twin=full(twin), left=full(left)))

    def frame(self) -> pd.DataFrame:
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        return pd.DataFrame(cols)


def _children(rng, m: _Members, hh, parent_birth, k, t0, mother_slot, father_slot, relation="子",
              keep_adults=True):
    """Add k[i] children to household hh[i], born to a parent born parent_birth[i]."""
    hh, parent_birth, k = np.asarray(hh), np.asarray(parent_birth), np.asarray(k)
    if k.sum() == 0:
        return
    idx = np.repeat(np.arange(len(hh)), k)
    starts = np.cumsum(k) - k
    j = np.arange(len(idx)) - np.repeat(starts, k)
    first = np.clip(rng.normal(29.5, 4.5, len(hh)), 19, 43)
    twin = (j > 0) & (rng.random(len(idx)) < 0.015)
    gap = np.where(j == 0, 0.0, np.where(twin, 0.0, 1.1 + rng.gamma(2.0, 0.9, len(idx))))
    cum = np.cumsum(gap)
    cum = cum - np.repeat(cum[starts], k)
    birth = parent_birth[idx] + _years(first[idx] + cum) + DAY * rng.integers(0, 28, len(idx))
    # twins share the birth date of the previous child exactly
    for _ in range(3):
        birth = np.where(twin, np.concatenate([birth[:1], birth[:-1]]), birth)
    twin_any = twin | np.concatenate([twin[1:], [False]])
    born = birth <= t0
    age = age_at(birth, t0)
    stay = np.interp(age, [17, 18, 22, 26, 31, 40], [1.0, 0.85, 0.6, 0.35, 0.18, 0.08])
    left = rng.random(len(idx)) > stay
    if not keep_adults:
        left |= age >= 18
    sel = born
    sex = rng.choice([1, 2], len(idx))
    m.add(hh[idx][sel], 10 + j[sel], relation, sex[sel], birth[sel], ROLE_CHILD,
          mother_slot[idx][sel] if np.ndim(mother_slot) else mother_slot,
          father_slot[idx][sel] if np.ndim(father_slot) else father_slot,
          True, twin_any[sel], left[sel])


def _kids(rng, n, p):
    return rng.choice(np.arange(1, len(p) + 1), n, p=p)


def _build(htype: str, rng, n: int, t0) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """Members of n households of one type → (members, household types, partner household)."""
    m = _Members()
    hh = np.arange(n)
    types = [htype] * n
    partner = np.full(n, -1)
    if htype == "single_young":
        m.add(hh, 0, "世帯主", rng.choice([1, 2], n, p=[0.56, 0.44]), _birth(rng, n, t0, 19, 65, 1.1, 1.8),
              ROLE_ADULT)
    elif htype == "single_elderly":
        m.add(hh, 0, "世帯主", rng.choice([1, 2], n, p=[0.33, 0.67]), _elder_birth(rng, n, t0), ROLE_ELDER)
    elif htype in ("couple", "couple_elderly"):
        if htype == "couple":
            hb = _birth(rng, n, t0, 25, 65, 1.3, 1.3)
            roles = (ROLE_MAIN, ROLE_SPOUSE)
        else:
            hb = _elder_birth(rng, n, t0, 66)
            roles = (ROLE_ELDER, ROLE_ELDER)
        wb = hb + _years(np.clip(rng.normal(2.5, 3.0, n), -5, 12))
        if htype == "couple_elderly":
            wb = np.minimum(wb, t0 - _years(60))
        m.add(hh, 0, "世帯主", 1, hb, roles[0])
        m.add(hh, 1, "妻", 2, wb, roles[1])
    elif htype in ("couple_children", "cohabit"):
        mb = _birth(rng, n, t0, 23, 66, 2.0, 2.4)
        fb = mb - _years(np.clip(rng.normal(2.2, 3.0, n), -4, 12))
        if htype == "couple_children":
            fhead = rng.random(n) < 0.93
            m.add(hh, 0, np.where(fhead, "世帯主", "夫"), 1, fb, ROLE_MAIN)
            m.add(hh, 1, np.where(fhead, "妻", "世帯主"), 2, mb, ROLE_SPOUSE)
            k = _kids(rng, n, [0.33, 0.45, 0.18, 0.04])
        else:  # mother heads, partner is 同居人 with his own surname
            mb = _birth(rng, n, t0, 22, 50, 1.6, 2.0)
            fb = mb - _years(np.clip(rng.normal(2.0, 4.0, n), -6, 12))
            m.add(hh, 1, "世帯主", 2, mb, ROLE_MAIN)
            m.add(hh, 0, "同居人", 1, fb, ROLE_SPOUSE, own=False)
            k = _kids(rng, n, [0.55, 0.35, 0.10])
        _children(rng, m, hh, mb, k, t0, 1, 0)
    elif htype in ("single_parent", "split"):
        female = rng.random(n) < (0.86 if htype == "single_parent" else 1.0)
        pb = _birth(rng, n, t0, 21, 58, 2.2, 2.2)
        m.add(hh, 0, "世帯主", np.where(female, 2, 1), pb, ROLE_SP if htype == "single_parent" else ROLE_MAIN)
        k = _kids(rng, n, [0.50, 0.38, 0.12])
        _children(rng, m, hh, pb, k, t0, np.where(female, 0, -1), np.where(female, -1, 0))
        if htype == "split":  # the father is registered as his own household at the same address
            fb = pb - _years(np.clip(rng.normal(2.0, 3.0, n), -4, 12))
            m.add(n + hh, 0, "世帯主", 1, fb, ROLE_MAIN)
            types += ["split_father"] * n
            partner = np.concatenate([n + hh, hh])
    elif htype == "sp_grandparents":
        female = rng.random(n) < 0.88
        pb = _birth(rng, n, t0, 21, 52, 2.0, 2.4)
        gmb = pb - _years(rng.uniform(22, 36, n))
        gfb = gmb - _years(np.clip(rng.normal(2.5, 3, n), -4, 10))
        has_gf = rng.random(n) < 0.55
        parent_heads = rng.random(n) < 0.6
        k = _kids(rng, n, [0.55, 0.35, 0.10])
        a = hh[parent_heads]  # the single parent heads: grandparents are 母/父
        m.add(a, 0, "世帯主", np.where(female, 2, 1)[parent_heads], pb[parent_heads], ROLE_SP)
        m.add(a, 1, "母", 2, gmb[parent_heads], ROLE_ELDER)
        ga = parent_heads & has_gf
        m.add(hh[ga], 2, "父", 1, gfb[ga], ROLE_ELDER)
        pslot = np.where(female, 0, -1)[parent_heads], np.where(female, -1, 0)[parent_heads]
        _children(rng, m, a, pb[parent_heads], k[parent_heads], t0, pslot[0], pslot[1])
        b = ~parent_heads  # a grandparent heads: the single parent is 子, the children are 孫
        gf_head = b & has_gf
        gm_head = b & ~has_gf
        m.add(hh[gf_head], 1, "世帯主", 1, gfb[gf_head], ROLE_ELDER)
        m.add(hh[gf_head], 2, "妻", 2, gmb[gf_head], ROLE_ELDER)
        m.add(hh[gm_head], 2, "世帯主", 2, gmb[gm_head], ROLE_ELDER)
        m.add(hh[b], 0, "子", np.where(female, 2, 1)[b], pb[b], ROLE_SP)
        _children(rng, m, hh[b], pb[b], k[b], t0, np.where(female, 0, -1)[b], np.where(female, -1, 0)[b],
                  relation="孫")
    elif htype == "three_gen":
        mb = _birth(rng, n, t0, 25, 52, 2.0, 2.0)
        fb = mb - _years(np.clip(rng.normal(2.2, 3.0, n), -4, 12))
        gmb = fb - _years(rng.uniform(23, 36, n))
        gfb = gmb - _years(np.clip(rng.normal(2.5, 3, n), -4, 10))
        k = _kids(rng, n, [0.25, 0.45, 0.25, 0.05])
        va = rng.random(n) < 0.7
        has_gf = rng.random(n) < 0.5
        a = hh[va]  # the middle generation heads: 母/父 above
        m.add(a, 0, "世帯主", 1, fb[va], ROLE_MAIN)
        m.add(a, 1, "妻", 2, mb[va], ROLE_SPOUSE)
        m.add(a, 2, "母", 2, gmb[va], ROLE_ELDER)
        m.add(hh[va & has_gf], 3, "父", 1, gfb[va & has_gf], ROLE_ELDER)
        _children(rng, m, a, mb[va], k[va], t0, 1, 0)
        b = hh[~va]  # the grandfather heads: 子, 子の妻, 孫
        m.add(b, 2, "世帯主", 1, gfb[~va], ROLE_ELDER)
        m.add(b, 3, "妻", 2, gmb[~va], ROLE_ELDER)
        m.add(b, 0, "子", 1, fb[~va], ROLE_MAIN)
        m.add(b, 1, "子の妻", 2, mb[~va], ROLE_SPOUSE)
        _children(rng, m, b, mb[~va], k[~va], t0, 1, 0, relation="孫")
    elif htype == "elder_with_child":
        eb = _elder_birth(rng, n, t0, 66)
        esex = rng.choice([1, 2], n, p=[0.45, 0.55])
        cb = eb + _years(rng.uniform(24, 38, n))
        cb = np.minimum(cb, t0 - _years(25))
        csex = rng.choice([1, 2], n, p=[0.55, 0.45])
        va = rng.random(n) < 0.7
        with_spouse = va & (esex == 1) & (rng.random(n) < 0.5)
        m.add(hh[va], 0, "世帯主", esex[va], eb[va], ROLE_ELDER)
        m.add(hh[with_spouse], 1, "妻", 2, eb[with_spouse] + _years(2.5), ROLE_ELDER)
        m.add(hh[va], 2, "子", csex[va], cb[va], ROLE_ADULT)
        m.add(hh[~va], 2, "世帯主", csex[~va], cb[~va], ROLE_ADULT)
        m.add(hh[~va], 0, np.where(esex[~va] == 1, "父", "母"), esex[~va], eb[~va], ROLE_ELDER)
    elif htype == "other":
        hb = _birth(rng, n, t0, 20, 85, 1.4, 1.6)
        hsex = rng.choice([1, 2], n)
        sib = rng.random(n) < 0.6
        ob = hb + _years(rng.normal(0, 4, n))
        ob = np.minimum(ob, t0 - _years(18))
        osex = rng.choice([1, 2], n)
        older = ob < hb
        rel_sib = np.where(older, np.where(osex == 1, "兄", "姉"), np.where(osex == 1, "弟", "妹"))
        rel_other = rng.choice(["同居人", "縁故者", "その他"], n, p=[0.7, 0.2, 0.1])
        m.add(hh, 0, "世帯主", hsex, hb, ROLE_ADULT)
        m.add(hh, 1, np.where(sib, rel_sib, rel_other), osex, ob, ROLE_ADULT, own=sib)
    else:
        raise ValueError(htype)
    frame = m.frame()
    return frame, types, partner


def _household_batch(rng, weights: dict[str, float], n: int, t0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """n households drawn from weights → (members with hh, households with htype, partner)."""
    keys = list(weights)
    p = np.array([weights[k] for k in keys])
    counts = rng.multinomial(n, p / p.sum())
    members, hhs = [], []
    offset = 0
    for key, c in zip(keys, counts):
        if c == 0:
            continue
        mem, types, partner = _build(key, rng, int(c), t0)
        mem["hh"] += offset
        members.append(mem)
        hhs.append(pd.DataFrame({"hh": np.arange(len(types)) + offset, "htype": types,
                                 "partner": np.where(partner >= 0, partner + offset, -1)}))
        offset += len(types)
    return pd.concat(members, ignore_index=True), pd.concat(hhs, ignore_index=True)


# ---------------------------------------------------------------- vocabulary
def surname_table() -> pd.DataFrame:
    """Common surnames (~45% of people) and a composed long tail (Zipf weights), fixed for all seeds."""
    common = pd.DataFrame(names.COMMON_SURNAMES, columns=["kanji", "kana", "weight"])
    taken = set(common["kanji"])
    rows = []
    for i, (hk, hkana) in enumerate(names.SURNAME_HEADS):
        for j, (tk, plain, voiced) in enumerate(names.SURNAME_TAILS):
            kanji = hk + tk
            if kanji in taken or hk == tk:
                continue
            kana = hkana + (voiced if (i * 7 + j) % 3 == 0 else plain)
            rows.append((kanji, kana))
    tail = pd.DataFrame(rows, columns=["kanji", "kana"])
    order = np.random.default_rng(20260401).permutation(len(tail))
    w = 1.0 / (np.arange(len(tail)) + 8.0) ** 0.9
    tail["weight"] = w[np.argsort(order)]
    tail["weight"] *= 0.55 / tail["weight"].sum() * common["weight"].sum() / 0.45
    return pd.concat([common, tail], ignore_index=True)


def _given_names(rng, sex: np.ndarray, birth: np.ndarray):
    y, _, _ = ymd(birth)
    era = np.where(y < 1960, "old", np.where(y < 1990, "mid", "new"))
    kanji = np.empty(len(sex), dtype=object)
    kana = np.empty(len(sex), dtype=object)
    for (s, e), vocab in names.GIVEN_NAMES.items():
        sel = (sex == (1 if s == "M" else 2)) & (era == e)
        if not sel.any():
            continue
        w = np.array([v[2] for v in vocab])
        pick = rng.choice(len(vocab), sel.sum(), p=w / w.sum())
        kanji[sel] = np.array([v[0] for v in vocab], dtype=object)[pick]
        kana[sel] = np.array([v[1] for v in vocab], dtype=object)[pick]
    return kanji, kana


def _choaza_table() -> pd.DataFrame:
    rows = []
    for t, (town, chome) in enumerate(names.TOWNS, start=1):
        for c in range(1, (chome or names.SMALL_DISTRICTS) + 1):
            rows.append((town, chome > 0, c, f"{t:03d}{c:03d}"))
    df = pd.DataFrame(rows, columns=["town", "has_chome", "chome", "choaza"])
    df["code"] = "272191" + df["choaza"]
    return df


_KANJI_NUM = "〇一二三四五六七八九"


def _fw(a) -> np.ndarray:
    return dirt.fullwidth_digits(np.asarray(a))


# ---------------------------------------------------------------- the population
def build_population(rng: np.random.Generator, residents: int, t0: np.datetime64,
                     keep_removed_before: np.datetime64) -> Population:
    """Current residents ≈ residents at t0, plus people removed (転出, 死亡, その他) in the last years.

    keep_removed_before: whole households with school-age children move out before this date
    (so that past pupils are never current residents on any truth date).
    """
    est = int(residents / 2.15 * 1.12) + 8
    cur_m, cur_h = _household_batch(rng, HOUSEHOLD_TYPES, est, t0)
    # keep households until the current-resident count reaches the target
    cur_m["cur"] = ~cur_m["left"]
    sizes = cur_m.groupby("hh")["cur"].sum().reindex(cur_h["hh"], fill_value=0).to_numpy()
    order = rng.permutation(len(cur_h))
    cum = np.cumsum(sizes[order])
    keep = order[: int(np.searchsorted(cum, residents * 1.004)) + 1]
    keep_mask = np.zeros(len(cur_h), dtype=bool)
    keep_mask[keep] = True
    cur_h = cur_h[keep_mask].reset_index(drop=True)
    cur_m = cur_m[cur_m["hh"].isin(cur_h["hh"])].copy()
    cur_h["partner"] = np.where(cur_h["partner"].isin(cur_h["hh"]), cur_h["partner"], -1)
    cur_h["removed"] = False

    n_moved = max(1, int(round(len(cur_h) * 0.045)))
    out_m, out_h = _household_batch(rng, MOVED_OUT_TYPES, n_moved, t0)
    n_died = max(1, int(round(len(cur_h) * 0.135 * 0.05)))
    died_m, died_h = _household_batch(rng, {"single_elderly": 1.0}, n_died, t0)
    off = cur_h["hh"].max() + 1
    out_m["hh"] += off
    out_h["hh"] += off
    out_h["partner"] = -1
    off = out_h["hh"].max() + 1
    died_m["hh"] += off
    died_h["hh"] += off
    died_h["partner"] = -1
    out_h["removed"], died_h["removed"] = "転出", "死亡"
    out_m["cur"] = died_m["cur"] = True

    hh = pd.concat([cur_h, out_h, died_h], ignore_index=True)
    people = pd.concat([cur_m, out_m, died_m], ignore_index=True)
    # adult children who left home: most vanish (moved within the city or long ago); some are
    # still in the export as 転出 in the last three years
    gone = people["left"].to_numpy()
    stay_removed = gone & (rng.random(len(people)) < 0.12)
    people = people[~gone | stay_removed].reset_index(drop=True)
    people["removed_on"] = np.full(len(people), NAT)
    people["removal_reason"] = ""
    left = people["left"].to_numpy()
    people.loc[left, "removed_on"] = t0 - DAY * rng.integers(1, 3 * 365, left.sum())
    people.loc[left, "removal_reason"] = "転出"

    hid = people["hh"].to_numpy()
    h_index = pd.Index(hh["hh"])
    hrow = h_index.get_indexer(hid)
    hh = hh.rename(columns={"hh": "hid"})
    people = people.rename(columns={"hh": "hid"})
    n_h = len(hh)

    # household move-in date, economy, address
    birth = days(people["birth"])
    oldest = pd.Series(birth).groupby(hrow).min().reindex(range(n_h)).to_numpy()
    movein = t0 - _years(rng.exponential(20.0, n_h))
    movein = np.maximum(movein, oldest + _years(18))
    movein = np.where(movein > t0 - DAY * 20, t0 - DAY * 20, movein)
    hh["movein"] = movein
    hh["z"] = rng.normal(0, 1, n_h)
    ca = _choaza_table()
    w = np.where(ca["has_chome"], 1.0, 0.45) * rng.gamma(4.0, 0.25, len(ca))
    cidx = rng.choice(len(ca), n_h, p=w / w.sum())
    partner = hh["partner"].to_numpy()
    has_p = partner >= 0
    prow = h_index.get_indexer(partner[has_p])
    hh["choaza_idx"] = cidx
    ban = rng.integers(1, 30, n_h)
    go = rng.integers(1, 25, n_h)
    banchi = rng.integers(1, 1400, n_h)
    hh["ban"], hh["go"], hh["banchi"] = ban, go, banchi
    town = ca["town"].to_numpy()[cidx]
    chome = ca["chome"].to_numpy()[cidx]
    has_chome = ca["has_chome"].to_numpy()[cidx]
    chome_txt = np.array([_KANJI_NUM[c] if c < 10 else str(c) for c in chome], dtype=object)
    apt = rng.random(n_h) < 0.3
    room = rng.integers(1, 6, n_h) * 100 + rng.integers(1, 12, n_h)
    tail = np.where(has_chome, dirt._join(chome_txt, "丁目", _fw(ban), "番", _fw(go), "号"),
                    dirt._join(_fw(banchi), "番地"))
    tail = np.where(apt, dirt._join(tail, "\u3000", rng.choice(["いずみハイツ", "コーポ和泉", "グランメゾン",
                                                                   "サンシャイン", "メゾン光明"], n_h),
                                    _fw(room), "号室"), tail)
    hh["town"] = town
    hh["address_code"] = ca["code"].to_numpy()[cidx]
    hh["address_clean"] = dirt._join("大阪府和泉市", town, tail)
    # the education board writes addresses its own way: 和泉市府中町1-2-3
    hh["address_school"] = np.where(has_chome, dirt._join("和泉市", town, chome, "-", ban, "-", go),
                                    dirt._join("和泉市", town, banchi))
    hh["address_school"] = np.where(apt, dirt._join(hh["address_school"], " ", room, "号室"),
                                    hh["address_school"])
    # the two halves of a split couple live at one address
    src = np.arange(n_h)
    src[has_p] = np.minimum(src[has_p], prow)
    for col in ("choaza_idx", "town", "address_code", "address_clean", "address_school"):
        hh[col] = hh[col].to_numpy()[src]

    # whole-household removals
    hremoved = hh["removed"].to_numpy()
    is_out = hremoved == "転出"
    has_school_age = pd.Series((age_at(birth, t0) >= 5) & (age_at(birth, t0) <= 16)).groupby(hrow).any() \
        .reindex(range(n_h), fill_value=False).to_numpy()
    lo = t0 - DAY * (3 * 365)
    hi = np.where(has_school_age, keep_removed_before, t0) - DAY
    span = np.maximum((hi - lo).astype(np.int64), 1)
    hdate = lo + DAY * (rng.random(n_h) * span).astype(np.int64)
    died = hremoved == "死亡"
    hdate = np.where(died, t0 - DAY * rng.integers(1, 2 * 365, n_h), hdate)
    gone = is_out | died
    hh.loc[gone, "movein"] = np.minimum(days(hh["movein"])[gone], hdate[gone] - DAY * rng.integers(30, 3000, gone.sum()))
    hh["removed_on"] = np.where(is_out | died, hdate, NAT)
    hh["removal_reason"] = np.where(is_out, "転出", np.where(died, "死亡", ""))
    # a few single adults struck off by the city (職権消除)
    other = (~(is_out | died)) & (hh["htype"].to_numpy() == "single_young") & (rng.random(n_h) < 0.004)
    hh.loc[other, "removed_on"] = t0 - DAY * rng.integers(1, 2 * 365, other.sum())
    hh.loc[other, "removal_reason"] = "その他"
    hh["removed"] = hh["removal_reason"] != ""
    # people born after the household moved out do not exist in this city
    hro = days(hh["removed_on"])[hrow]
    exists = np.isnat(hro) | (birth < hro)
    people = people[exists].reset_index(drop=True)
    hrow = hrow[exists]
    birth = days(people["birth"])
    hro = hro[exists]
    people.loc[~np.isnat(hro), "removed_on"] = hro[~np.isnat(hro)]
    people.loc[~np.isnat(hro), "removal_reason"] = hh["removal_reason"].to_numpy()[hrow][~np.isnat(hro)]

    # deaths of elderly members who were not the head
    age = age_at(birth, t0)
    rel = people["relation"].to_numpy()
    cur = np.isnat(days(people["removed_on"]))
    cand = cur & (rel != "世帯主") & (age >= 70)
    die = cand & (rng.random(len(people)) < 0.04 * np.clip((age - 60) / 25, 0.3, 2.0))
    people.loc[die, "removed_on"] = t0 - DAY * rng.integers(1, 2 * 365, die.sum())
    people.loc[die, "removal_reason"] = "死亡"
    # a few single parents whose partner moved out recently (the household became single-parent)
    sp_head = cur & (people["role"].to_numpy() == ROLE_SP) & (rel == "世帯主") & (rng.random(len(people)) < 0.07)
    ex = people[sp_head].copy()
    ex["slot"] = 9
    ex["relation"] = np.where(ex["sex"] == 2, "夫", "妻")
    ex["sex"] = 3 - ex["sex"]
    ex["birth"] = days(ex["birth"]) - _years(np.clip(rng.normal(2.0, 3.0, len(ex)), -4, 10))
    ex["role"] = ROLE_MAIN
    ex["twin"] = False
    ex["removed_on"] = t0 - DAY * rng.integers(1, 2 * 365, len(ex))
    ex["removal_reason"] = "転出"
    people = pd.concat([people, ex], ignore_index=True)
    hrow = h_index.get_indexer(people["hid"].to_numpy())
    birth = days(people["birth"])

    # residence: everyone moved in with the household, or was born here later
    people["resident_since"] = np.maximum(birth, days(hh["movein"])[hrow])
    rem = days(people["removed_on"])
    bad = ~np.isnat(rem) & (rem <= days(people["resident_since"]))
    people.loc[bad, "resident_since"] = np.maximum(birth[bad], rem[bad] - DAY * 365)

    # names: one surname per household (同居人 and the like have their own)
    sn = surname_table()
    sidx = rng.choice(len(sn), n_h, p=(sn["weight"] / sn["weight"].sum()).to_numpy())
    hh["surname_idx"] = sidx
    own = people["own_surname"].to_numpy().astype(bool)
    ps = sidx[hrow].copy()
    ps[~own] = rng.choice(len(sn), (~own).sum(), p=(sn["weight"] / sn["weight"].sum()).to_numpy())
    people["surname_idx"] = ps
    gk, gkana = _given_names(rng, people["sex"].to_numpy(), birth)
    people["given_kanji"], people["given_kana"] = gk, gkana
    _distinct_sibling_names(rng, people)

    # IDs: 宛名番号 and 世帯番号 are 10-digit strings; about a third start with 0
    people["atena_no"] = _ids(rng, len(people))
    hh["setai_no"] = _ids(rng, n_h)
    people = people.merge(hh[["hid", "htype"]], on="hid", how="left")
    people.insert(0, "pid", np.arange(len(people)))
    # parent links → pids
    key = pd.Series(people["pid"].to_numpy(), index=pd.MultiIndex.from_arrays([people["hid"], people["slot"]]))
    for col, new in (("mother_slot", "mother"), ("father_slot", "father")):
        mi = pd.MultiIndex.from_arrays([people["hid"], people[col]])
        people[new] = key.reindex(mi).fillna(-1).astype(np.int64).to_numpy()
    people = people.drop(columns=["mother_slot", "father_slot", "left", "cur", "own_surname"])
    return Population(people=people, households=hh, surnames=sn)


def _ids(rng, n) -> np.ndarray:
    vals = np.unique(rng.integers(10_000_000, 3_000_000_000, int(n * 1.05) + 10))
    vals = rng.permutation(vals)[:n]
    assert len(vals) == n
    return dirt.zfill(vals, 10).astype(object)


def _distinct_sibling_names(rng, people: pd.DataFrame) -> None:
    """Children of one household (twins above all) get different given names."""
    for _ in range(6):
        kids = people["role"].to_numpy() == ROLE_CHILD
        key = people["hid"].astype(str) + "/" + people["given_kana"].astype(str)
        dup = kids & key.duplicated(keep="first").to_numpy()
        if not dup.any():
            return
        gk, gkana = _given_names(rng, people.loc[dup, "sex"].to_numpy(), days(people.loc[dup, "birth"]))
        people.loc[dup, "given_kanji"] = gk
        people.loc[dup, "given_kana"] = gkana
