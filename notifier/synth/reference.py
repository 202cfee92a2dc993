"""A deliberately naive reference implementation of the three default rules of rules.md.

It reads rules.md literally, one household and one person at a time, in plain Python, so that the
vectorised engine (notifier/eligibility) can be checked against something written independently.
It shares no code with the engine, the household builder or the importer.

Input: frames keyed by source name (juminhyo, shiminzei, shogai_techo, shogai_service, kaigo_nintei,
kaigo_service, jido_fuyo_teate, seikatsu_hogo, gakureibo, shugaku_enjo) with the canonical English
field names of notifier.contract. Dates may be datetime.date, datetime, pandas Timestamp or
ISO strings; blanks may be None, NaN, NaT or "". Months (service_month) may be a date of any day in
the month or 'YYYY-MM'. Fiscal years are ints. ``links`` has columns pupil_id and atena_no (blank or
missing atena_no = not linked). Extra columns and extra frames are ignored.

Literal readings worth knowing (they are what rules.md says):
* A current resident is anyone in juminhyo with 住民となった日 blank or on/before D and 消除日 blank
  or after D.
* 就学援助 clause 3 looks at 認定年度 = FY(D), 認定日 on/before D and 取消日 blank or after D.
* Enrolled pupil: a current resident linked to a roster row whose 学年 is 小1–中3, whatever the date.
  Past pupils have no current resident (synth: graduated or moved away), so no link makes one count.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import pandas as pd

RULE_IDS = ("shugaku_enjo", "hitorioya", "home_helper")
_CHILD_ORDINALS = ("長男", "二男", "次男", "三男", "四男", "五男", "長女", "二女", "次女", "三女", "四女", "五女")
_GRADES = {"小1": 1, "小2": 2, "小3": 3, "小4": 4, "小5": 5, "小6": 6, "中1": 7, "中2": 8, "中3": 9}


# ---------------------------------------------------------------- value helpers
def _blank(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, str):
        return v.strip() == ""
    return v != v  # NaN, NaT


def _date(v) -> date | None:
    if _blank(v):
        return None
    if isinstance(v, datetime):  # includes pandas Timestamp
        return v.date()
    if isinstance(v, date):
        return v
    if hasattr(v, "astype"):  # numpy datetime64
        return pd.Timestamp(v).date()
    return date.fromisoformat(str(v)[:10])


def _month(v) -> tuple[int, int] | None:
    if _blank(v):
        return None
    if isinstance(v, str) and len(v.strip()) == 7:
        y, m = v.strip().split("-")
        return int(y), int(m)
    d = _date(v)
    return d.year, d.month


def _int(v) -> int | None:
    return None if _blank(v) else int(v)


def _str(v) -> str:
    return "" if _blank(v) else str(v).strip()


def _flag(v) -> bool:
    if _blank(v):
        return False
    if isinstance(v, str):
        return v.strip() in ("有", "True", "true", "1")
    return bool(v)


def _relation(v) -> str:
    r = _str(v)
    return "子" if r in _CHILD_ORDINALS else r


def _grade(v) -> int | None:
    if _blank(v):
        return None
    s = str(v).strip()
    if s in _GRADES:
        return _GRADES[s]
    return int(float(s))


_CONVERT = {"date": _date, "str": _str, "int": _int, "flag": _flag, "relation": _relation, "grade": _grade}


def _values(f: pd.DataFrame, k: str, kind: str) -> list:
    if k not in f.columns:
        return [_CONVERT[kind](None)] * len(f)
    col = f[k]
    # bulk conversions of the common column types; anything else goes value by value
    if kind == "date" and col.dtype.kind == "M":
        return col.to_numpy().astype("datetime64[D]").astype(object).tolist()  # date, or None for NaT
    if kind == "str":
        return col.astype("string").fillna("").str.strip().tolist()
    if kind in ("int", "flag") and col.dtype.kind in "iub":
        return [bool(v) for v in col.tolist()] if kind == "flag" else col.tolist()
    return [_CONVERT[kind](v) for v in col.tolist()]


def _rows(frames: dict, name: str, fields: dict[str, str]) -> list[dict]:
    """The frame's rows as dicts of plain Python values (only the named fields, converted once)."""
    f = frames.get(name)
    if f is None or len(f) == 0:
        return []
    cols = {k: _values(f, k, kind) for k, kind in fields.items()}
    keys = list(cols)
    return [dict(zip(keys, vals)) for vals in zip(*cols.values())]


# ---------------------------------------------------------------- the shared definitions
def fiscal_year(d: date) -> int:
    return d.year if d.month >= 4 else d.year - 1


def age(birth: date, d: date) -> int:
    """年齢計算ニ関スル法律: a year is reached at the end of the day before the birthday.

    Same as the ordinary age on the day after D; someone born on 29 Feb reaches a year on 28 Feb in
    non-leap years (1 March is on or after 29 Feb in month-day order).
    """
    nxt = d + timedelta(days=1)
    years = nxt.year - birth.year
    if (nxt.month, nxt.day) < (birth.month, birth.day):
        years -= 1
    return years


