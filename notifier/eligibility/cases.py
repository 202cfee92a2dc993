"""Example cases of a rule (<rule id>.cases.yaml): a compact, readable household → source frames.

A case describes one household (世帯番号 H1) member by member; each member line carries the facts of
the other sources about that person (tax row, handbook, service periods …). `case_inputs` turns a case
into the exact frames the loader produces, so the same build_household_table + evaluate run as in
production. The format is documented in eligibility_rules/README.md.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from notifier.clock import fiscal_year
from notifier.contract import GRADES, SOURCES
from notifier.households import build_household_table
from notifier.households.frames import source_frame

from .engine import evaluate
from .params import ParamError, parse_date
from .rules import Rule

TARGET = "H1"
MEMBER_KEYS = {"id", "rel", "age", "born", "sex", "setai", "removed", "since", "grade", "school", "linked",
               "shugaku_enjo", "tax", "seikatsu_hogo", "jido_fuyo_teate", "jido_teate", "kodomo_iryo",
               "hoiku", "kajiso", "handbook", "care_level", "shogai_service", "kaigo_service",
               "checkup", "attendance", "applied"}
FEMALE = {"妻", "母", "祖母", "姉", "妹", "長女", "二女", "次女", "三女", "子の妻"}


class CaseError(ValueError):
    pass


@dataclass
class Case:
    name: str
    as_of: dt.date
    tax_consent: bool
    notify_consent: bool
    members: list[dict]
    expect: dict
    where: str                       # file: cases[i]


@dataclass
class CaseOutcome:
    case: Case
    matched: bool
    not_evaluated: bool
    reasons: list[dict]

    @property
    def reason_keys(self) -> list[str]:
        return sorted(r["key"] for r in self.reasons)

    def problems(self) -> list[str]:
        """Differences from the case's expectation (empty = the case passes)."""
        exp, out = self.case.expect, []
        if "match" in exp and bool(exp["match"]) != self.matched:
            out.append(f"match: expected {exp['match']}, got {self.matched}")
        if "not_evaluated" in exp and bool(exp["not_evaluated"]) != self.not_evaluated:
            out.append(f"not_evaluated: expected {exp['not_evaluated']}, got {self.not_evaluated}")
        if "reasons" in exp and self.matched and sorted(exp["reasons"]) != self.reason_keys:
            out.append(f"reasons: expected {sorted(exp['reasons'])}, got {self.reason_keys}")
        return out


