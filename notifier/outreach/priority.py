"""Priority points for the outreach worklist (優先度の点数), as Amagasaki does (pure, vectorised).

Each signal is computed from the linked data for every member (child signals) or household, scored
with points that staff tune on screen (a scheme: data, versioned), and summed per household. The
points only order the worklist; they never send anything and never decide eligibility. Every score
carries the signals that gave it, so a coordinator sees why a family is high on the list.

Defaults follow Amagasaki's published table where our data has the signal: attendance ratio and
months of many absences for pupils, 未就園 by age (年長 40 / 年中 20 / 年少 10) for pre-school
children without nursery, missed infant check-ups (3歳児 5, others 1), and 1 point each for a single
parent, a 生活保護 household, a child's or a guardian's disability handbook, a young mother (under 20
at the birth), three or more children, twins and a child aged 0. Tax data is never used here.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from notifier.households.dates import month_start
from notifier.households.table import HouseholdTable

# The shipped scheme. Thresholds are inclusive lower bounds of each band (attendance: below `below`).
DEFAULT_SCHEME: dict = {
    "attendance": {"label": "出席比率（直近の月）", "months": 3,
                   "bands": [{"below": 0.5, "points": 20}, {"below": 0.8, "points": 10}, {"below": 0.9, "points": 5}]},
    "absence_months": {"label": "欠席の多い月が続いている", "months": 3, "min_absent_days": 7, "min_run": 2,
                       "points": 10},
    "not_in_nursery": {"label": "未就園", "points_by_school_age": {"5": 40, "4": 20, "3": 10}},
    "missed_checkup": {"label": "乳幼児健診の未受診", "points_by_kind": {"3歳児": 5, "1歳6か月児": 1, "4か月児": 1}},
    "single_parent": {"label": "ひとり親世帯（住民票・児童扶養手当）", "points": 1},
    "public_assistance": {"label": "生活保護世帯", "points": 1},
    "disability_child": {"label": "子どもに障害者手帳", "points": 1},
    "disability_guardian": {"label": "保護者に障害者手帳", "points": 1},
    "young_mother": {"label": "若年の母", "max_age_at_birth": 19, "points": 1},
    "many_children": {"label": "子どもの多い世帯", "min_children": 3, "points": 1},
    "twins": {"label": "多胎児（双子など）", "points": 1},
    "infant": {"label": "0歳の子ども", "points": 1},
}
SIGNALS = tuple(DEFAULT_SCHEME)
CHILD_MAX_AGE = 17

# The thresholds staff may tune beside the points: (lowest, highest, what the number counts). Every
# other number in a scheme is a number of points.
THRESHOLDS: dict[tuple[str, str], tuple[int, int, str]] = {
    ("attendance", "months"): (1, 12, "直近の月数"),
    ("absence_months", "months"): (1, 12, "直近の月数"),
    ("absence_months", "min_absent_days"): (1, 31, "欠席日数（月あたり）"),
    ("absence_months", "min_run"): (1, 12, "続いた月数"),
    ("young_mother", "max_age_at_birth"): (12, 25, "出産時の年齢（以下）"),
    ("many_children", "min_children"): (2, 10, "子どもの人数（以上）"),
}


class SchemeError(ValueError):
    """A scheme that does not fit the shape above (Japanese message naming the field)."""


def validate_scheme(scheme: dict) -> dict:
    """A full scheme: every signal present (missing ones from the defaults), points non-negative ints."""
    if not isinstance(scheme, dict):
        raise SchemeError("点数表は key: value の形で指定します。")
    unknown = sorted(set(scheme) - set(SIGNALS))
    if unknown:
        raise SchemeError(f"未知の項目です: {'、'.join(unknown)}")
    out = copy.deepcopy(DEFAULT_SCHEME)
    for name, spec in scheme.items():
        if not isinstance(spec, dict):
            raise SchemeError(f"{name}: 設定の形が正しくありません。")
        for key, value in spec.items():
            if key not in out[name]:
                raise SchemeError(f"{name}.{key}: 未知の設定です。")
            out[name][key] = value
    for name, spec in out.items():
        for key, value in spec.items():
            if (name, key) in THRESHOLDS:
                _check_threshold(name, key, value, spec["label"])
            else:
                _check_points(f"{name}.{key}", key, value)
    belows = [b["below"] for b in out["attendance"]["bands"]]
    if len(set(belows)) != len(belows):
        raise SchemeError(f"{out['attendance']['label']}: 同じ割合の区分が二つあります。")
    return out


def _check_threshold(name: str, key: str, value, label: str) -> None:
    low, high, counts = THRESHOLDS[(name, key)]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SchemeError(f"{name}.{key}（{label}・{counts}）: {low} 以上 {high} 以下の整数を入力してください。")


def scheme_from_form(form: Mapping[str, str], base: dict) -> dict:
    """The scheme a points-table form describes, over `base` (pure; the form's names are
    `<signal>.<key>`, `<signal>.<key>.<sub>`, `attendance.bands.<i>` for a band's points and
    `attendance.bands.<i>.below` for its threshold in percent). Raises SchemeError naming the field."""
    out = copy.deepcopy(base)
    for name, raw in form.items():
        if "." not in name or name.startswith("csrf"):
            continue
        parts = name.split(".")
        spec = out.get(parts[0])
        if spec is None:
            raise SchemeError(f"{name}: 未知の項目です。")
        raw = str(raw).strip()
        if not raw.isdigit():
            raise SchemeError(f"{spec['label']}（{name}）: 0 以上の整数を入力してください。")
        value = int(raw)
        bands = spec.get("bands") if parts[1] == "bands" else None
        if bands is not None and len(parts) in (3, 4) and parts[2].isdigit() and int(parts[2]) < len(bands):
            band = bands[int(parts[2])]
            if len(parts) == 3:
                band["points"] = value
            elif parts[3] == "below" and 1 <= value <= 100:
                band["below"] = value / 100
            else:
                raise SchemeError(f"{spec['label']}（{name}）: 出席比率は 1 以上 100 以下（%）で入力してください。")
        elif len(parts) == 3 and isinstance(spec.get(parts[1]), dict) and parts[2] in spec[parts[1]]:
            spec[parts[1]][parts[2]] = value
        elif len(parts) == 2 and parts[1] in spec and isinstance(spec[parts[1]], int):
            spec[parts[1]] = value
        else:
            raise SchemeError(f"{name}: 未知の項目です。")
    return validate_scheme(out)


def _check_points(where: str, key: str, value) -> None:
    if key == "label":
        if not isinstance(value, str) or not value.strip():
            raise SchemeError(f"{where}: 名称を入力してください。")
        return
    if key == "bands":
        if not isinstance(value, list) or not all(isinstance(b, dict) and set(b) == {"below", "points"} for b in value):
            raise SchemeError(f"{where}: 区分は below と points の組で指定します。")
        for b in value:
            if not isinstance(b["below"], (int, float)) or not 0 < b["below"] <= 1:
                raise SchemeError(f"{where}: below は 0 より大きく 1 以下の割合です。")
            _check_points(where, "points", b["points"])
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _check_points(f"{where}.{k}", "points", v)
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 1000:
        raise SchemeError(f"{where}: 0 以上 1000 以下の整数を入力してください。")


def scheme_json(scheme: dict) -> str:
    return json.dumps(validate_scheme(scheme), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Scores:
    """points: Series over setai_no. signals: one row per signal that gave points (setai_no, signal,
    label, points, member — 宛名番号 or None for a household signal —, detail), each household's rows
    sorted by points; `why(setai_no)` gives them as dicts for a page."""
    points: pd.Series
    signals: pd.DataFrame

    def why(self, setai_no: str) -> list[dict]:
        rows = self.signals.loc[self.signals["setai_no"].to_numpy() == str(setai_no)]
        return rows.drop(columns="setai_no").to_dict("records")

    def households_with_signals(self) -> set[str]:
        return set(self.signals["setai_no"])


class _Rows:
    """Signal rows collected as arrays (no loop over people): household position, member (-1 for a
    household signal), signal, points, and a short detail text."""

    def __init__(self):
        self.parts: list[pd.DataFrame] = []

    def add(self, hh_pos, member, signal: str, points, detail) -> None:
        hh_pos = np.asarray(hh_pos, dtype=np.int64)
        if not len(hh_pos):
            return
        n = len(hh_pos)
        self.parts.append(pd.DataFrame({
            "hh": hh_pos, "member": np.broadcast_to(np.asarray(member, dtype=np.int64), n),
            "signal": signal, "points": np.broadcast_to(np.asarray(points, dtype=np.int64), n),
            "detail": np.broadcast_to(np.asarray(detail, dtype=object), n)}))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({"hh": pd.Series([], dtype=np.int64), "member": pd.Series([], dtype=np.int64),
                                 "signal": pd.Series([], dtype=object), "points": pd.Series([], dtype=np.int64),
                                 "detail": pd.Series([], dtype=object)})
        return pd.concat(self.parts, ignore_index=True)


def score(table: HouseholdTable, scheme: dict | None = None, setai_nos=None) -> Scores:
    """Points per household of the table (or of `setai_nos`), with the signals that gave them."""
    s = validate_scheme(scheme or {})
    m = table.members
    n, hh = table.n, table.hh
    age = m["age"].to_numpy(dtype="float64", na_value=np.nan)
    school_age = m["school_age"].to_numpy(dtype="float64", na_value=np.nan)
    child = ~np.isnan(age) & (age <= CHILD_MAX_AGE)
    out = _Rows()

    # Attendance of pupils over the last months before as_of's month.
    at = table.facts["attendance"]
    spec = s["attendance"]
    lo, hi = month_start(table.as_of, spec["months"]), month_start(table.as_of)
    window = at.loc[((at["month"] >= lo) & (at["month"] < hi)).to_numpy(dtype=bool, na_value=False)]
    mem = window["member"].to_numpy(dtype=np.int64)
    days = np.bincount(mem, weights=window["school_days"].to_numpy(dtype="float64", na_value=0), minlength=len(m))
    absent = np.bincount(mem, weights=window["absent_days"].to_numpy(dtype="float64", na_value=0), minlength=len(m))
    ratio = np.divide(days - absent, days, out=np.ones(len(m)), where=days > 0)
    band_points = np.zeros(len(m), dtype=np.int64)
    for band in sorted(spec["bands"], key=lambda b: b["below"], reverse=True):
        band_points = np.where((days > 0) & (ratio < band["below"]), band["points"], band_points)
    p = np.flatnonzero(band_points)
    out.add(hh[p], p, "attendance", band_points[p], np.char.add(np.round(ratio[p] * 100).astype(int).astype(str), "%"))

    # Months in a row with many absences (the last `months` months before as_of's month).
    spec = s["absence_months"]
    lo = month_start(table.as_of, spec["months"])
    recent = at.loc[((at["month"] >= lo) & (at["month"] < hi)).to_numpy(dtype=bool, na_value=False)]
    heavy = recent.loc[(recent["absent_days"] >= spec["min_absent_days"]).to_numpy(dtype=bool, na_value=False)]
    if len(heavy):
        heavy = heavy.assign(k=heavy["month"].dt.year * 12 + heavy["month"].dt.month).sort_values(["member", "k"])
        step = heavy.groupby("member")["k"].diff().ne(1).cumsum()
        runs = heavy.groupby(["member", step]).size().groupby(level=0).max()
        runs = runs[runs.to_numpy() >= spec["min_run"]]
        p = runs.index.to_numpy(dtype=np.int64)
        out.add(hh[p], p, "absence_months", spec["points"], np.char.add(runs.to_numpy().astype(str), "か月"))

    # 未就園: pre-school children of school age 3–5 (not on the roster) not in nursery.
    spec = s["not_in_nursery"]
    free = ~m["hoiku"].to_numpy(dtype=bool) & np.isnan(m["grade"].to_numpy(dtype="float64", na_value=np.nan))
    for sa, pts in spec["points_by_school_age"].items():
        p = np.flatnonzero((school_age == int(sa)) & free)
        out.add(hh[p], p, "not_in_nursery", pts, {"5": "年長", "4": "年中", "3": "年少"}.get(sa, sa))

    # Missed infant check-ups (target month passed, none of that kind attended).
    ck = table.facts["checkups"]
    for kind, pts in s["missed_checkup"]["points_by_kind"].items():
        of_kind = (ck["checkup_kind"] == kind).to_numpy(dtype=bool, na_value=False)
        attended = table.member_flag(ck, of_kind & ck["attended_on"].notna().to_numpy())
        due = of_kind & (ck["target_month"] < month_start(table.as_of)).to_numpy(dtype=bool, na_value=False)
        p = np.unique(ck.loc[due, "member"].to_numpy(dtype=np.int64))
        p = p[~attended[p]]
        out.add(hh[p], p, "missed_checkup", pts, kind)

    def household(mask: np.ndarray, name: str, detail="") -> None:
        p = np.flatnonzero(mask)
        out.add(p, -1, name, s[name]["points"], detail[p] if isinstance(detail, np.ndarray) else detail)

    h = table.households
    jf = table.any_member(m["jido_fuyo_teate"].to_numpy(dtype=bool))
    household(h["single_parent_registry"].to_numpy(dtype=bool) | jf, "single_parent")
    household(h["seikatsu_hogo"].to_numpy(dtype=bool), "public_assistance")
    handbook = (m["handbook_shintai"].notna() | m["handbook_seishin"].notna() | m["handbook_ryoiku"].notna()).to_numpy()
    household(table.any_member(handbook & child), "disability_child")
    household(table.any_member(handbook & ~child & ~np.isnan(age)), "disability_guardian")

    # A young mother: a woman who is head or spouse and was at most max_age_at_birth when a 子 of
    # the household was born.
    birth = m["birth_date"]
    rel = m["relation_norm"].fillna("")
    mother = (m["sex"] == 2).to_numpy(dtype=bool, na_value=False) & rel.isin(["世帯主", "妻"]).to_numpy()
    mothers = pd.DataFrame({"hh": hh[mother], "mb": birth[mother].to_numpy()}).dropna()
    kid = child & (rel == "子").to_numpy()
    kids = pd.DataFrame({"hh": hh[kid], "b": birth[kid].to_numpy()}).dropna().merge(mothers, on="hh")
    gap_years = (kids["b"] - kids["mb"]).dt.days / 365.25
    young = np.zeros(n, dtype=bool)
    young[kids.loc[(gap_years < s["young_mother"]["max_age_at_birth"] + 1).to_numpy(), "hh"].to_numpy()] = True
    household(young, "young_mother")

    n_children = table.count_members(child)
    household(n_children >= s["many_children"]["min_children"], "many_children",
              np.char.add(n_children.astype(str), "人"))
    births = pd.DataFrame({"hh": hh[child], "b": birth[child].to_numpy()}).dropna()
    twin = np.zeros(n, dtype=bool)
    twin[births.loc[births.duplicated(["hh", "b"], keep=False), "hh"].to_numpy()] = True
    household(twin, "twins")
    household(table.any_member(age == 0), "infant")

    rows = out.frame()
    index = table.households.index.astype(str)
    points = pd.Series(np.bincount(rows["hh"].to_numpy(), weights=rows["points"].to_numpy(), minlength=n)
                       .astype(np.int64), index=index, name="points")
    if setai_nos is not None:
        wanted = pd.Index([str(x) for x in setai_nos])
        pos = table.household_positions(wanted)
        keep = np.zeros(n, dtype=bool)
        keep[pos[pos >= 0]] = True
        points = pd.Series(np.where(pos >= 0, points.to_numpy()[np.maximum(pos, 0)], 0), index=wanted, name="points")
        rows = rows.loc[keep[rows["hh"].to_numpy()]]
    # The explanation: one short list per household that has signals (output, not computation).
    rows = rows.sort_values(["hh", "points"], ascending=[True, False], kind="stable")
    labels = {name: s[name]["label"] for name in SIGNALS}
    atena = m["atena_no"].astype(str).to_numpy()
    records = pd.DataFrame({
        "setai_no": index.to_numpy()[rows["hh"].to_numpy()], "signal": rows["signal"].to_numpy(),
        "label": rows["signal"].map(labels).to_numpy(), "points": rows["points"].to_numpy(),
        # object dtype keeps None as None (pandas would infer strings and turn None into NaN)
        "member": pd.Series(np.where(rows["member"].to_numpy() >= 0, atena[np.maximum(rows["member"].to_numpy(), 0)],
                                     None), dtype=object),
        "detail": pd.Series(rows["detail"].to_numpy(), dtype=object)})
    return Scores(points, records.reset_index(drop=True))


def reorder_preview(current: pd.Series, proposed: pd.Series, top: int = 20) -> list[dict]:
    """How the worklist order would change (for staff before they save a new scheme): the top
    households under the proposal with their old and new rank."""
    old_rank = current.rank(ascending=False, method="min").astype(int)
    new_rank = proposed.rank(ascending=False, method="min").astype(int)
    order = proposed.sort_values(ascending=False, kind="stable").index[:top]
    return [{"setai_no": k, "old_points": int(current.get(k, 0)), "new_points": int(proposed[k]),
             "old_rank": int(old_rank.get(k, len(current))), "new_rank": int(new_rank[k])} for k in order]