def reaches_18_on(birth: date) -> date:
    y = birth.year + 18
    try:
        anniversary = date(y, birth.month, birth.day)
    except ValueError:  # 29 Feb in a non-leap year
        anniversary = date(y, 3, 1)
    return anniversary - timedelta(days=1)


def is_jido(birth: date, d: date) -> bool:
    """児童: D ≤ the first 31 March on or after the day the person reaches 18."""
    r = reaches_18_on(birth)
    march31 = date(r.year, 3, 31)
    if march31 < r:
        march31 = date(r.year + 1, 3, 31)
    return d <= march31


def period_active(start: date | None, end: date | None, d: date) -> bool:
    return start is not None and start <= d and (end is None or end > d)


def handbook_active(row: dict, d: date) -> bool:
    issued, valid, returned = row["issued_on"], row["valid_until"], row["returned_on"]
    return (issued is not None and issued <= d and (valid is None or valid >= d)
            and (returned is None or returned > d))


# ---------------------------------------------------------------- the index
_FIELDS = {
    "shiminzei": {"atena_no": "str", "tax_year": "int", "total_income": "int", "tax_class": "str",
                  "hitorioya_deduction": "flag"},
    "shogai_techo": {"atena_no": "str", "handbook_kind": "str", "grade": "str", "issued_on": "date",
                     "valid_until": "date", "returned_on": "date"},
    "shogai_service": {"atena_no": "str", "service_kind": "str", "start_on": "date", "end_on": "date"},
    "kaigo_nintei": {"atena_no": "str", "care_level": "str", "start_on": "date", "end_on": "date"},
    "jido_fuyo_teate": {"atena_no": "str", "certified_on": "date", "lost_on": "date"},
    "seikatsu_hogo": {"atena_no": "str", "start_on": "date", "end_on": "date"},
}


class _Data:
    """Rows of each source grouped by person (宛名番号) or pupil (児童生徒番号)."""

    def __init__(self, frames: dict, links: pd.DataFrame):
        self.residents = _rows(frames, "juminhyo", {"atena_no": "str", "setai_no": "str", "birth_date": "date",
                                                   "relation": "relation", "removed_on": "date",
                                                   "resident_since": "date"})
        self.by_person: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for src, fields in _FIELDS.items():
            for r in _rows(frames, src, fields):
                self.by_person[r["atena_no"]][src].append(r)
        # only 訪問介護 rows matter; keep their months per person
        self.home_help_months: dict[str, set] = defaultdict(set)
        ks = frames.get("kaigo_service")
        if ks is not None and len(ks):
            ks = ks[ks["service_kind"].astype("string").str.strip() == "訪問介護"]
            months = (ks["service_month"].to_numpy().astype("datetime64[D]").astype(object).tolist()
                      if ks["service_month"].dtype.kind == "M" else ks["service_month"].tolist())
            for a, m in zip(_values(ks, "atena_no", "str"), months):
                self.home_help_months[a].add(_month(m))
        grades = {r["pupil_id"]: r["grade"] for r in _rows(frames, "gakureibo", {"pupil_id": "str", "grade": "grade"})}
        aid: dict[str, list] = defaultdict(list)
        for r in _rows(frames, "shugaku_enjo", {"pupil_id": "str", "fiscal_year": "int", "certified_on": "date",
                                                   "cancelled_on": "date"}):
            aid[r["pupil_id"]].append(r)
        # person → roster rows linked to them
        self.pupil_rows: dict[str, list[tuple[int | None, list]]] = defaultdict(list)
        if links is not None:
            for pupil, atena in zip(links["pupil_id"].tolist(), links["atena_no"].tolist()):
                a, p = _str(atena), _str(pupil)
                if a and p in grades:
                    self.pupil_rows[a].append((grades[p], aid.get(p, [])))


# ---------------------------------------------------------------- per household
def _households(data: _Data, d: date) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in data.residents:
        arrived = r["resident_since"] is None or r["resident_since"] <= d
        if arrived and (r["removed_on"] is None or r["removed_on"] > d):
            out[r["setai_no"]].append(r)
    return out


def _latest_tax(data: _Data, atena: str, d: date) -> dict | None:
    best = None
    for r in data.by_person[atena]["shiminzei"]:
        y = r["tax_year"]
        if y is not None and y <= fiscal_year(d) and (best is None or y > best["tax_year"]):
            best = r
    return best


def _jido_fuyo_recipient(data: _Data, atena: str, d: date) -> bool:
    return any(period_active(r["certified_on"], r["lost_on"], d)
               for r in data.by_person[atena]["jido_fuyo_teate"])