def load_cases(path: str | Path) -> tuple[str, list[Case]]:
    """(rule id, cases) of a cases file."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "rule" not in data or not isinstance(data.get("cases"), list):
        raise CaseError(f"{path}: expected a mapping with rule: and cases: [...]")
    default_as_of = data.get("as_of")
    cases = []
    for i, c in enumerate(data["cases"]):
        where = f"{path}: cases[{i}]"
        try:
            as_of = parse_date(c.get("as_of", default_as_of))
        except ParamError as e:
            raise CaseError(f"{where}: as_of: {e}") from e
        if not isinstance(c.get("household"), list) or not c["household"]:
            raise CaseError(f"{where}: household: expected a list of members")
        if not isinstance(c.get("expect"), dict) or "match" not in c["expect"]:
            raise CaseError(f"{where}: expect: expected a mapping with match: true/false")
        members = [dict(m, setai=m.get("setai", TARGET)) for m in c["household"]]
        members += [dict(m, setai=m.get("setai", "H2")) for m in c.get("others", [])]
        for j, m in enumerate(members):
            unknown = set(m) - MEMBER_KEYS
            if unknown or "id" not in m or "rel" not in m:
                raise CaseError(f"{where}: member {j}: needs id and rel; unknown keys {sorted(unknown)}")
        cases.append(Case(name=str(c.get("name", f"case {i}")), as_of=as_of,
                          tax_consent=bool(c.get("tax_consent", data.get("tax_consent", True))),
                          notify_consent=bool(c.get("notify_consent", True)),
                          members=members, expect=c["expect"], where=where))
    return str(data["rule"]), cases


# ---------------------------------------------------------------------------------------------


def _d(v: Any) -> dt.date | None:
    return None if v is None else parse_date(v)


def _month(v: Any) -> dt.date:
    if isinstance(v, dt.date):
        return v.replace(day=1)
    s = str(v).strip()
    return dt.date(int(s[:4]), int(s[5:7]), 1)


def _birth(m: dict, as_of: dt.date) -> dt.date:
    if "born" in m:
        return parse_date(m["born"])
    age = int(m["age"])
    year = as_of.year - age
    day = min(as_of.day, 28) if as_of.month == 2 else as_of.day
    # 60 days before the birthday of `age` years: the age holds and the next birthday is far.
    return dt.date(year, as_of.month, day) - dt.timedelta(days=60)


def _many(v: Any) -> list:
    if v is None or v is False:
        return []
    return v if isinstance(v, list) else [v]


def _period(v: Any, as_of: dt.date) -> tuple[dt.date, dt.date | None]:
    """true → started a year ago, open; {start, end} otherwise."""
    if v is True:
        return as_of - dt.timedelta(days=365), None
    if isinstance(v, dict):
        return _d(v.get("start", as_of - dt.timedelta(days=365))), _d(v.get("end"))
    raise CaseError(f"expected true or {{start, end}}, got {v!r}")


def _grade(v: Any) -> int:
    return GRADES.index(v) + 1 if isinstance(v, str) else int(v)


def case_inputs(case: Case) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """(sources, links, consents) the loader would produce for the case."""
    a = case.as_of
    fy = fiscal_year(a)
    rows: dict[str, list[dict]] = {name: [] for name in SOURCES}
    links = []
    atena = {m["id"]: f"{i + 1:06d}" for i, m in enumerate(case.members)}

    for m in case.members:
        no = atena[m["id"]]
        sex = m.get("sex", 2 if m["rel"] in FEMALE else 1)
        rows["juminhyo"].append({
            "atena_no": no, "setai_no": m["setai"], "name": f"試験 {m['id']}", "name_kana": "シケン",
            "birth_date": _birth(m, a), "sex": {"男": 1, "女": 2}.get(sex, sex), "relation": m["rel"],
            "address_code": "272190000001", "removed_on": _d(m.get("removed")),
            "resident_since": _d(m.get("since"))})
        if "grade" in m:
            pid = f"P{no}"
            rows["gakureibo"].append({"pupil_id": pid, "name_kana": "シケン", "sex": 1,
                                      "school_code": "S01", "school_name": m.get("school", "和泉小学校"),
                                      "grade": _grade(m["grade"])})
            if m.get("linked", True):
                links.append({"pupil_id": pid, "atena_no": no})
            for se in _many(m.get("shugaku_enjo")):
                se = {} if se is True else se
                rows["shugaku_enjo"].append({"pupil_id": pid, "fiscal_year": se.get("year", fy),
                                             "cert_class": se.get("class", "準要保護"),
                                             "certified_on": _d(se.get("certified", dt.date(fy, 4, 1))),
                                             "cancelled_on": _d(se.get("cancelled"))})
            for at in _many(m.get("attendance")):
                rows["shusseki"].append({"pupil_id": pid, "month": _month(at["month"]),
                                         "school_days": at.get("days", 20), "absent_days": at["absent"]})
        for t in _many(m.get("tax")):
            income = int(t.get("income", 0))
            rows["shiminzei"].append({
                "atena_no": no, "tax_year": t.get("year", fy), "total_income": income,
                "tax_class": t.get("class", "非課税" if income == 0 else "課税"),
                "hitorioya_deduction": bool(t.get("hitorioya", False)),
                "widow_deduction": bool(t.get("widow", False))})
        for src, (start, end) in (("seikatsu_hogo", ("start_on", "end_on")),
                                  ("kodomo_iryo", ("start_on", "end_on")),
                                  ("hoiku", ("start_on", "end_on")),
                                  ("jido_fuyo_teate", ("certified_on", "lost_on")),
                                  ("kajiso", ("received_on", "closed_on"))):
            for v in _many(m.get(src)):
                s, e = _period(v, a)
                extra = {"hoiku": {"facility": "和泉保育園"},
                         "jido_fuyo_teate": {"payment_class": "全部支給"},
                         "kajiso": {"consult_kind": "養護相談"}}.get(src, {})
                rows[src].append({"atena_no": no, start: s, end: e, **extra})
        for v in _many(m.get("jido_teate")):
            s, e = _period({k: v[k] for k in ("start", "end") if k in v}, a)
            rows["jido_teate"].append({"atena_no": no, "child_atena_no": atena[v["child"]],
                                       "certified_on": s, "ended_on": e})
        for v in _many(m.get("handbook")):
            v = {"kind": v[:2], "grade": v[2:]} if isinstance(v, str) else v
            rows["shogai_techo"].append({
                "atena_no": no, "handbook_kind": v["kind"], "grade": v["grade"],
                "issued_on": _d(v.get("issued", a - dt.timedelta(days=365))),
                "valid_until": _d(v.get("valid_until")), "returned_on": _d(v.get("returned"))})
        for v in _many(m.get("care_level")):
            v = {"level": v} if isinstance(v, str) else v
            rows["kaigo_nintei"].append({
                "atena_no": no, "care_level": v["level"],
                "start_on": _d(v.get("start", a - dt.timedelta(days=180))),
                "end_on": _d(v.get("end", a + dt.timedelta(days=365)))})
        for v in _many(m.get("shogai_service")):
            v = {"kind": v} if isinstance(v, str) else v
            rows["shogai_service"].append({
                "atena_no": no, "service_kind": v["kind"],
                "start_on": _d(v.get("start", a - dt.timedelta(days=180))), "end_on": _d(v.get("end"))})
        for v in _many(m.get("kaigo_service")):
            if isinstance(v, str):
                kind, month = v.split()
                v = {"kind": kind, "month": month}
            rows["kaigo_service"].append({"atena_no": no, "service_kind": v["kind"],
                                          "service_month": _month(v["month"])})
        for v in _many(m.get("checkup")):
            rows["boshi_kenshin"].append({"atena_no": no, "checkup_kind": v["kind"],
                                          "target_month": _month(v["month"]),
                                          "attended_on": _d(v.get("attended"))})
        for v in _many(m.get("applied")):
            rows["online_shinsei"].append({"application_id": f"IZM-{no}", "atena_no": no,
                                           "procedure_code": v["procedure"],
                                           "applied_at": _d(v.get("on", a))})

    sources = {name: source_frame(name, r) for name, r in rows.items()}
    links_df = pd.DataFrame(links, columns=["pupil_id", "atena_no"]).astype("str")
    setai = sorted({m["setai"] for m in case.members})
    consents = pd.DataFrame({"setai_no": pd.Series(setai, dtype="str"),
                             "notify": [case.notify_consent] * len(setai),
                             "tax": [case.tax_consent] * len(setai)})
    return sources, links_df, consents


def run_case(rule: Rule, case: Case) -> CaseOutcome:
    """Evaluate one case through build_household_table + evaluate, as production does."""
    sources, links, consents = case_inputs(case)
    table = build_household_table(sources, links, case.as_of)
    res = evaluate([rule], table, consents, only_effective=False)
    hit = res.matches.loc[res.matches["setai_no"] == TARGET]
    ne = bool((res.not_evaluated["setai_no"] == TARGET).any())
    return CaseOutcome(case, matched=len(hit) > 0, not_evaluated=ne,
                       reasons=hit["reasons"].iloc[0] if len(hit) else [])
