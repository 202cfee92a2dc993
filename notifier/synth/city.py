"""The synthetic city: every source of the data contract as a clean frame, plus the true roster links.

``build_city`` draws a population (population.py) and then each program's records for it, all
vectorised with numpy/pandas. Clean frames use the canonical English field names of
``notifier.contract`` and hold values as the importer should store them (see ``__init__``).
Columns whose name starts with ``_`` are rendering hints for writer.py, not data.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from . import dirt, invalid, names
from .population import (
    DAY,
    NAT,
    ROLE_CHILD,
    ROLE_MAIN,
    ROLE_SP,
    ROLE_SPOUSE,
    Population,
    _given_names,
    _years,
    age_at,
    build_population,
    child_until,
    d64,
    fiscal_year,
    from_ymd,
    grade_in,
    month_end,
    month_start,
    school_year,
    ymd,
)

RESIDENTS = {"tiny": 300, "small": 20_000, "izumi": 185_000}

# mission.md's Izumi data-linkage table (rows per file); other scales are proportional.
IZUMI_TABLE = {
    "juminhyo_current": 185_000, "shiminzei": 185_000,
    "shogai_techo_physical": 7_200, "shogai_techo_mental": 2_000, "shogai_techo_intellectual": 1_800,
    "shogai_service": 5_550, "kaigo_nintei": 48_000, "kaigo_service": 660_000,
    "jido_fuyo_teate": 2_000, "jido_teate": 30_000, "kodomo_iryo": 30_000, "kajiso": 1_000,
    "seikatsu_hogo": 2_700, "gakureibo": 15_500, "hoiku": 920, "boshi_kenshin": 30_000,
}

CARE_KINDS = (  # service kind, probability of use by level (要支援1, 要支援2, 要介護1 … 要介護5)
    ("訪問介護", (0, 0, .30, .34, .38, .40, .38)),
    ("訪問型サービス", (.28, .32, 0, 0, 0, 0, 0)),
    ("通所介護", (0, 0, .50, .50, .45, .35, .25)),
    ("通所型サービス", (.40, .45, 0, 0, 0, 0, 0)),
    ("通所リハビリテーション", (.10, .12, .15, .15, .12, .10, .08)),
    ("福祉用具貸与", (.25, .35, .45, .60, .70, .80, .85)),
    ("訪問看護", (.03, .05, .10, .12, .18, .25, .30)),
    ("短期入所生活介護", (0, 0, .05, .08, .12, .15, .15)),
    ("訪問入浴介護", (0, 0, 0, .02, .05, .10, .15)),
    ("居宅介護支援", (0, 0, .85, .85, .80, .75, .70)),
    ("介護予防支援", (.70, .70, 0, 0, 0, 0, 0)),
)
CARE_LEVELS = ("要支援1", "要支援2", "要介護1", "要介護2", "要介護3", "要介護4", "要介護5")
PROCEDURES = {
    "shugaku_enjo": "就学援助費の申請",
    "jido_fuyo_teate": "児童扶養手当の認定請求",
    "hitorioya_iryo": "ひとり親家庭医療費助成の申請",
    "home_helper": "ホームヘルパー（居宅介護）の利用申請",
    "kyufukin": "物価高騰対策給付金の申請",
    "hoiku": "保育所等の利用申込",
}
ID_ALPHABET = np.array(list("23456789ABCDEFGHJKMNPQRSTVWXYZ"))  # no 0/O, 1/I/L, U


@dataclass
class City:
    as_of: date
    scale: str
    seed: int
    frames: dict[str, pd.DataFrame]      # source name → clean frame (canonical fields)
    links: pd.DataFrame                  # pupil_id, atena_no ('' if none), case, flags, removed_atena_no
    content_dirt: dict[str, int] = field(default_factory=dict)
    people: pd.DataFrame | None = None
    households: pd.DataFrame | None = None
    held: dict[str, pd.DataFrame] = field(default_factory=dict)  # invalid rows (invalid.hold_back)


def _stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per program, so changing one program leaves the others alone."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def _d(s) -> np.ndarray:
    return np.asarray(s).astype("datetime64[D]")


def _weighted_order(rng, w: np.ndarray) -> np.ndarray:
    """Indices in a weighted random order (Efraimidis–Spirakis), zero weights last."""
    u = rng.random(len(w))
    with np.errstate(divide="ignore"):
        key = np.where(w > 0, np.log(u) / np.maximum(w, 1e-300), -np.inf)
    return np.argsort(-key, kind="stable")


def _weighted_pick(rng, w: np.ndarray, k: int) -> np.ndarray:
    k = int(min(k, (w > 0).sum()))
    return np.sort(_weighted_order(rng, w)[:k])


def _between(rng, lo, hi) -> np.ndarray:
    lo, hi = _d(lo), _d(hi)
    span = np.maximum((hi - lo).astype(np.int64), 0)
    return lo + DAY * np.floor(rng.random(len(lo)) * (span + 1)).astype(np.int64)


def _add_months(d: np.ndarray, k) -> np.ndarray:
    return (d.astype("datetime64[M]") + np.asarray(k, dtype=np.int64)).astype("datetime64[D]")


def _frame(**cols) -> pd.DataFrame:
    out = {}
    for k, v in cols.items():
        v = np.asarray(v)
        if v.dtype.kind == "M":
            v = v.astype("datetime64[s]")
        out[k] = v
    return pd.DataFrame(out)


class _Builder:
    def __init__(self, scale: str, seed: int, as_of: date, first_truth: date):
        self.scale, self.seed = scale, seed
        self.t0 = d64(as_of)
        self.first_truth = d64(first_truth)
        self.fy = int(fiscal_year(np.array([self.t0]))[0])
        self.f = RESIDENTS[scale] / IZUMI_TABLE["juminhyo_current"]
        self.content: dict[str, int] = {}

    def target(self, key: str) -> int:
        return max(1, int(round(IZUMI_TABLE[key] * self.f)))

    def rng(self, name: str) -> np.random.Generator:
        return _stream(self.seed, name)

    # ------------------------------------------------------------ population
    def population(self) -> None:
        pop: Population = build_population(self.rng("population"), RESIDENTS[self.scale], self.t0,
                                           self.first_truth)
        P, H = pop.people, pop.households
        self.sn = pop.surnames
        self.H = H
        self.hrow = pd.Index(H["hid"]).get_indexer(P["hid"])
        self.P = P
        self._refresh()
        self._namesakes()
        self._refresh()
        self._household_namesakes()
        self._refresh()

    def _refresh(self) -> None:
        P = self.P
        self.birth = _d(P["birth"])
        self.removed = _d(P["removed_on"])
        self.since = _d(P["resident_since"])
        self.cur = np.isnat(self.removed)
        self.age = age_at(self.birth, self.t0)
        self.grade = grade_in(self.birth, self.fy)
        self.child_until = child_until(self.birth)
        self.is_child = (self.birth <= self.t0) & (self.t0 <= self.child_until)
        self.n = len(P)

    def _namesakes(self) -> None:
        """Make pairs of pupils in different households namesakes: same kana and birth date."""
        rng = self.rng("namesakes")
        P = self.P
        pupil = self.cur & (self.grade >= 1) & (self.grade <= 9) & ~P["twin"].to_numpy()
        split = P["htype"].isin(["split", "split_father"]).to_numpy()
        pupil &= ~split
        idx = np.flatnonzero(pupil)
        k = max(1, int(round(len(idx) * dirt.rate("gakureibo.namesake_pairs")))) if len(idx) >= 10 else 0
        hid = P["hid"].to_numpy()
        used = np.zeros(hid.max() + 1, dtype=bool)
        pairs = []
        for a in rng.permutation(idx)[: 20 * k + 20]:  # a few dozen pairs: a short loop
            if len(pairs) >= k:
                break
            if used[hid[a]]:
                continue
            same = idx[(self.grade[idx] == self.grade[a]) & ~used[hid[idx]] & (hid[idx] != hid[a])]
            if not len(same):
                continue
            b = same[int(rng.integers(len(same)))]
            pairs.append((a, b))
            used[hid[a]] = used[hid[b]] = True
        for a, b in pairs:
            hb = P.at[b, "hid"]
            old = P.at[b, "surname_idx"]
            fam = (P["hid"] == hb) & (P["surname_idx"] == old)
            P.loc[fam, "surname_idx"] = P.at[a, "surname_idx"]
            self.H.loc[self.H["hid"] == hb, "surname_idx"] = P.at[a, "surname_idx"]
            for col in ("given_kanji", "given_kana", "sex", "birth"):
                P.at[b, col] = P.at[a, col]
        self.namesake_pairs = pairs
        self.content["gakureibo.namesake_pairs"] = len(pairs)

    def _household_namesakes(self) -> None:
        """Same-name cousins in one household: a son's family (a couple and their only child, a
        pupil) moves in with his parents, and the child carries the given name of a cousin of about
        the same age already there. Same kana, sex, address and guardian household; birth dates differ."""
        rng = self.rng("household_namesakes")
        P, H = self.P, self.H
        hrow, cur = self.hrow, self.cur
        pupil = cur & (self.grade >= 1) & (self.grade <= 9) & ~P["twin"].to_numpy()
        rel = P["relation"].to_numpy()
        htype = H["htype"].to_numpy()[hrow]
        size = np.bincount(hrow, weights=cur, minlength=len(H))[hrow]
        used = np.zeros(len(H), dtype=bool)
        for a, b in self.namesake_pairs:
            used[hrow[a]] = used[hrow[b]] = True
        free = ~H["removed"].to_numpy().astype(bool)[hrow]
        # hosts: a three-generation household with a 孫 at school and room for three more (≤ 8 people)
        hosts = np.flatnonzero(pupil & free & (rel == "孫") & (htype == "three_gen") & (size <= 5))
        guests = np.flatnonzero(pupil & free & (rel == "子") & (htype == "couple_children") & (size == 3))
        n_pupils = int(pupil.sum())
        k = max(1, int(round(n_pupils * dirt.rate("gakureibo.household_namesake_pairs")))) if n_pupils >= 10 else 0
        sex, grade = P["sex"].to_numpy(), self.grade
        pairs = []
        for a in rng.permutation(hosts)[: 20 * k + 20]:  # a few dozen pairs: a short loop
            if len(pairs) >= k:
                break
            if used[hrow[a]]:
                continue
            fit = guests[(sex[guests] == sex[a]) & ~used[hrow[guests]] & (np.abs(grade[guests] - grade[a]) <= 2)]
            if not len(fit):
                continue
            b = fit[int(rng.integers(len(fit)))]
            pairs.append((a, b))
            used[hrow[a]] = used[hrow[b]] = True
        gone = []
        for a, b in pairs:
            host, guest = hrow[a], hrow[b]
            fam = np.flatnonzero(hrow == guest)
            own = fam[P["surname_idx"].to_numpy()[fam] == H.at[guest, "surname_idx"]]
            P.loc[own, "surname_idx"] = H.at[host, "surname_idx"]  # the father is the host's son
            adult = P.loc[fam, "relation"].isin(["世帯主", "夫", "妻"]).to_numpy()
            P.loc[fam[adult], "relation"] = np.where(P.loc[fam[adult], "sex"].to_numpy() == 1, "子", "子の妻")
            P.loc[fam[~adult], "relation"] = "孫"
            P.loc[b, ["given_kanji", "given_kana"]] = P.loc[a, ["given_kanji", "given_kana"]].to_numpy()
            P.loc[fam, "hid"] = H.at[host, "hid"]
            P.loc[fam, "htype"] = "three_gen"
            gone.append(guest)
        if gone:
            self.H = H.drop(index=gone).reset_index(drop=True)
            self.hrow = pd.Index(self.H["hid"]).get_indexer(P["hid"])
        self.household_namesake_pairs = pairs
        self.content["gakureibo.household_namesake_pairs"] = len(pairs)

    # ------------------------------------------------------------ incomes and welfare
    def incomes(self) -> None:
        rng = self.rng("income")
        P, H = self.P, self.H
        z = H["z"].to_numpy()[self.hrow]
        mix = 0.75 * z + 0.66 * rng.normal(0, 1, self.n)
        role = P["role"].to_numpy()
        sex = P["sex"].to_numpy()
        age = self.age
        med = np.full(self.n, 2.4e6)
        sig = np.full(self.n, 0.6)
        p0 = np.full(self.n, 0.1)
        def put(mask, m, s, p):  # noqa: E306
            med[mask], sig[mask], p0[mask] = m, s, p
        put(role == ROLE_MAIN, np.where(sex == 1, 3.5e6, 2.7e6)[role == ROLE_MAIN], 0.5, 0.03)
        put((role == ROLE_SPOUSE) & (sex == 2), 0.9e6, 0.7, 0.55)
        put((role == ROLE_SPOUSE) & (sex == 1), 3.0e6, 0.55, 0.08)
        put(role == ROLE_SP, np.where(sex == 2, 1.9e6, 3.0e6)[role == ROLE_SP], 0.55, 0.06)
        put((role == "adult") & (age < 65), 2.6e6, 0.6, 0.12)
        put((role == ROLE_CHILD) & (age >= 18), np.where(age < 23, 0.7e6, 2.4e6)[(role == ROLE_CHILD) & (age >= 18)],
            0.6, 0.6)
        put((age >= 65), 0.75e6, 0.85, 0.55)
        put((role == ROLE_MAIN) & (age >= 65), 1.8e6, 0.6, 0.05)
        put(age < 18, 0.0, 0.1, 1.0)
        inc = np.where(rng.random(self.n) < p0, 0.0, med * np.exp(sig * mix))
        self.income = np.minimum(np.round(inc / 1000) * 1000, 30e6).astype(np.int64)

    def welfare(self) -> pd.DataFrame:
        rng = self.rng("welfare")
        H, P = self.H, self.P
        w_type = {"single_elderly": 3.0, "single_parent": 3.5, "sp_grandparents": 2.0, "elder_with_child": 1.5,
                  "single_young": 1.2, "other": 1.5, "couple_elderly": 0.8, "couple_children": 0.3,
                  "three_gen": 0.3, "couple": 0.4, "cohabit": 1.5, "split": 0.5, "split_father": 1.0}
        w = H["htype"].map(w_type).fillna(0.5).to_numpy() * np.exp(-2.0 * H["z"].to_numpy())
        w[H["removed"].to_numpy()] = 0
        size = np.bincount(self.hrow, weights=self.cur, minlength=len(H))
        order = _weighted_order(rng, w)
        cum = np.cumsum(size[order])
        chosen = order[: int(np.searchsorted(cum, self.target("seikatsu_hogo"))) + 1]
        hstart = _between(rng, np.maximum(_d(H["movein"])[chosen], self.t0 - _years(12)), self.t0 - DAY * 20)
        ended = rng.random(len(chosen)) < 0.13
        hend = hstart + _years(rng.uniform(0.5, 6, len(chosen)))
        hend = np.where(ended & (hend < self.t0 - DAY * 30), hend, NAT)
        start_of = np.full(len(H), NAT)
        end_of = np.full(len(H), NAT)
        start_of[chosen], end_of[chosen] = hstart, hend
        pst = start_of[self.hrow]
        member = self.cur & ~np.isnat(pst)
        pstart = np.maximum(pst, self.since)
        self.on_welfare = member & np.isnat(end_of[self.hrow])  # active at t0
        self.welfare_h = np.zeros(len(H), dtype=bool)
        self.welfare_h[chosen[np.isnat(hend)]] = True
        # people on public assistance have little or no income of their own
        act = self.on_welfare
        self.income[act] = np.where(rng.random(act.sum()) < 0.75, 0,
                                    np.round(rng.uniform(0, 5e5, act.sum()) / 1000) * 1000).astype(np.int64)
        return _frame(atena_no=P["atena_no"].to_numpy()[member], start_on=pstart[member],
                      end_on=end_of[self.hrow][member])

    # ------------------------------------------------------------ tax
    def tax(self) -> pd.DataFrame:
        rng = self.rng("tax")
        P = self.P
        hrow = self.hrow
        inc = self.income
        # single parents (ひとり親控除): a parent without a spouse, with a child of their own at home
        parent_of = np.concatenate([P["mother"].to_numpy(), P["father"].to_numpy()])
        # any child of theirs at home with no income counts (a student of 20 too), as the deduction says
        ok = (parent_of >= 0) & np.concatenate([self.cur & (self.income == 0)] * 2)
        n_kids = np.bincount(parent_of[ok], minlength=self.n)
        self.n_kids = n_kids
        role = P["role"].to_numpy()
        sp = (role == ROLE_SP) & (n_kids > 0)
        rel = P["relation"].to_numpy()
        h_has_husband = np.bincount(hrow, weights=self.cur & (rel == "夫"), minlength=len(self.H)) > 0
        widow = (P["sex"].to_numpy() == 2) & (self.age >= 60) & (rel == "世帯主") & ~h_has_husband[hrow] & \
            (rng.random(self.n) < 0.35)
        # dependents (扶養親族) go to the top earner of the household
        dep = self.cur & (inc == 0) & ((self.age < 19) | (self.age >= 70)) & (role != ROLE_SPOUSE)
        n_dep = np.bincount(hrow, weights=dep, minlength=len(self.H)).astype(np.int64)
        top = pd.Series(inc).groupby(hrow).idxmax().reindex(range(len(self.H)), fill_value=-1).to_numpy()
        deps = np.zeros(self.n, dtype=np.int64)
        has_top = top >= 0
        deps[top[has_top]] = n_dep[has_top]
        frames = []
        self.tax_rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        filer = rng.random(self.n) < 0.02
        late_new = rng.random(self.n) < 0.03   # no FY2026 row yet (late or missing return)
        late_old = rng.random(self.n) < 0.015
        for fy in (self.fy - 1, self.fy):
            jan1 = d64(f"{fy}-01-01")
            resident = (self.since <= jan1) & (np.isnat(self.removed) | (self.removed > jan1))
            adult = age_at(self.birth, jan1) >= 16
            y_inc = inc if fy == self.fy else np.where(
                inc > 0, np.round(inc * np.exp(rng.normal(0, 0.12, self.n)) / 1000) * 1000, 0).astype(np.int64)
            subject = resident & adult & ((y_inc > 0) | filer)
            subject &= ~(late_new if fy == self.fy else late_old)
            hito = sp & (y_inc <= 5_000_000)
            wid = widow & ~hito & (y_inc <= 5_000_000)
            line = np.where(deps == 0, 450_000, 350_000 * (deps + 1) + 310_000)
            exempt = (y_inc <= line) | ((hito | wid) & (y_inc <= 1_350_000))
            taxable = np.maximum(0, y_inc * 0.85 - 430_000 - 330_000 * deps)
            levy = np.maximum(0, np.round(taxable * 0.10 / 100) * 100 - 2_500).astype(np.int64)
            cls = np.where(exempt, "非課税", np.where(levy == 0, "均等割のみ", "課税"))
            s = subject
            frames.append(_frame(atena_no=P["atena_no"].to_numpy()[s], tax_year=np.full(s.sum(), fy),
                                 total_income=y_inc[s], income_levy=np.where(cls == "課税", levy, 0)[s],
                                 per_capita_levy=np.where(exempt, 0, 5_300)[s], tax_class=cls[s],
                                 hitorioya_deduction=hito[s], widow_deduction=wid[s], dependents=deps[s],
                                 _pid=np.flatnonzero(s)))
        out = pd.concat(frames, ignore_index=True).sort_values(["_pid", "tax_year"], kind="stable")
        self.tax_frame = out
        return out.drop(columns="_pid").reset_index(drop=True)

    # ------------------------------------------------------------ disability and care
    def handbooks(self) -> None:
        rng = self.rng("handbooks")
        age = self.age
        rows = []

        def issue_dates(idx, min_share):
            """Issued at an age between min_share of the present age and now (or the removal)."""
            b = self.birth[idx]
            onset = b + _years(rng.uniform(min_share, 1, len(idx)) * np.maximum(age[idx], 1))
            onset = np.maximum(onset, self.since[idx] - _years(rng.uniform(0, 20, len(idx))))
            onset = np.maximum(onset, b + DAY * 120)
            last = np.where(np.isnat(self.removed[idx]), self.t0 - DAY * 5, self.removed[idx] - DAY)
            return np.minimum(onset, last)

        def returned(idx, issued):
            rem = self.removed[idx]
            back = ~np.isnat(rem) & (rng.random(len(idx)) < 0.5)
            ret = np.where(back, np.minimum(rem + DAY * rng.integers(0, 40, len(idx)), self.t0), NAT)
            return np.where(ret > issued, ret, NAT)

        # 身体 (physical): mostly older people
        w = np.interp(age, [0, 1, 18, 40, 65, 75, 85, 100], [0, 0.2, 0.3, 0.8, 3, 6, 9, 9])
        # ~8% of handbooks are added by young_carers(); the natural ones make up the rest
        n_p = int(round(self.target("shogai_techo_physical") * 0.92 / 1.1))
        idx = _weighted_pick(rng, w, n_p)
        grade = rng.choice(["1級", "2級", "3級", "4級", "5級", "6級"], len(idx),
                           p=[.26, .14, .17, .28, .07, .08])
        iss = issue_dates(idx, 0.55)
        rows.append(_frame(_pid=idx, handbook_kind="身体", grade=grade, issued_on=iss,
                           valid_until=np.full(len(idx), NAT), returned_on=returned(idx, iss)))
        regrade = rng.random(len(idx)) < 0.1  # an older, milder handbook given back when regraded
        if regrade.any():
            r = idx[regrade]
            old_iss = iss[regrade] - _years(rng.uniform(1, 10, regrade.sum()))
            ok = old_iss > self.birth[r]
            old_grade = np.array([f"{min(int(g[0]) + 1, 6)}級" for g in grade[regrade]], dtype=object)
            rows.append(_frame(_pid=r[ok], handbook_kind="身体", grade=old_grade[ok], issued_on=old_iss[ok],
                               valid_until=np.full(ok.sum(), NAT), returned_on=iss[regrade][ok]))
        # 精神 (mental): working age; valid two years, renewed (the row shows the current period)
        w = np.interp(age, [0, 12, 18, 30, 50, 65, 80], [0, 0.1, 1.5, 2.5, 2.5, 0.8, 0.4])
        idx = _weighted_pick(rng, w, int(round(self.target("shogai_techo_mental") * 0.78)))
        grade = rng.choice(["1級", "2級", "3級"], len(idx), p=[.10, .58, .32])
        lapsed = rng.random(len(idx)) < 0.15
        iss = self.t0 - _years(np.where(lapsed, rng.uniform(2.05, 4, len(idx)), rng.uniform(0, 1.99, len(idx))))
        iss = np.maximum(iss, self.birth[idx] + _years(12))
        last = np.where(np.isnat(self.removed[idx]), self.t0 - DAY * 5, self.removed[idx] - DAY)
        iss = np.minimum(iss, last)
        rows.append(_frame(_pid=idx, handbook_kind="精神", grade=grade, issued_on=iss,
                           valid_until=iss + _years(2) - DAY, returned_on=returned(idx, iss)))
        # 療育 (intellectual): found in childhood; children carry a re-assessment date
        w = np.interp(age, [0, 1.9, 2, 3, 6, 18, 40, 65, 90], [0, 0, 0.3, 1.5, 2.0, 2.0, 1.0, 0.3, 0.1])
        idx = _weighted_pick(rng, w, int(round(self.target("shogai_techo_intellectual") * 0.95)))
        grade = rng.choice(["A", "A1", "A2", "B1", "B2", "B"], len(idx), p=[.35, .03, .02, .25, .30, .05])
        iss = self.birth[idx] + _years(rng.uniform(1.5, np.clip(age[idx], 1.6, 18)))
        iss = np.maximum(iss, self.birth[idx] + DAY * 400)
        iss = np.minimum(iss, np.where(np.isnat(self.removed[idx]), self.t0 - DAY * 5, self.removed[idx] - DAY))
        recheck = (age[idx] < 18) & (rng.random(len(idx)) < 0.3)
        valid = np.where(recheck, np.maximum(self.t0 + _years(rng.uniform(-0.3, 4, len(idx))), iss + _years(1)), NAT)
        rows.append(_frame(_pid=idx, handbook_kind="療育", grade=grade, issued_on=iss, valid_until=valid,
                           returned_on=returned(idx, iss)))
        hb = pd.concat(rows, ignore_index=True)
        self.hb = hb[_d(hb["issued_on"]) > self.birth[hb["_pid"].to_numpy()]].reset_index(drop=True)

    def care_certs(self) -> None:
        rng = self.rng("care")
        age = self.age
        p = np.interp(age, [40, 64, 65, 70, 75, 80, 85, 90, 95], [.003, .004, .032, .064, .14, .28, .49, .67, .80])
        p = np.where(age < 40, 0, p)
        chosen = np.flatnonzero(rng.random(self.n) < p)
        self.care = self._care_periods(rng, chosen, rng.choice(7, len(chosen), p=[.14, .14, .21, .17, .13, .12, .09]))

    def _care_periods(self, rng, who: np.ndarray, level0: np.ndarray, first=None) -> pd.DataFrame:
        b65 = self.birth[who] + _years(65)
        stop = np.where(np.isnat(self.removed[who]), self.t0, self.removed[who])
        if first is None:
            first = self.t0 - _years(rng.exponential(7.5, len(who)))
            first = np.maximum(first, np.where(self.age[who] >= 65, b65, self.birth[who] + _years(40)))
            first = np.maximum(first, np.maximum(self.since[who], d64("2000-04-01")))
        first = np.minimum(first, stop - DAY * 20)
        start = month_start(first)
        level = level0.copy()
        alive = np.ones(len(who), dtype=bool)
        parts = []
        for k in range(20):
            months = np.where(k == 0, rng.choice([6, 12], len(who)),
                              rng.choice([12, 24, 36, 48], len(who), p=[.6, .3, .08, .02]))
            end = _add_months(start, months) - DAY
            act = alive & (start <= stop)
            if not act.any():
                break
            parts.append(_frame(_pid=who[act], care_level=np.array(CARE_LEVELS)[level[act]],
                                start_on=start[act], end_on=end[act], _level=level[act]))
            level = np.clip(level + rng.choice([-1, 0, 1, 2], len(who), p=[.06, .6, .28, .06]), 0, 6)
            alive &= rng.random(len(who)) > 0.04
            start = end + DAY
        if not parts:
            e = np.array([], dtype=np.int64)
            return _frame(_pid=e, care_level=e.astype(object), start_on=e.astype("datetime64[D]"),
                          end_on=e.astype("datetime64[D]"), _level=e)
        return pd.concat(parts, ignore_index=True)

    def young_carers(self) -> None:
        """Households with a child aged 6–17 where another member needs care or has a severe disability.

        Natural rates give too few for the rule to be testable at small scale, so some are added,
        plus near misses (a condition just below the rule's line), so each clause matters.
        """
        rng = self.rng("young_carers")
        hrow = self.hrow
        kid = self.cur & (self.age >= 6) & (self.age <= 17)
        h_kid = np.bincount(hrow, weights=kid, minlength=len(self.H)) > 0
        h_kids2 = np.bincount(hrow, weights=kid, minlength=len(self.H)) >= 2
        cand = np.flatnonzero(h_kid & ~self.H["removed"].to_numpy())
        rng.shuffle(cand)
        n_sev = int(round(len(cand) * 0.06))
        n_near = int(round(len(cand) * 0.04))
        sev_h, near_h = cand[:n_sev], cand[n_sev:n_sev + n_near]
        adult = self.cur & (self.age >= 18)
        elder = self.cur & (self.age >= 60)
        # pick one member per household: an elder if any, else an adult, else a second child
        def member(hs, pool):  # noqa: E306
            m = pd.Series(np.flatnonzero(pool)).groupby(hrow[pool]).first()
            return m.reindex(hs).to_numpy()
        e = member(sev_h, elder)
        a = member(sev_h, adult)
        c_pool = kid & h_kids2[hrow]
        c = member(sev_h, c_pool)
        who = np.where(~np.isnan(e), e, np.where(~np.isnan(a), a, c))
        ok = ~np.isnan(who)
        who = who[ok].astype(np.int64)
        is_elder = self.age[who] >= 60
        is_child = self.age[who] < 18
        self.sev_people = who
        # elders: care 要介護3–5; adults: 身体 1–2級 or 精神 1–2級 or 療育 A; second child: 療育 A
        care_who = who[is_elder]
        add = self._care_periods(rng, care_who, rng.choice([4, 5, 6], len(care_who), p=[.5, .3, .2]),
                                 first=self.t0 - _years(rng.uniform(0.3, 4, len(care_who))))
        # keep the injected level for the current period
        self.care = pd.concat([self.care[~self.care["_pid"].isin(care_who)], add], ignore_index=True)
        self._force_severe_care(care_who)
        hb_who = who[~is_elder]
        kind = np.where(is_child[~is_elder], "療育", rng.choice(["身体", "精神", "療育"], len(hb_who), p=[.45, .4, .15]))
        grade = np.where(kind == "身体", rng.choice(["1級", "2級"], len(hb_who)),
                         np.where(kind == "精神", rng.choice(["1級", "2級"], len(hb_who), p=[.3, .7]),
                                  rng.choice(["A", "A1", "A2"], len(hb_who), p=[.8, .1, .1])))
        iss = self.t0 - _years(rng.uniform(0.2, 1.9, len(hb_who)))
        iss = np.maximum(iss, self.birth[hb_who] + _years(1.5))
        self.hb = pd.concat([self.hb, _frame(_pid=hb_who, handbook_kind=kind, grade=grade, issued_on=iss,
                                             valid_until=np.where(kind == "精神", iss + _years(2) - DAY, NAT),
                                             returned_on=np.full(len(hb_who), NAT))], ignore_index=True)
        # near misses: a lighter grade, a lapsed or returned handbook, or 要介護1–2
        e = member(near_h, elder)
        a = member(near_h, adult)
        nwho = np.where(~np.isnan(e), e, a)
        nwho = nwho[~np.isnan(nwho)].astype(np.int64)
        nel = self.age[nwho] >= 60
        cw = nwho[nel]
        self.care = pd.concat([self.care[~self.care["_pid"].isin(cw)],
                               self._care_periods(rng, cw, rng.choice([2, 3], len(cw)),
                                                  first=self.t0 - _years(rng.uniform(0.3, 3, len(cw))))],
                              ignore_index=True)
        self._cap_care(cw, 3)
        hw = nwho[~nel]
        variant = rng.choice(["light", "lapsed", "returned"], len(hw), p=[.6, .25, .15])
        kind = rng.choice(["身体", "精神", "療育"], len(hw), p=[.45, .4, .15])
        kind = np.where(variant == "lapsed", "精神", kind)
        light = np.where(kind == "身体", rng.choice(["3級", "4級"], len(hw)),
                         np.where(kind == "精神", "3級", rng.choice(["B1", "B2"], len(hw))))
        severe = np.where(kind == "身体", "2級", np.where(kind == "精神", "2級", "A"))
        grade = np.where(variant == "light", light, severe)
        iss = np.where(variant == "lapsed", self.t0 - _years(rng.uniform(2.05, 2.8, len(hw))),
                       self.t0 - _years(rng.uniform(0.5, 6, len(hw))))
        iss = np.maximum(iss, self.birth[hw] + _years(3))
        valid = np.where(kind == "精神", iss + _years(2) - DAY, NAT)
        ret = np.where(variant == "returned", _between(rng, iss + DAY, self.t0 - DAY * 2), NAT)
        self.hb = pd.concat([self.hb, _frame(_pid=hw, handbook_kind=kind, grade=grade, issued_on=iss,
                                             valid_until=valid, returned_on=ret)], ignore_index=True)
        self.content["young_carer_households_added"] = int(ok.sum())
        self.content["young_carer_near_misses_added"] = int(len(nwho))

    def _force_severe_care(self, who: np.ndarray) -> None:
        c = self.care
        m = c["_pid"].isin(who) & (c["_level"] < 4)
        c.loc[m, "_level"] = 4
        c.loc[m, "care_level"] = "要介護3"

    def _cap_care(self, who: np.ndarray, cap: int) -> None:
        c = self.care
        m = c["_pid"].isin(who) & (c["_level"] > cap)
        c.loc[m, "_level"] = cap
        c.loc[m, "care_level"] = CARE_LEVELS[cap]

    def care_services(self) -> pd.DataFrame:
        rng = self.rng("care_service")
        c = self.care
        pid = c["_pid"].to_numpy()
        win_lo = _add_months(month_start(np.array([self.t0])), -36)[0]
        win_hi = _add_months(month_start(np.array([self.t0])), -1)[0]
        rem = self.removed[pid]
        lo = np.maximum(month_start(_d(c["start_on"])), win_lo)
        hi = np.minimum(month_start(_d(c["end_on"])), win_hi)
        hi = np.where(np.isnat(rem), hi, np.minimum(hi, _add_months(month_start(rem), -1)))
        n_m = np.maximum(((hi.astype("datetime64[M]") - lo.astype("datetime64[M]")).astype(np.int64) + 1), 0)
        rep = np.repeat(np.arange(len(c)), n_m)
        off = np.arange(len(rep)) - np.repeat(np.cumsum(n_m) - n_m, n_m)
        month = _add_months(lo[rep], off)
        ppid = pid[rep]
        level = c["_level"].to_numpy()[rep]
        # per person and kind: a propensity, and a window of use inside the export's 36 months
        uniq, inv = np.unique(ppid, return_inverse=True)
        n_k = len(CARE_KINDS)
        prop = rng.random((len(uniq), n_k))
        stop = np.where(rng.random((len(uniq), n_k)) < 0.15, rng.integers(0, 36, (len(uniq), n_k)), 99)
        begin = np.where(rng.random((len(uniq), n_k)) < 0.15, rng.integers(0, 30, (len(uniq), n_k)), -1)
        # people added as young-carer cases: home help recent, stopped 4–9 months ago, or none
        sev = np.isin(uniq, self.sev_people)
        hk = 0  # 訪問介護
        choice = rng.random(len(uniq))
        prop[sev, hk] = np.where(choice[sev] < 0.4, 0.0, 1.0)
        stop[sev, hk] = np.where((choice[sev] >= 0.4) & (choice[sev] < 0.6), 36 - rng.integers(4, 10, sev.sum()), 99)
        prop[sev & (choice >= 0.4) & (choice < 0.6), hk] = 0.0
        begin[sev, hk] = -1
        mi = (month.astype("datetime64[M]") - win_lo.astype("datetime64[M]")).astype(np.int64)
        out = []
        for k, (kind, probs) in enumerate(CARE_KINDS):
            use = (prop[inv, k] < np.asarray(probs)[level]) & (mi < stop[inv, k]) & (mi >= begin[inv, k])
            out.append(_frame(_pid=ppid[use], service_kind=np.full(use.sum(), kind), service_month=month[use]))
        f = pd.concat(out, ignore_index=True).sort_values(["_pid", "service_month", "service_kind"], kind="stable")
        return f

    def disability_services(self) -> pd.DataFrame:
        rng = self.rng("disability_service")
        hb = self.hb
        pid = hb["_pid"].to_numpy()
        iss, val, ret = _d(hb["issued_on"]), _d(hb["valid_until"]), _d(hb["returned_on"])
        active = (iss <= self.t0) & (np.isnat(val) | (val >= self.t0)) & (np.isnat(ret) | (ret > self.t0))
        kind = hb["handbook_kind"].to_numpy()
        g = hb["grade"].to_numpy().astype(str)
        sev = ((kind == "身体") & np.isin(g, ["1級", "2級"])) | ((kind == "精神") & np.isin(g, ["1級", "2級"])) | \
              ((kind == "療育") & np.char.startswith(g, "A"))
        age = self.age[pid]
        # propensity of each service for each handbook row
        probs = {
            "居宅介護": np.where(sev, np.where(kind == "精神", .15, .22), .03),
            "重度訪問介護": np.where((kind == "身体") & (g == "1級") & (age < 65), .06, 0),
            "生活介護": np.where(sev & (age >= 18) & (age < 65) & (kind != "精神"), .35, 0),
            "移動支援": np.where((kind == "療育") | sev, .12, 0),
            "児童発達支援": np.where((age < 6) & (kind == "療育"), .6, 0),
            "放課後等デイサービス": np.where((age >= 6) & (age < 18) & (kind == "療育"), .65, 0),
            "短期入所": np.where(sev & (kind != "精神"), .10, 0),
            "自立支援医療": np.where(kind == "精神", .75, 0),
        }
        # the young-carer cases: home help in use for some, ended for some, none for the rest
        yc = np.isin(pid, self.sev_people) & active
        ch = rng.random(len(hb))
        probs["居宅介護"] = np.where(yc, (ch < 0.5).astype(float), probs["居宅介護"])
        ended_yc = yc & (ch >= 0.35) & (ch < 0.5)
        pools = []
        for k, p in probs.items():
            use = (rng.random(len(hb)) < p) & active
            pools.append(pd.DataFrame({"_pid": pid[use], "service_kind": k, "_ended": ended_yc[use],
                                       "_since": np.maximum(iss[use], self.since[pid[use]])}))
        # children with developmental support but no handbook
        young = np.flatnonzero(self.cur & (self.age >= 1) & (self.age < 6))
        extra = young[rng.random(len(young)) < 0.02]
        pools.append(pd.DataFrame({"_pid": extra, "service_kind": "児童発達支援", "_ended": False,
                                   "_since": np.maximum(self.birth[extra] + DAY * 400, self.since[extra])}))
        u = pd.concat(pools, ignore_index=True).drop_duplicates(["_pid", "service_kind"])
        # thin to the target: each use has one row per fiscal year (FY−1 and FY)
        target = self.target("shogai_service")
        keep = _weighted_pick(rng, np.where(u["service_kind"] == "居宅介護", 3.0, 1.0) +
                              np.isin(u["_pid"], self.sev_people) * 100.0, int(target / 1.75))
        u = u.iloc[keep].reset_index(drop=True)
        fy_prev = d64(f"{self.fy - 1}-04-01")
        fy_cur = d64(f"{self.fy}-04-01")
        since = _d(u["_since"])
        rows = []
        for fs in (fy_prev, fy_cur):
            fe = _add_months(np.array([fs]), 12)[0] - DAY
            has = since <= min(fe, self.t0)
            st = np.maximum(since[has], fs)
            en = np.full(has.sum(), fe)
            rows.append(_frame(_pid=u["_pid"].to_numpy()[has], service_kind=u["service_kind"].to_numpy()[has],
                               start_on=st, end_on=en, _ended=u["_ended"].to_numpy()[has]))
        f = pd.concat(rows, ignore_index=True)
        # some decisions end early (stopped using) and a few are open-ended
        st, en = _d(f["start_on"]), _d(f["end_on"])
        early = (f["_ended"].to_numpy() & (en > self.t0)) | (rng.random(len(f)) < 0.06)
        new_end = _between(rng, st + DAY * 30, np.minimum(en, self.t0 - DAY * 30))
        en = np.where(early & (new_end > st), new_end, en)
        open_ended = (f["service_kind"].to_numpy() == "自立支援医療") & (rng.random(len(f)) < 0.1) & (en > self.t0)
        en = np.where(open_ended, NAT, en)
        f["end_on"] = en.astype("datetime64[s]")
        # a person who left the city: their decision ends then
        rem = self.removed[f["_pid"].to_numpy()]
        f = f[np.isnat(rem) | (_d(f["start_on"]) < rem)].copy()
        rem = self.removed[f["_pid"].to_numpy()]
        en = _d(f["end_on"])
        f["end_on"] = np.where(~np.isnat(rem) & (np.isnat(en) | (en > rem)), rem, en).astype("datetime64[s]")
        return f.drop(columns="_ended").sort_values(["_pid", "start_on"], kind="stable")

    # ------------------------------------------------------------ child benefits
    def _parent_of_child(self) -> np.ndarray:
        """Recipient of child benefits: the parent in the household (higher earner of two)."""
        P = self.P
        mo, fa = P["mother"].to_numpy(), P["father"].to_numpy()
        ok_m = (mo >= 0) & self.cur[np.maximum(mo, 0)]
        ok_f = (fa >= 0) & self.cur[np.maximum(fa, 0)]
        pick_f = ok_f & (~ok_m | (self.income[np.maximum(fa, 0)] >= self.income[np.maximum(mo, 0)]))
        rec = np.where(pick_f, fa, np.where(ok_m, mo, -1))
        # no parent in the household: the head receives
        head = pd.Series(np.flatnonzero(self.P["relation"].to_numpy() == "世帯主")).groupby(
            self.hrow[self.P["relation"].to_numpy() == "世帯主"]).first()
        h = head.reindex(self.hrow).fillna(-1).astype(np.int64).to_numpy()
        return np.where(rec >= 0, rec, h)

    def jido_fuyo(self) -> pd.DataFrame:
        rng = self.rng("jido_fuyo")
        P = self.P
        role = P["role"].to_numpy()
        mo, fa = P["mother"].to_numpy(), P["father"].to_numpy()
        kid_cur = self.cur & self.is_child
        parent = np.concatenate([mo, fa])
        ok = (parent >= 0) & np.concatenate([kid_cur, kid_cur])
        n_child = np.bincount(parent[ok], minlength=self.n)
        inc = self.income
        nd = np.minimum(n_child, 3)
        full = np.array([690_000, 1_070_000, 1_450_000, 1_830_000])[nd] + 380_000 * np.maximum(n_child - 3, 0)
        part = np.array([2_080_000, 2_460_000, 2_840_000, 3_220_000])[nd] + 380_000 * np.maximum(n_child - 3, 0)
        sp = self.cur & (role == ROLE_SP) & (n_child > 0)
        eligible = sp & (inc <= part)
        take = np.where(eligible, rng.random(self.n) < 0.75, sp & (rng.random(self.n) < 0.10))
        idx = np.flatnonzero(take)
        # the youngest child's birth and the household's registry give the earliest start
        kid_birth = pd.Series(np.concatenate([self.birth, self.birth])[ok]).groupby(parent[ok]).min()
        oldest_birth = kid_birth.reindex(idx).to_numpy().astype("datetime64[D]")
        ex_out = P[(P["relation"].isin(["夫", "妻"])) & (P["removal_reason"] == "転出")]
        ex_date = pd.Series(_d(ex_out["removed_on"]), index=ex_out["hid"]).groupby(level=0).max()
        sep = ex_date.reindex(P["hid"].to_numpy()[idx]).to_numpy().astype("datetime64[D]")
        lo = np.maximum(np.maximum(self.since[idx], oldest_birth), np.where(np.isnat(sep), oldest_birth, sep))
        cert = _between(rng, lo + DAY * 10, self.t0 - DAY * 5)
        cls = np.where(inc[idx] <= full[idx], "全部支給", np.where(inc[idx] <= part[idx], "一部支給", "全部停止"))
        rows = [_frame(_pid=idx, payment_class=cls, certified_on=cert, lost_on=np.full(len(idx), NAT))]
        # past recipients: children grown up, remarried, or moved out
        grown = self.cur & (role == ROLE_SP) & (n_child == 0) & (rng.random(self.n) < 0.3)
        gi = np.flatnonzero(grown)
        kb_all = pd.Series(np.concatenate([self.birth, self.birth])[(parent >= 0)]).groupby(parent[parent >= 0]).max()
        yb = kb_all.reindex(gi).to_numpy().astype("datetime64[D]")
        lost = child_until(np.where(np.isnat(yb), self.t0, yb)) + DAY
        g_ok = ~np.isnat(yb) & (lost <= self.t0) & (lost > self.t0 - _years(5))
        gi, lost = gi[g_ok], lost[g_ok]
        rows.append(_frame(_pid=gi, payment_class=rng.choice(["全部支給", "一部支給"], len(gi)),
                           certified_on=lost - _years(rng.uniform(1, 10, len(gi))), lost_on=lost))
        remar = np.flatnonzero(self.cur & (role == ROLE_SPOUSE) & (P["sex"].to_numpy() == 2) &
                               (self.age < 50) & (rng.random(self.n) < 0.012))
        lost = self.t0 - _years(rng.uniform(0.05, 5, len(remar)))
        rows.append(_frame(_pid=remar, payment_class=rng.choice(["全部支給", "一部支給"], len(remar)),
                           certified_on=lost - _years(rng.uniform(0.5, 6, len(remar))), lost_on=lost))
        moved = np.flatnonzero(~self.cur & (role == ROLE_SP) & (P["removal_reason"].to_numpy() == "転出") &
                               (rng.random(self.n) < 0.35))
        lost = self.removed[moved]
        rows.append(_frame(_pid=moved, payment_class=rng.choice(["全部支給", "一部支給"], len(moved)),
                           certified_on=np.maximum(lost - _years(rng.uniform(0.3, 5, len(moved))), self.since[moved]),
                           lost_on=lost))
        f = pd.concat(rows, ignore_index=True)
        f = f[_d(f["certified_on"]) < np.where(np.isnat(_d(f["lost_on"])), self.t0, _d(f["lost_on"]))]
        f = f[_d(f["certified_on"]) >= self.birth[f["_pid"].to_numpy()] + _years(16)]
        return f.sort_values(["_pid", "certified_on"], kind="stable")

    def jido_teate(self) -> pd.DataFrame:
        rng = self.rng("jido_teate")
        rec = self._parent_of_child()
        reform = d64("2024-10-01")  # 児童手当 extended to high-school age
        kids = np.flatnonzero(self.cur & self.is_child & (rec >= 0) & (rng.random(self.n) > 0.07))
        start = np.maximum(self.birth[kids], self.since[kids]) + DAY * rng.integers(3, 20, len(kids))
        hs = self.birth[kids] <= d64("2009-04-01")
        start = np.where(hs, np.maximum(start, reform + DAY * rng.integers(0, 120, len(kids))), start)
        start = np.minimum(start, self.t0 - DAY)
        rows = [_frame(_pid=rec[kids], child=kids, certified_on=start, ended_on=np.full(len(kids), NAT))]
        # ended: aged out after the reform, or moved away
        has_parent = (self.P["mother"].to_numpy() >= 0) | (self.P["father"].to_numpy() >= 0)
        aged = np.flatnonzero(self.cur & ~self.is_child & (self.child_until >= reform) & (self.child_until < self.t0)
                              & (rec >= 0) & has_parent)
        rows.append(_frame(_pid=rec[aged], child=aged, certified_on=reform + DAY * rng.integers(0, 90, len(aged)),
                           ended_on=self.child_until[aged]))
        gone = np.flatnonzero(~self.cur & (self.birth <= self.removed) & (self.removed <= self.child_until) &
                              (self.removed >= self.t0 - _years(1.5)) & (rec >= 0))
        st = np.maximum(self.birth[gone], self.since[gone]) + DAY * 10
        rows.append(_frame(_pid=rec[gone], child=gone, certified_on=st, ended_on=self.removed[gone]))
        f = pd.concat(rows, ignore_index=True)
        f = f[_d(f["certified_on"]) < np.where(np.isnat(_d(f["ended_on"])), self.t0 + DAY, _d(f["ended_on"]))]
        f = f[f["_pid"].to_numpy() != f["child"].to_numpy()]
        f["child_atena_no"] = self.P["atena_no"].to_numpy()[f["child"].to_numpy()]
        return f.drop(columns="child").sort_values(["_pid", "certified_on"], kind="stable")

    def kodomo_iryo(self) -> pd.DataFrame:
        rng = self.rng("kodomo_iryo")
        kids = np.flatnonzero(self.cur & self.is_child & (rng.random(self.n) > 0.03))
        has_parent = (self.P["mother"].to_numpy() >= 0) | (self.P["father"].to_numpy() >= 0)
        aged = np.flatnonzero(self.cur & ~self.is_child & (self.child_until >= self.t0 - _years(1)) &
                              (self.child_until < self.t0) & has_parent)
        gone = np.flatnonzero(~self.cur & (self.birth <= self.removed) & (self.removed <= self.child_until) &
                              (self.removed >= self.t0 - _years(1.5)))
        idx = np.concatenate([kids, aged, gone])
        end = np.concatenate([np.full(len(kids), NAT), self.child_until[aged], self.removed[gone]])
        start = np.maximum(self.birth[idx], self.since[idx])
        f = _frame(_pid=idx, start_on=start, end_on=end)
        return f[np.isnat(end) | (start < end)].sort_values("_pid", kind="stable")

    # ------------------------------------------------------------ education board
    def roster(self) -> pd.DataFrame:
        rng = self.rng("roster")
        P, H = self.P, self.H
        hrow = self.hrow
        enrolled = self.cur & (self.grade >= 1) & (self.grade <= 9)
        enrolled &= rng.random(self.n) > dirt.rate("gakureibo.private_school")
        fyr = fiscal_year(np.where(np.isnat(self.removed), self.t0, self.removed))
        g_at = fyr - school_year(self.birth) - 6
        moved = (~self.cur & (P["removal_reason"].to_numpy() == "転出") & (self.removed < self.first_truth) &
                 (g_at >= 1) & (g_at <= 9) & (fyr >= self.fy - 1) &
                 (rng.random(self.n) < dirt.rate("gakureibo.moved_away_kept")))
        idx = np.flatnonzero(enrolled | moved)
        grade = np.where(enrolled, self.grade, g_at)[idx]
        kana_true = self.kana_true[idx]
        sex = P["sex"].to_numpy()[idx]
        birth = self.birth[idx]
        code = H["address_code"].to_numpy()[hrow[idx]]
        addr = H["address_school"].to_numpy()[hrow[idx]]
        cidx = H["choaza_idx"].to_numpy()[hrow[idx]]
        # guardian: mother, else father, else the head
        mo, fa = P["mother"].to_numpy()[idx], P["father"].to_numpy()[idx]
        head = pd.Series(np.flatnonzero(P["relation"].to_numpy() == "世帯主")).groupby(
            hrow[P["relation"].to_numpy() == "世帯主"]).first().reindex(hrow[idx]).fillna(-1).astype(np.int64).to_numpy()
        g = np.where(mo >= 0, mo, np.where(fa >= 0, fa, head))
        guardian = np.where(g >= 0, self.kana_true[np.maximum(g, 0)], "")
        pupil_pid = idx
        case = np.where(enrolled[idx], "current", "moved_away")
        # past pupils kept on the roster: they left school 1–6 years ago (after 中3, or earlier when
        # the family moved away) and have no juminhyo row (the export keeps removals for 3 years)
        n_past = int(round(enrolled.sum() * dirt.rate("gakureibo.past_pupil")))
        graduated = np.zeros(len(grade), dtype=bool)
        if n_past:
            grad = rng.random(n_past) < dirt.rate("gakureibo.past_pupil.graduated")
            pg = np.where(grad, 9, rng.integers(1, 9, n_past))      # the grade the roster still shows
            sy = self.fy - rng.integers(1, 7, n_past) - pg - 6      # their school (birth) year
            pb = from_ymd(sy, 4, 2) + DAY * rng.integers(0, 365, n_past)
            psex = rng.choice([1, 2], n_past)
            _, gkana = _given_names(rng, psex, pb)
            w = self.sn["weight"].to_numpy()
            skana = self.sn["kana"].to_numpy()[rng.choice(len(self.sn), n_past, p=w / w.sum())]
            pc = rng.integers(0, len(self.choaza), n_past)
            pcode = self.choaza["code"].to_numpy()[pc]
            paddr = dirt._join("和泉市", self.choaza["town"].to_numpy()[pc], rng.integers(1, 30, n_past), "-",
                               rng.integers(1, 20, n_past))
            pguard = dirt._join(skana, "\u3000", _given_names(rng, np.full(n_past, 2), pb - _years(30))[1])
            # older siblings of current pupils: that family's surname, address and guardian
            cur_rows = np.flatnonzero(enrolled[idx])
            sib = (rng.random(n_past) < dirt.rate("gakureibo.past_pupil.sibling")) & (len(cur_rows) > 0)
            if len(cur_rows):
                j = cur_rows[rng.integers(0, len(cur_rows), n_past)]
                family = pd.Series(kana_true[j], dtype=object).str.split("\u3000").str[0].to_numpy(dtype=object)
                skana = np.where(sib, family, skana)
                pcode = np.where(sib, code[j], pcode)
                paddr = np.where(sib, addr[j], paddr)
                pc = np.where(sib, cidx[j], pc)
                pguard = np.where(sib & (guardian[j] != ""), guardian[j], pguard)
            pk = dirt._join(skana, "\u3000", gkana)
            # Never a current resident's kana in the same 町字, nor anyone's kana and birth date: such
            # a row is no one's to tell apart, and the truth could not call it a past pupil.
            here = pd.Index(pd.Series(self.kana_true[self.cur], dtype=object) + "|" +
                            pd.Series(H["address_code"].to_numpy()[hrow[self.cur]], dtype=object))
            born = pd.Index(pd.Series(self.kana_true, dtype=object) + "|" + pd.Series(self.birth.astype(str), dtype=object))
            fresh = ~(pd.Index(pd.Series(pk, dtype=object) + "|" + pd.Series(pcode, dtype=object)).isin(here) |
                      pd.Index(pd.Series(pk, dtype=object) + "|" + pd.Series(pb.astype(str), dtype=object)).isin(born))
            m = int(fresh.sum())
            grade = np.concatenate([grade, pg[fresh]])
            kana_true = np.concatenate([kana_true, pk[fresh]])
            sex = np.concatenate([sex, psex[fresh]])
            birth = np.concatenate([birth, pb[fresh]])
            code = np.concatenate([code, pcode[fresh]])
            addr = np.concatenate([addr, paddr[fresh]])
            cidx = np.concatenate([cidx, pc[fresh]])
            guardian = np.concatenate([guardian, pguard[fresh]])
            pupil_pid = np.concatenate([pupil_pid, np.full(m, -1)])
            case = np.concatenate([case, np.full(m, "past_pupil")])
            graduated = np.concatenate([graduated, grad[fresh]])
            self.content["gakureibo.past_pupil.graduated"] = int(grad[fresh].sum())
            self.content["gakureibo.past_pupil.sibling"] = int(sib[fresh].sum())
        n = len(grade)
        # school by district; ID = entry year + serial
        elem = np.array([f"和泉市立{s}小学校" for s in names.ELEMENTARY_SCHOOLS], dtype=object)
        jhs = np.array([f"和泉市立{s}中学校" for s in names.JUNIOR_HIGH_SCHOOLS], dtype=object)
        si = cidx % len(elem)
        ji = (cidx // 3) % len(jhs)
        school_name = np.where(grade <= 6, elem[si], jhs[ji])
        school_code = np.where(grade <= 6, dirt._join("B127221900", dirt.zfill(si + 1, 3)),
                               dirt._join("C127221900", dirt.zfill(ji + 1, 3)))
        entry = school_year(birth) + 7  # the fiscal year the pupil entered 小1
        order = rng.permutation(n)
        serial = np.empty(n, dtype=np.int64)
        serial[order] = np.arange(n)
        pupil_id = (entry * 100000 + 10000 + serial).astype(str)
        # content dirt: kana typed differently, blank birth dates, an old address
        kana, kana_flag = self._kana_variants(rng, kana_true)
        blank = rng.random(n) < dirt.rate("gakureibo.birth_date.blank")
        wrong = ~blank & (rng.random(n) < dirt.rate("gakureibo.birth_date.wrong"))
        birth = np.where(wrong, _mistyped_dates(rng, birth), birth)
        moved_in_city = (case == "current") & (rng.random(n) < dirt.rate("gakureibo.address_code.moved"))
        new_c = (cidx + rng.integers(1, len(self.choaza), n)) % len(self.choaza)
        code = np.where(moved_in_city, self.choaza["code"].to_numpy()[new_c], code)
        addr = np.where(moved_in_city, dirt._join("和泉市", self.choaza["town"].to_numpy()[new_c],
                                                   rng.integers(1, 30, n), "-", rng.integers(1, 20, n)), addr)
        gblank = rng.random(n) < dirt.rate("gakureibo.guardian_kana.blank")
        guardian = np.where(gblank, "", guardian)
        self.content["gakureibo.birth_date.blank"] = int(blank.sum())
        self.content["gakureibo.birth_date.wrong"] = int(wrong.sum())
        self.content["gakureibo.address_code.moved"] = int(moved_in_city.sum())
        self.content["gakureibo.guardian_kana.blank"] = int(gblank.sum())
        self.content["gakureibo.past_pupil"] = int((case == "past_pupil").sum())
        self.content["gakureibo.moved_away"] = int((case == "moved_away").sum())
        self.roster_info = pd.DataFrame({"pupil_id": pupil_id, "pid": pupil_pid, "case": case,
                                         "kana_flag": kana_flag, "blank_birth": blank, "wrong_birth": wrong,
                                         "graduated": graduated,
                                         "address_moved": moved_in_city, "grade": grade})
        order = np.argsort(pupil_id, kind="stable")
        f = _frame(pupil_id=pupil_id, name_kana=kana, birth_date=np.where(blank, NAT, birth), sex=sex,
                   address_code=code, address=addr, school_code=school_code, school_name=school_name,
                   grade=grade, guardian_kana=np.where(guardian == "", None, guardian))
        self.roster_info = self.roster_info.iloc[order].reset_index(drop=True)
        return f.iloc[order].reset_index(drop=True)

    def _kana_variants(self, rng, kana: np.ndarray):
        """Kana as the school typed it: half-width, hiragana, spaces, long vowels, small kana."""
        n = len(kana)
        out = kana.astype(object).copy()
        flag = np.full(n, "", dtype=object)
        kinds = [("long_vowel", dirt.long_vowel, dirt.has_long_vowel),
                 ("small_kana", dirt.small_kana_large, dirt.has_small_kana)]
        taken = np.zeros(n, dtype=bool)
        for kind, fn, can in kinds:
            key = f"gakureibo.name_kana.{kind}"
            able = np.array([can(s) for s in out])
            # the rate is of all rows; only names that can vary this way are drawn
            p = min(1.0, dirt.rate(key) * n / max(able.sum(), 1))
            sel = able & ~taken & (rng.random(n) < p)
            out[sel] = [fn(s) for s in out[sel]]
            flag[sel] = kind
            taken |= sel
            self.content[key] = int(sel.sum())
        sel = ~taken & (rng.random(n) < dirt.rate("gakureibo.name_kana.space"))
        ks = rng.integers(0, 3, n)
        out[sel] = [dirt.space_variant(s, k) for s, k in zip(out[sel], ks[sel])]
        flag[sel] = "space"
        taken |= sel
        self.content["gakureibo.name_kana.space"] = int(sel.sum())
        for kind, fn in (("halfwidth", dirt.halfwidth_kana), ("hiragana", dirt.hiragana)):
            key = f"gakureibo.name_kana.{kind}"
            sel = ~taken & (rng.random(n) < dirt.rate(key))
            out[sel] = [fn(s) for s in out[sel]]
            flag[sel] = kind
            taken |= sel
            self.content[key] = int(sel.sum())
        return out, flag

    def attendance(self) -> pd.DataFrame:
        rng = self.rng("attendance")
        info = self.roster_info
        cur = info[info["case"] == "current"]
        pid = cur["pid"].to_numpy()
        days = {4: 17, 5: 19, 6: 21, 7: 14, 9: 19, 10: 21, 11: 19, 12: 16, 1: 17, 2: 18, 3: 15}
        months = []
        m = d64(f"{self.fy}-04-01")
        while m < month_start(np.array([self.t0]))[0]:
            if ymd(np.array([m]))[1][0] != 8:
                months.append(m)
            m = _add_months(np.array([m]), 1)[0]
        chronic = rng.random(len(cur)) < 0.025
        rate = np.where(chronic, rng.uniform(0.3, 0.9, len(cur)), 0.0)
        rows = []
        for m in months:
            mm = int(ymd(np.array([m]))[1][0])
            ok = self.since[pid] <= month_end(np.array([m]))[0]
            d = days[mm]
            absent = np.where(chronic, rng.binomial(d, rate), np.minimum(rng.poisson(0.5, len(cur)), d))
            late = np.minimum(rng.poisson(0.25, len(cur)), d - absent)
            rows.append(_frame(pupil_id=cur["pupil_id"].to_numpy()[ok], month=np.full(ok.sum(), m),
                               school_days=np.full(ok.sum(), d), absent_days=absent[ok], late_days=late[ok]))
        self.chronic_pids = pid[chronic]
        return pd.concat(rows, ignore_index=True).sort_values(["pupil_id", "month"], kind="stable")

    def household_income(self) -> tuple[np.ndarray, np.ndarray]:
        """(income, size) per household at t0, by the FY(t0) tax rows (for drawing certifications)."""
        t = self.tax_frame
        t = t[t["tax_year"] == self.fy]
        inc = np.zeros(self.n, dtype=np.int64)
        inc[t["_pid"].to_numpy()] = t["total_income"].to_numpy()
        h_inc = np.bincount(self.hrow, weights=inc * self.cur, minlength=len(self.H))
        size = np.bincount(self.hrow, weights=self.cur, minlength=len(self.H))
        return h_inc, size

    def school_aid(self) -> pd.DataFrame:
        rng = self.rng("school_aid")
        info = self.roster_info
        h_inc, size = self.household_income()
        line = 1_000_000 + 500_000 * size
        ratio = h_inc / np.maximum(line, 1)
        hp = np.where(ratio <= 1.0, 0.62, np.where(ratio <= 1.35, 0.18, 0.02))
        hp = np.where(self.welfare_h, 0.55, hp)
        cert_h = rng.random(len(self.H)) < hp
        lapsed_h = ~cert_h & (ratio <= 1.0) & (rng.random(len(self.H)) < 0.15)
        rows = []
        cur = info[info["case"] == "current"]
        hcur = self.hrow[cur["pid"].to_numpy()]
        cls = np.where(self.welfare_h[hcur], "要保護", "準要保護")
        c26 = cert_h[hcur]
        fs = d64(f"{self.fy}-04-01")
        days = np.minimum(rng.gamma(1.5, 35, len(cur)).astype(np.int64), 180)
        cdate = np.minimum(fs + DAY * days, self.t0 - DAY)
        rows.append(_frame(pupil_id=cur["pupil_id"].to_numpy()[c26], fiscal_year=np.full(c26.sum(), self.fy),
                           cert_class=cls[c26], certified_on=cdate[c26]))
        had = (c26 & (rng.random(len(cur)) < 0.85)) | lapsed_h[hcur]
        had &= cur["grade"].to_numpy() >= 2
        fp = d64(f"{self.fy - 1}-04-01")
        cdate = fp + DAY * np.minimum(rng.gamma(1.5, 35, len(cur)).astype(np.int64), 300)
        rows.append(_frame(pupil_id=cur["pupil_id"].to_numpy()[had], fiscal_year=np.full(had.sum(), self.fy - 1),
                           cert_class=cls[had], certified_on=cdate[had]))
        mv = info[info["case"] == "moved_away"]
        mp = mv["pid"].to_numpy()
        sel = rng.random(len(mv)) < 0.15
        rem = self.removed[mp]
        fyr = fiscal_year(rem)
        cd = from_ymd(fyr, 4, 1) + DAY * rng.integers(0, 60, len(mv))
        sel &= cd < rem
        rows.append(_frame(pupil_id=mv["pupil_id"].to_numpy()[sel], fiscal_year=fyr[sel],
                           cert_class=np.full(sel.sum(), "準要保護"), certified_on=cd[sel], cancelled_on=rem[sel]))
        f = pd.concat(rows, ignore_index=True)
        st = _d(f["certified_on"])
        fy_end = from_ymd(f["fiscal_year"].to_numpy() + 1, 3, 31)
        cancel = np.isnat(_d(f["cancelled_on"])) & (rng.random(len(f)) < 0.03)
        cdt = _between(rng, st + DAY, np.minimum(fy_end, self.t0 - DAY))
        f["cancelled_on"] = np.where(cancel & (cdt > st), cdt, _d(f["cancelled_on"])).astype("datetime64[s]")
        return f.sort_values(["pupil_id", "fiscal_year"], kind="stable")

    # ------------------------------------------------------------ health, nursery, consultations
    def nursery(self) -> pd.DataFrame:
        rng = self.rng("nursery")
        P = self.P
        target = self.target("hoiku")
        pre = self.cur & (self.grade <= 0) & (self.birth <= self.t0 - DAY * 180)
        sp_h = np.isin(self.H["htype"].to_numpy(), ["single_parent", "sp_grandparents"])[self.hrow]
        mo = P["mother"].to_numpy()
        working = (mo >= 0) & (self.income[np.maximum(mo, 0)] > 0)
        w = pre * (1.0 + 2.0 * sp_h + 1.0 * working)
        n_cur = int(round(target * 0.85))
        idx = _weighted_pick(rng, w, n_cur)
        start = np.maximum(self.birth[idx] + _years(rng.uniform(0.5, 3, len(idx))), self.since[idx])
        start = np.minimum(start, self.t0 - DAY)
        rows = [_frame(_pid=idx, facility=rng.choice(np.array(names.NURSERIES), len(idx)), start_on=start,
                       end_on=np.full(len(idx), NAT))]
        grad = np.flatnonzero(self.cur & (self.grade == 1))
        gone = np.flatnonzero(~self.cur & (self.removed > self.birth + _years(1)) &
                              (grade_in(self.birth, int(self.fy)) <= 1) & (self.removed > self.t0 - _years(2)))
        pool = np.concatenate([grad, gone])
        k = target - len(idx)
        pick = pool[np.sort(rng.permutation(len(pool))[:max(k, 0)])]
        end = np.where(self.cur[pick], d64(f"{self.fy}-03-31"), self.removed[pick])
        start = np.maximum(self.birth[pick] + _years(rng.uniform(0.5, 3, len(pick))), self.since[pick])
        ok = start < end
        rows.append(_frame(_pid=pick[ok], facility=rng.choice(np.array(names.NURSERIES), ok.sum()),
                           start_on=start[ok], end_on=end[ok]))
        return pd.concat(rows, ignore_index=True).sort_values(["_pid", "start_on"], kind="stable")

    def checkups(self) -> pd.DataFrame:
        rng = self.rng("checkups")
        young = np.flatnonzero(self.birth >= self.t0 - _years(9))
        mstart = month_start(np.array([self.t0]))[0]
        rows = []
        for kind, months, miss in (("4か月児", 4, .03), ("1歳6か月児", 18, .05), ("3歳児", 42, .07)):
            tm = _add_months(month_start(self.birth[young]), months)
            rem = self.removed[young]
            ok = (tm <= mstart) & (self.since[young] <= month_end(tm)) & (np.isnat(rem) | (rem > tm))
            i = young[ok]
            tm = tm[ok]
            att = tm + DAY * rng.integers(0, 50, len(i))
            blank = (rng.random(len(i)) < miss) | (att > self.t0)
            rows.append(_frame(_pid=i, checkup_kind=np.full(len(i), kind), target_month=tm,
                               attended_on=np.where(blank, NAT, att)))
        f = pd.concat(rows, ignore_index=True)
        f = f.sort_values(["target_month", "_pid"], ascending=[False, True], kind="stable")
        f = f.head(self.target("boshi_kenshin"))
        return f.sort_values(["_pid", "target_month"], kind="stable")

    def consultations(self) -> pd.DataFrame:
        rng = self.rng("kajiso")
        H = self.H
        kid = self.cur & (self.age < 18)
        h_kid = np.bincount(self.hrow, weights=kid, minlength=len(H)) > 0
        sp = np.isin(H["htype"].to_numpy(), ["single_parent", "sp_grandparents", "cohabit"])
        chronic_h = np.zeros(len(H), dtype=bool)
        chronic_h[self.hrow[self.chronic_pids]] = True
        w = h_kid * (1 + 2 * sp + 1.5 * (H["z"].to_numpy() < -1) + 2 * self.welfare_h + 5 * chronic_h)
        target = self.target("kajiso")
        hs = _weighted_pick(rng, w, int(target / 1.15))
        hs = np.concatenate([hs, hs[rng.random(len(hs)) < 0.15]])[:target]
        kids_of = pd.Series(np.flatnonzero(kid)).groupby(self.hrow[kid])
        first_kid = kids_of.first().reindex(hs).to_numpy()
        last_kid = kids_of.last().reindex(hs).to_numpy()
        who = np.where(rng.random(len(hs)) < 0.5, first_kid, last_kid).astype(np.int64)
        kinds, kw = zip(*names.CONSULT_KINDS)
        kind = rng.choice(np.array(kinds), len(hs), p=np.array(kw) / sum(kw))
        kind = np.where(chronic_h[hs] & (rng.random(len(hs)) < 0.6), "育成相談（不登校）", kind)
        lo = np.maximum(np.maximum(self.birth[who], self.since[who]), self.t0 - _years(5))
        recv = _between(rng, lo, self.t0 - DAY)
        close = recv + DAY * rng.integers(14, 700, len(hs))
        closed = (rng.random(len(hs)) < 0.7) & (close < self.t0)
        f = _frame(_pid=who, consult_kind=kind, received_on=recv, closed_on=np.where(closed, close, NAT))
        return f.sort_values(["_pid", "received_on"], kind="stable")

    # ------------------------------------------------------------ online applications and consents
    def applications(self, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
        rng = self.rng("online")
        P = self.P
        apps = []

        def add(pids, code, when):
            pids, when = np.asarray(pids, dtype=np.int64), _d(when)
            ok = (when < self.t0) & (when >= self.since[pids]) & (when >= d64("2021-04-01"))
            apps.append(pd.DataFrame({"_pid": pids[ok], "procedure_code": code, "_day": when[ok]}))

        jf = self.jido_fuyo_frame
        sel = (_d(jf["certified_on"]) >= d64("2021-06-01")) & (rng.random(len(jf)) < 0.7)
        add(jf["_pid"][sel], "jido_fuyo_teate", _d(jf["certified_on"][sel]) - DAY * rng.integers(5, 40, sel.sum()))
        act = jf[np.isnat(_d(jf["lost_on"]))]
        sel = rng.random(len(act)) < 0.4
        add(act["_pid"][sel], "hitorioya_iryo", _d(act["certified_on"][sel]) + DAY * rng.integers(0, 60, sel.sum()))
        se = frames["shugaku_enjo"]
        se = se[(se["fiscal_year"] == self.fy) & (se["cert_class"] == "準要保護")]
        pid_of = dict(zip(self.roster_info["pupil_id"], self.roster_info["pid"]))
        pp = se["pupil_id"].map(pid_of).to_numpy().astype(np.int64)
        guardian = self._parent_of_child()[pp]
        sel = (rng.random(len(se)) < 0.6) & (guardian >= 0)
        g = pd.DataFrame({"g": guardian[sel], "d": _d(se["certified_on"])[sel]}).drop_duplicates("g")
        add(g["g"], "shugaku_enjo", _d(g["d"]) - DAY * rng.integers(3, 30, len(g)))
        ds = frames["shogai_service"]
        ds = ds[ds["service_kind"] == "居宅介護"].drop_duplicates("_pid")
        sel = rng.random(len(ds)) < 0.25
        add(ds["_pid"][sel], "home_helper", _d(ds["start_on"][sel]) - DAY * rng.integers(10, 40, sel.sum()))
        heads = np.flatnonzero(self.cur & (P["relation"].to_numpy() == "世帯主") & (rng.random(self.n) < 0.05))
        add(heads, "kyufukin", _between(rng, np.full(len(heads), d64(f"{self.fy}-06-01")),
                                        np.full(len(heads), d64(f"{self.fy}-09-30"))))
        hk = frames["hoiku"]
        hk = hk[np.isnat(_d(hk["end_on"]))]
        par = self._parent_of_child()[hk["_pid"].to_numpy()]
        sel = (rng.random(len(hk)) < 0.3) & (par >= 0)
        add(par[sel], "hoiku", _d(hk["start_on"])[sel] - DAY * rng.integers(30, 90, sel.sum()))
        a = pd.concat(apps, ignore_index=True)
        a = a[self.cur[a["_pid"].to_numpy()] | (self.removed[a["_pid"].to_numpy()] > _d(a["_day"]))]
        a = a.sort_values(["_day", "_pid", "procedure_code"], kind="stable").reset_index(drop=True)
        # one application ID per applicant, unambiguous alphabet
        applicants = np.unique(a["_pid"].to_numpy())
        ids = self._application_ids(rng, len(applicants))
        id_of = pd.Series(ids, index=applicants)
        secs = rng.integers(7 * 3600, 24 * 3600, len(a))
        at = _d(a["_day"]).astype("datetime64[s]") + secs.astype("timedelta64[s]")
        f = _frame(_pid=a["_pid"].to_numpy(), application_id=id_of.reindex(a["_pid"]).to_numpy(),
                   procedure_code=a["procedure_code"].to_numpy(),
                   procedure_name=a["procedure_code"].map(PROCEDURES).to_numpy(), applied_at=at)
        return f

    def _application_ids(self, rng, n: int) -> np.ndarray:
        out: list[str] = []
        seen: set[str] = set()
        while len(out) < n:
            chars = ID_ALPHABET[rng.integers(0, len(ID_ALPHABET), (n - len(out), 8))]
            for row in chars:
                s = "IZM-" + "".join(row[:4]) + "-" + "".join(row[4:])
                if s not in seen:
                    seen.add(s)
                    out.append(s)
        return np.array(out, dtype=object)

    def consents(self, apps: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng("consent")
        n = max(12, int(round(self.cur.sum() * dirt.rate("consent.rows_per_resident"))))
        pool = np.unique(apps["_pid"].to_numpy())
        pool = pool[self.cur[pool]]
        extra = np.flatnonzero(self.cur & (self.P["relation"].to_numpy() == "世帯主"))
        pool = np.concatenate([pool, rng.choice(extra, min(len(extra), n), replace=False)])
        pool = np.unique(pool)
        k = int(round(n / 1.15))
        who = np.sort(rng.choice(pool, min(k, len(pool)), replace=False))
        day = _between(rng, np.full(len(who), self.t0 - DAY * 90), np.full(len(who), self.t0 - DAY * 2))
        at = day.astype("datetime64[s]") + rng.integers(9 * 3600, 17 * 3600, len(who)).astype("timedelta64[s]")
        scope = np.where(rng.random(len(who)) < 0.6, "notify;tax", "notify")
        chan = np.where(rng.random(len(who)) < 0.7, "窓口", "CSW")
        staff = np.array([f"staff{i:02d}" for i in range(1, 9)])[rng.integers(0, 8, len(who))]
        rows = [pd.DataFrame({"_pid": who, "kind": "同意", "scope": scope, "at": at, "channel": chan, "staff": staff})]
        wd = rng.random(len(who)) < 0.15
        wat = np.minimum(at[wd] + (rng.integers(1, 40, wd.sum()) * 86400).astype("timedelta64[s]"),
                         (self.t0 - DAY).astype("datetime64[s]") + np.timedelta64(16 * 3600, "s"))
        rows.append(pd.DataFrame({"_pid": who[wd], "kind": "撤回", "scope": np.where(rng.random(wd.sum()) < .5,
                                                                                        "notify", "notify;tax"),
                                  "at": wat, "channel": chan[wd], "staff": staff[wd]}))
        f = pd.concat(rows, ignore_index=True).sort_values(["at", "_pid"], kind="stable")
        f = f.head(n)
        return _frame(_pid=f["_pid"].to_numpy(), kind=f["kind"].to_numpy(), scope=f["scope"].to_numpy(),
                      granted_at=f["at"].to_numpy(), channel=f["channel"].to_numpy(), staff_id=f["staff"].to_numpy())

    # ------------------------------------------------------------ registry frame
    def names_and_registry(self) -> pd.DataFrame:
        rng = self.rng("registry")
        P, H = self.P, self.H
        sk = self.sn["kanji"].to_numpy()[P["surname_idx"].to_numpy()]
        skana = self.sn["kana"].to_numpy()[P["surname_idx"].to_numpy()]
        self.kana_true = dirt._join(skana, "\u3000", P["given_kana"].to_numpy())
        # 外字: whole families registered with a variant form of one character of their surname
        prone = np.array([any(c in names.GAIJI_FOR for c in s) for s in self.sn["kanji"]])
        h_gaiji = prone[H["surname_idx"].to_numpy()] & (rng.random(len(H)) < dirt.rate("juminhyo.name.gaiji"))
        g = h_gaiji[self.hrow] & (P["surname_idx"].to_numpy() == H["surname_idx"].to_numpy()[self.hrow])
        sk = sk.copy()
        sk[g] = ["".join(names.GAIJI_FOR.get(c, c) for c in s) for s in sk[g]]
        name = dirt._join(sk, "\u3000", P["given_kanji"].to_numpy())
        kana = self.kana_true.copy()
        hw = rng.random(self.n) < dirt.rate("juminhyo.name_kana.halfwidth")
        hi = ~hw & (rng.random(self.n) < dirt.rate("juminhyo.name_kana.hiragana"))
        kana[hw] = [dirt.halfwidth_kana(s) for s in kana[hw]]
        kana[hi] = [dirt.hiragana(s) for s in kana[hi]]
        addr = H["address_clean"].to_numpy().copy()
        in_town = np.array([("葛" in a) or ("槇" in a) for a in addr])
        ga = in_town & (rng.random(len(H)) < dirt.rate("juminhyo.address.gaiji"))
        addr[ga] = [a.replace("葛", names.GAIJI_FOR["葛"]).replace("槇", names.GAIJI_FOR["槇"]) for a in addr[ga]]
        self.content.update({"juminhyo.name.gaiji": int(g.sum()), "juminhyo.name_kana.halfwidth": int(hw.sum()),
                             "juminhyo.name_kana.hiragana": int(hi.sum()),
                             "juminhyo.address.gaiji": int(ga[self.hrow].sum())})
        rel = P["relation"].to_numpy()
        # 長男/長女/二男… for children, used when the writer renders 子 the old way
        kid = rel == "子"
        order = pd.DataFrame({"h": self.hrow, "s": P["sex"].to_numpy(), "b": self.birth})[kid] \
            .groupby(["h", "s"])["b"].rank(method="first").astype(int).to_numpy()
        ords = np.array(["長", "二", "三", "四", "五", "六"])
        alt = np.full(self.n, "", dtype=object)
        alt[kid] = dirt._join(ords[np.minimum(order, 6) - 1], np.where(P["sex"].to_numpy()[kid] == 1, "男", "女"))
        self.choaza = H.drop_duplicates("address_code")[["address_code", "town"]].rename(
            columns={"address_code": "code"}).reset_index(drop=True)
        return _frame(atena_no=P["atena_no"].to_numpy(), setai_no=H["setai_no"].to_numpy()[self.hrow],
                      name=name, name_kana=kana, birth_date=self.birth, sex=P["sex"].to_numpy(), relation=rel,
                      address_code=H["address_code"].to_numpy()[self.hrow], address=addr[self.hrow],
                      resident_since=self.since, removed_on=self.removed,
                      removal_reason=np.where(P["removal_reason"].to_numpy() == "", None,
                                              P["removal_reason"].to_numpy()), _relation_alt=alt)


def _mistyped_dates(rng, d: np.ndarray) -> np.ndarray:
    """The same dates typed wrong, each still a valid and different date: a day off by 1–3, day and
    month swapped (where the day is 12 or less and differs), or the year off by one."""
    d = _d(d)
    n = len(d)
    y, m, dd = ymd(d)
    kind = rng.integers(0, 3, n)
    sign = np.where(rng.random(n) < 0.5, -1, 1)
    shifted = d + DAY * sign * rng.integers(1, 4, n)
    swap = (kind == 1) & (dd <= 12) & (dd != m)
    swapped = from_ymd(y, np.where(swap, dd, 1), np.where(swap, m, 1))
    year = (kind == 2) & ~((m == 2) & (dd == 29))
    yeared = from_ymd(y + sign, m, np.where(year, dd, 1))
    return np.where(swap, swapped, np.where(year, yeared, shifted))


def _fix_truth_removals(b: _Builder, truth_dates: list[date]) -> None:
    """Put a few removals exactly on the truth dates (消除日 = D means not a resident on D)."""
    rng = b.rng("truth_removals")
    P = b.P
    rel = P["relation"].to_numpy()
    cand = np.flatnonzero(~b.cur & (rel != "世帯主") & (b.age >= 18) & (P["role"].to_numpy() != ROLE_CHILD) &
                          ~b.H["removed"].to_numpy()[b.hrow])
    per = max(1, int(round(len(cand) * 0.02 / max(len(truth_dates), 1))))
    rng.shuffle(cand)
    for i, d in enumerate(truth_dates):
        dd = d64(d)
        pick = cand[i * per:(i + 1) * per]
        pick = pick[(b.since[pick] < dd) & (b.birth[pick] < dd) & (dd <= b.t0)]
        P.loc[pick, "removed_on"] = dd
    b._refresh()
    b.content["juminhyo.removed_on_truth_date"] = int(np.isin(b.removed, [d64(d) for d in truth_dates]).sum())


def build_city(scale: str, seed: int, as_of: date, truth_dates: list[date]) -> City:
    if scale not in RESIDENTS:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(RESIDENTS)}")
    b = _Builder(scale, seed, as_of, min(truth_dates) if truth_dates else as_of)
    b.population()
    _fix_truth_removals(b, truth_dates)
    frames: dict[str, pd.DataFrame] = {}
    frames["juminhyo"] = b.names_and_registry()
    b.incomes()
    frames["seikatsu_hogo"] = b.welfare()
    frames["shiminzei"] = b.tax()
    b.handbooks()
    b.care_certs()
    b.young_carers()
    frames["shogai_techo"] = b.hb.sort_values(["_pid", "issued_on"], kind="stable")
    frames["kaigo_nintei"] = b.care.sort_values(["_pid", "start_on"], kind="stable").drop(columns="_level")
    frames["kaigo_service"] = b.care_services()
    frames["shogai_service"] = b.disability_services()
    b.jido_fuyo_frame = frames["jido_fuyo_teate"] = b.jido_fuyo()
    frames["jido_teate"] = b.jido_teate()
    frames["kodomo_iryo"] = b.kodomo_iryo()
    frames["gakureibo"] = b.roster()
    frames["shusseki"] = b.attendance()
    frames["shugaku_enjo"] = b.school_aid()
    frames["hoiku"] = b.nursery()
    frames["boshi_kenshin"] = b.checkups()
    frames["kajiso"] = b.consultations()
    frames["online_shinsei"] = b.applications(frames)
    frames["consent"] = b.consents(frames["online_shinsei"])
    atena = b.P["atena_no"].to_numpy()
    for name, f in frames.items():
        if "_pid" in f.columns:
            f.insert(0, "atena_no", atena[f["_pid"].to_numpy()])
            f = f.drop(columns="_pid")
        # exports come sorted by their key (世帯番号 for the registry), then by the first date
        key = {"juminhyo": ["setai_no", "atena_no"]}.get(name, [f.columns[0]])
        dates = [c for c in f.columns if f[c].dtype.kind == "M"][:1]
        frames[name] = f.sort_values(key + dates, kind="stable").reset_index(drop=True)
    links = _links(b)
    # Invalid registry rows only for people removed before the first truth date (never current on a
    # truth date) and not the removed row of a pupil who moved away (the truth points at it).
    j = frames["juminhyo"]
    removed = j["removed_on"].to_numpy().astype("datetime64[D]")
    eligible = {"juminhyo": ~np.isnat(removed) & (removed < b.first_truth) &
                ~j["atena_no"].isin(links["removed_atena_no"]).to_numpy()}
    held = invalid.hold_back(b.rng("invalid"), frames, eligible, b.content)
    links = links[links["pupil_id"].isin(frames["gakureibo"]["pupil_id"])].reset_index(drop=True)
    return City(as_of=as_of, scale=scale, seed=seed, frames=frames, links=links, content_dirt=b.content,
                people=b.P, households=b.H, held=held)


def _links(b: _Builder) -> pd.DataFrame:
    """True pupil → resident links with the case that makes each one hard (or not)."""
    info = b.roster_info
    pid = info["pid"].to_numpy()
    has = pid >= 0
    atena = np.where(has, b.P["atena_no"].to_numpy()[np.maximum(pid, 0)], "")
    cur = has & b.cur[np.maximum(pid, 0)]
    # namesake: another current resident with the same kana and birth date
    key = pd.Series(b.kana_true[b.cur]).astype(str) + "|" + pd.Series(b.birth[b.cur].astype(str))
    counts = key.value_counts()
    my = pd.Series(np.where(has, b.kana_true[np.maximum(pid, 0)], "")).astype(str) + "|" + \
        pd.Series(np.where(has, b.birth[np.maximum(pid, 0)].astype(str), ""))
    namesake = cur & (my.map(counts).fillna(0).to_numpy() >= 2)
    twin = cur & b.P["twin"].to_numpy()[np.maximum(pid, 0)]
    sib_same = pd.Series(b.birth[b.cur].astype(str)).groupby(b.hrow[b.cur]).value_counts()
    hb = pd.MultiIndex.from_arrays([b.hrow[np.maximum(pid, 0)], b.birth[np.maximum(pid, 0)].astype(str)])
    twin &= sib_same.reindex(hb).fillna(0).to_numpy() >= 2
    # household namesake: another current resident of the same household with the same kana (cousins)
    hkey = pd.Series(b.kana_true[b.cur]).astype(str) + "|" + pd.Series(b.hrow[b.cur]).astype(str)
    mine = pd.Series(np.where(has, b.kana_true[np.maximum(pid, 0)], "")).astype(str) + "|" + \
        pd.Series(b.hrow[np.maximum(pid, 0)]).astype(str)
    household_namesake = cur & (mine.map(hkey.value_counts()).fillna(0).to_numpy() >= 2)
    kana_flag = info["kana_flag"].to_numpy().astype(str)
    parts = [np.where(info["case"].to_numpy() != "current", info["case"].to_numpy().astype(str), ""),
             np.where(info["graduated"].to_numpy(), "graduated", ""),
             np.where(household_namesake, "household_namesake", ""),
             np.where(namesake, "namesake", ""), np.where(twin, "twin", ""),
             np.where(info["blank_birth"].to_numpy(), "blank_birth", ""),
             np.where(info["wrong_birth"].to_numpy(), "wrong_birth", ""),
             np.where(kana_flag != "", np.char.add("kana_", kana_flag), ""),
             np.where(info["address_moved"].to_numpy(), "address_moved", "")]
    flags = [";".join(p for p in row if p) for row in zip(*parts)]
    case = info["case"].to_numpy().astype(object).copy()
    prim = case == "current"
    for label, m in (("address_moved", info["address_moved"].to_numpy()),
                     ("kana_variant", info["kana_flag"].to_numpy() != ""),
                     ("blank_birth", info["blank_birth"].to_numpy()), ("wrong_birth", info["wrong_birth"].to_numpy()),
                     ("twin", twin), ("namesake", namesake), ("household_namesake", household_namesake)):
        # the last assignment wins: household_namesake > namesake > twin > wrong_birth > blank_birth > kana > address
        case[prim & m] = label
    return pd.DataFrame({"pupil_id": info["pupil_id"], "atena_no": np.where(cur, atena, ""), "case": case,
                         "flags": flags, "removed_atena_no": np.where(has & ~cur, atena, "")})