def household_clauses(data: _Data, members: list[dict], d: date,
                      taxes: tuple[bool, ...] = (True, False)) -> dict[bool, dict[str, tuple[bool, ...]]]:
    """tax → each rule's clauses (in rules.md order) for one household on D.

    tax=False: every criterion that reads tax data is false (the household has no tax consent).
    """
    fy = fiscal_year(d)
    ids = [m["atena_no"] for m in members]
    size = len(members)

    # --- 就学援助
    pupils = []  # (grade, aid rows) of enrolled pupils
    for a in ids:
        for grade, aid_rows in data.pupil_rows.get(a, []):
            if grade is not None and 1 <= grade <= 9:
                pupils.append(aid_rows)
    s1 = len(pupils) > 0
    s2 = not any(period_active(r["start_on"], r["end_on"], d)
                 for a in ids for r in data.by_person[a]["seikatsu_hogo"])
    s3 = not any(r["fiscal_year"] == fy and r["certified_on"] is not None and r["certified_on"] <= d
                 and (r["cancelled_on"] is None or r["cancelled_on"] > d)
                 for rows in pupils for r in rows)
    latest = [_latest_tax(data, a, d) for a in ids]
    income = sum(t["total_income"] or 0 for t in latest if t is not None)
    with_rows = [t for t in latest if t is not None]
    exempt = len(with_rows) > 0 and all(t["tax_class"] == "非課税" for t in with_rows)
    jf = any(_jido_fuyo_recipient(data, a, d) for a in ids)
    low_income = income <= 1_000_000 + 500_000 * size or exempt

    # --- ひとり親
    births = {m["atena_no"]: m["birth_date"] for m in members}
    h1 = any(b is not None and is_jido(b, d) for b in births.values())
    has_spouse = any(m["relation"] in ("妻", "夫") for m in members)
    head_child = any(m["relation"] == "子" and m["birth_date"] is not None and is_jido(m["birth_date"], d)
                     for m in members)
    # also when the 世帯主 has moved out and no new head is shown (rules.md hitorioya 2a)
    registry = head_child and not has_spouse
    deduction = any(t is not None and t["hitorioya_deduction"] for t in latest)
    h3 = not jf

    # --- ホームヘルパー
    kids = {a for a in ids if births[a] is not None and 6 <= age(births[a], d) <= 17}
    needy = set()
    for a in ids:
        for r in data.by_person[a]["shogai_techo"]:
            if not handbook_active(r, d):
                continue
            kind, grade = r["handbook_kind"], r["grade"]
            if kind in ("身体", "精神") and grade in ("1級", "2級"):
                needy.add(a)
            if kind == "療育" and grade in ("A", "A1", "A2"):
                needy.add(a)
        for r in data.by_person[a]["kaigo_nintei"]:
            if r["care_level"] in ("要介護3", "要介護4", "要介護5") and period_active(r["start_on"], r["end_on"], d):
                needy.add(a)
    k1 = len(kids) > 0
    # "a member, other than that child": with no child aged 6–17 there is no child to exclude
    k2 = any(c != m for c in kids for m in needy) if kids else len(needy) > 0
    months = set()
    y, mo = d.year, d.month
    for _ in range(3):
        mo -= 1
        if mo == 0:
            y, mo = y - 1, 12
        months.add((y, mo))
    in_service = any(period_active(r["start_on"], r["end_on"], d)
                     for a in ids for r in data.by_person[a]["shogai_service"]
                     if r["service_kind"] in ("居宅介護", "重度訪問介護"))
    home_help = any(data.home_help_months.get(a, set()) & months for a in ids)
    k3 = not in_service and not home_help
    out = {}
    for tax in taxes:
        s4 = (tax and low_income) or jf
        h2 = registry or (tax and deduction)
        out[tax] = {"shugaku_enjo": (s1, s2, s3, s4), "hitorioya": (h1, h2, h3), "home_helper": (k1, k2, k3)}
    return out


def evaluate(frames: dict[str, pd.DataFrame], links: pd.DataFrame, dates: list[date],
             taxes: tuple[bool, ...] = (True, False)) -> dict[tuple[date, bool], dict[str, dict[str, tuple]]]:
    """(D, tax) → rule id → 世帯番号 → clause tuple, for every current household. Indexes once."""
    data = _Data(frames, links)
    out = {}
    for d in dates:
        households = _households(data, d)
        res = {tax: {r: {} for r in RULE_IDS} for tax in taxes}
        for setai, members in households.items():
            for tax, rules in household_clauses(data, members, d, taxes).items():
                for rule, clauses in rules.items():
                    res[tax][rule][setai] = clauses
        for tax in taxes:
            out[(d, tax)] = res[tax]
    return out


def reference_matches(frames: dict[str, pd.DataFrame], links: pd.DataFrame, as_of: date,
                      tax: bool) -> dict[str, set[str]]:
    """Rule id → set of 世帯番号 matching on as_of; tax=False evaluates every tax criterion as false."""
    res = evaluate(frames, links, [as_of], (tax,))[(as_of, tax)]
    return {rule: {h for h, c in per.items() if all(c)} for rule, per in res.items()}
