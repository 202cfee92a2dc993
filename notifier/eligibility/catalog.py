"""Criteria catalog (条件カタログ): the named, parameterised building blocks that rules combine.

Each criterion is a vectorised function of the HouseholdTable: it returns a bool array over households
and an `explain` function that, for given household positions only, returns the values that made it
hold (shown to staff as the reasons of a match, never in messages). Each declares the data sensitivity
classes it reads; criteria reading `tax` are false for households without the tax scope (the engine
applies that, see engine.py).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from notifier.contract import (
    CARE_LEVELS,
    CARE_RANK,
    CHECKUP_KINDS,
    DISABILITY_SERVICE_KINDS,
    GRADE_LABELS,
    HANDBOOK_GRADES,
    HANDBOOK_GRADES_BY_KIND,
    HANDBOOK_KINDS,
    RELATIONS,
    SENSITIVITY_CLASSES,
    SOURCES,
)
from notifier.households.dates import as_timestamp, month_start
from notifier.households.table import HouseholdTable

from .params import Param, ParamError

Explain = Callable[[np.ndarray], dict[str, list]]


@dataclass(frozen=True)
class CriterionResult:
    mask: np.ndarray            # bool per household position
    explain: Explain            # positions → {value name: list aligned with positions}


@dataclass(frozen=True)
class Criterion:
    name: str
    label: str                                   # Japanese, reads as a statement about a household
    params: tuple[Param, ...]
    func: Callable[..., CriterionResult]
    sensitivity: tuple[str, ...] | Callable[[dict], tuple[str, ...]] = ()
    # The contract sources it reads (juminhyo, which every rule reads, need not be named).
    sources: tuple[str, ...] | Callable[[dict], tuple[str, ...]] = ()
    key_param: str | None = None                 # shown in the reason key: receives(seikatsu_hogo)
    values: dict[str, str] = field(default_factory=dict)   # explained value → Japanese label
    description: str = ""

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def normalize(self, params: dict | None) -> tuple[dict, list[tuple[str, str]]]:
        """(canonical params with defaults filled, [(param name, error)])."""
        params = dict(params or {})
        errors: list[tuple[str, str]] = []
        out = {}
        names = {p.name for p in self.params}
        for extra in sorted(set(params) - names, key=str):
            errors.append((str(extra), f"未知のパラメータです / unknown parameter (known: "
                                       f"{sorted(names) or 'none'})"))
        for p in self.params:
            try:
                out[p.name] = p.check(params[p.name]) if p.name in params else p.check(p.default)
            except ParamError as e:
                errors.append((p.name, str(e)))
        return out, errors

    def resolve(self, params: dict, as_of: dt.date) -> dict:
        return {p.name: p.resolve(params[p.name], as_of) for p in self.params}

    def sensitivity_for(self, params: dict) -> tuple[str, ...]:
        s = self.sensitivity(params) if callable(self.sensitivity) else self.sensitivity
        return tuple(c for c in SENSITIVITY_CLASSES if c in set(s))

    def sources_for(self, params: dict) -> tuple[str, ...]:
        """The sources this criterion reads with these parameters, juminhyo first."""
        s = self.sources(params) if callable(self.sources) else self.sources
        return ("juminhyo",) + tuple(x for x in dict.fromkeys(s) if x != "juminhyo")

    def reads_tax(self, params: dict) -> bool:
        return "tax" in self.sensitivity_for(params)

    def key(self, params: dict) -> str:
        if self.key_param is None:
            return self.name
        return f"{self.name}({params[self.key_param]})"

    def describe(self, params: dict) -> str:
        """One Japanese line: label（param label: value、…）."""
        shown = "、".join(f"{p.label}: {p.show(params[p.name])}" for p in self.params
                         if p.name in params)
        return f"{self.label}（{shown}）" if shown else self.label

    def evaluate(self, table: HouseholdTable, params: dict) -> CriterionResult:
        """Evaluate with resolved (non-dated) params; no consent applied here."""
        return self.func(table, **params)

    def declaration(self) -> dict:
        """JSON-able description of the criterion, for the rule editor."""
        return {"name": self.name, "label": self.label, "description": self.description,
                "params": [p.describe() for p in self.params], "values": dict(self.values),
                "sensitivity": list(self.sensitivity_for(self.defaults())),
                "sensitivity_depends_on_params": callable(self.sensitivity),
                "sources": list(self.sources_for(self.defaults())),
                "key_param": self.key_param}


CATALOG: dict[str, Criterion] = {}


def criterion(name: str, label: str, params: tuple[Param, ...] = (), *, sensitivity=(), sources=(),
              key_param: str | None = None, values: dict | None = None):
    """Register a criterion function under `name`."""
    def register(func):
        CATALOG[name] = Criterion(name=name, label=label, params=params, func=func,
                                  sensitivity=sensitivity, sources=sources, key_param=key_param,
                                  values=values or {}, description=(func.__doc__ or "").strip())
        return func
    return register


def get(name: str) -> Criterion:
    return CATALOG[name]


# ---------------------------------------------------------------------------------------------
# helpers


def _frame(positions: np.ndarray, **cols) -> dict[str, list]:
    """Explained values for the households at positions: each column a list aligned with them."""
    assert all(len(v) == len(positions) for v in cols.values())
    return {k: list(v) for k, v in cols.items()}


def _ints(values: np.ndarray, positions: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(values)[positions]]


def _ages(table: HouseholdTable, basis: str) -> np.ndarray:
    col = "school_age" if basis == "school_year" else "age"
    return table.members[col].to_numpy(dtype="float64", na_value=np.nan)


def _aged(table: HouseholdTable, min_age: int, max_age: int, basis: str) -> np.ndarray:
    a = _ages(table, basis)
    return (a >= min_age) & (a <= max_age)


def _member_col(table: HouseholdTable, col: str) -> np.ndarray:
    return table.members[col].to_numpy(dtype=bool, na_value=False)


AGE_BASIS = Param("basis", "choice", "年齢の基準", "as_of", choices=("as_of", "school_year"),
                  choice_labels={"as_of": "基準日の年齢", "school_year": "学年の年齢（年度初日の前日）"},
                  help="school_year: 4月1日の前日の年齢（6 = 小1、3〜5 = 年少〜年長）")


# ---------------------------------------------------------------------------------------------
# people and household shape


@criterion("has_enrolled_pupil", "在籍する児童生徒がいる",
           (Param("grades", "ints", "学年", list(range(1, 10)), min=1, max=9,
                  choice_labels=GRADE_LABELS, help="1 = 小1 … 9 = 中3"),),
           sensitivity=("education",), sources=("gakureibo",),
           values={"pupils": "児童生徒数", "grades": "学年", "schools": "学校"})
def has_enrolled_pupil(table: HouseholdTable, grades: list[int]) -> CriterionResult:
    """A current resident linked (名寄せ) to a school-roster row with one of the grades."""
    m = table.members["grade"].isin(grades).to_numpy(dtype=bool, na_value=False)
    count = table.count_members(m)

    def explain(pos):
        return _frame(pos, pupils=_ints(count, pos),
                      grades=[[GRADE_LABELS[g] for g in gs]
                              for gs in table.lists(pos, table.members, m, "grade")],
                      schools=[sorted(set(s)) for s in table.lists(pos, table.members, m, "school_name")])
    return CriterionResult(count > 0, explain)


@criterion("has_jido", "児童（18歳到達後最初の3月31日まで）がいる",
           values={"jido": "児童数", "ages": "児童の年齢"})
def has_jido(table: HouseholdTable) -> CriterionResult:
    """A member who is a 児童 under the allowance laws on the as-of date."""
    m = _member_col(table, "is_jido")
    count = table.count_members(m)

    def explain(pos):
        return _frame(pos, jido=_ints(count, pos), ages=table.lists(pos, table.members, m, "age"))
    return CriterionResult(count > 0, explain)


@criterion("member_aged", "指定の年齢の世帯員がいる",
           (Param("min_age", "int", "下限年齢", 0, min=0, max=130),
            Param("max_age", "int", "上限年齢", 17, min=0, max=130),
            AGE_BASIS,
            Param("relations", "choices", "続柄（空 = 問わない）", [],
                  choices=RELATIONS)),
           values={"ages": "該当する世帯員の年齢"})
def member_aged(table: HouseholdTable, min_age: int, max_age: int, basis: str,
                relations: list[str]) -> CriterionResult:
    """A member whose age is within [min_age, max_age] (both inclusive)."""
    m = _aged(table, min_age, max_age, basis)
    if relations:
        m = m & table.members["relation_norm"].isin(relations).to_numpy(dtype=bool, na_value=False)
    col = "school_age" if basis == "school_year" else "age"

    def explain(pos):
        return _frame(pos, ages=table.lists(pos, table.members, m, col))
    return CriterionResult(table.any_member(m), explain)


@criterion("household_size", "世帯人数が範囲内",
           (Param("min_size", "int", "最少人数", 1, min=1, max=99),
            Param("max_size", "int", "最多人数", 99, min=1, max=99)),
           values={"size": "世帯人数"})
def household_size(table: HouseholdTable, min_size: int, max_size: int) -> CriterionResult:
    """Household size (current residents) within [min_size, max_size]."""
    size = table.households["size"].to_numpy()
    return CriterionResult((size >= min_size) & (size <= max_size),
                           lambda pos: _frame(pos, size=_ints(size, pos)))


@criterion("single_parent_registry", "住民票上のひとり親世帯",
           values={"jido_children": "世帯主の子である児童の数"})
def single_parent_registry(table: HouseholdTable) -> CriterionResult:
    """A 児童 of the household has 続柄 子 (a child of the registered 世帯主) and no member is 妻 or 夫
    — also when the 世帯主 has moved out and no new head is shown (children left with a grandparent)."""
    m = _member_col(table, "is_jido") & (table.members["relation_norm"] == "子").to_numpy(
        dtype=bool, na_value=False)
    count = table.count_members(m)
    return CriterionResult(table.households["single_parent_registry"].to_numpy(),
                           lambda pos: _frame(pos, jido_children=_ints(count, pos)))


# ---------------------------------------------------------------------------------------------
# tax (課税台帳: only with the household's tax consent)


@criterion("household_income_at_most", "世帯の合計所得金額が基準以下",
           (Param("base", "yen", "基本額", 1_000_000),
            Param("per_person", "yen", "世帯員1人あたりの加算額", 500_000)),
           sensitivity=("tax",), sources=("shiminzei",),
           values={"income": "世帯の合計所得金額", "size": "世帯人数", "limit": "基準額"})
def household_income_at_most(table: HouseholdTable, base: int, per_person: int) -> CriterionResult:
    """Sum of members' latest-year 合計所得金額 (missing = 0) ≤ base + per_person × household size."""
    income = table.households["income"].to_numpy()
    size = table.households["size"].to_numpy()
    limit = base + per_person * size
    return CriterionResult(income <= limit, lambda pos: _frame(
        pos, income=_ints(income, pos), size=_ints(size, pos), limit=_ints(limit, pos)))


@criterion("tax_exempt_household", "住民税非課税世帯", sensitivity=("tax",), sources=("shiminzei",),
           values={"taxed_members": "課税情報のある世帯員数", "tax_years": "課税年度"})
def tax_exempt_household(table: HouseholdTable) -> CriterionResult:
    """At least one member has a latest tax row, and every such row is 非課税."""
    n = table.households["n_tax_rows"].to_numpy()
    has = _member_col(table, "has_tax_row")

    def explain(pos):
        return _frame(pos, taxed_members=_ints(n, pos),
                      tax_years=[sorted(set(v)) for v in table.lists(pos, table.members, has, "tax_year")])
    return CriterionResult(table.households["tax_exempt"].to_numpy(), explain)


@criterion("single_parent_tax", "税情報上のひとり親（ひとり親控除あり）", sensitivity=("tax",),
           sources=("shiminzei",),
           values={"relations": "控除のある世帯員の続柄"})
def single_parent_tax(table: HouseholdTable) -> CriterionResult:
    """A member's latest tax row has ひとり親控除 = 有."""
    m = _member_col(table, "hitorioya_deduction")
    return CriterionResult(table.any_member(m), lambda pos: _frame(
        pos, relations=table.lists(pos, table.members, m, "relation_norm")))


# ---------------------------------------------------------------------------------------------
# services received


RECEIPTS = {
    # source: (member flag, label)
    "seikatsu_hogo": ("seikatsu_hogo", "生活保護（保護中）"),
    "jido_fuyo_teate": ("jido_fuyo_teate", "児童扶養手当（受給者）"),
    "jido_teate": ("jido_teate_recipient", "児童手当（受給者）"),
    "kodomo_iryo": ("kodomo_iryo", "こども医療（資格あり）"),
    "hoiku": ("hoiku", "保育所等に在籍"),
    "shugaku_enjo": ("shugaku_enjo", "就学援助（今年度認定・取消なし）"),
}


def _source_sensitivity(source: str) -> tuple[str, ...]:
    return SOURCES[source].sensitivity


def _receipt_sources(source: str) -> tuple[str, ...]:
    # 就学援助 is certified per pupil: it counts only through the roster (名寄せ) links.
    return ("gakureibo", "shugaku_enjo") if source == "shugaku_enjo" else (source,)


@criterion("receives", "世帯員がサービスを受けている",
           (Param("source", "choice", "サービス", "seikatsu_hogo", choices=tuple(RECEIPTS),
                  choice_labels={k: v[1] for k, v in RECEIPTS.items()}),),
           sensitivity=lambda p: _source_sensitivity(p["source"]), sources=lambda p: _receipt_sources(p["source"]),
           key_param="source", values={"relations": "受けている世帯員の続柄"})
def receives(table: HouseholdTable, source: str) -> CriterionResult:
    """A member receives the service on the as-of date (active period; 就学援助: certified for the
    fiscal year with 取消日 blank, for an enrolled pupil)."""
    m = _member_col(table, RECEIPTS[source][0])
    return CriterionResult(table.any_member(m), lambda pos: _frame(
        pos, relations=table.lists(pos, table.members, m, "relation_norm")))


CHILD_SOURCES = {
    # source: (member flag, label)
    "jido_teate": ("jido_teate_child", "児童手当の対象児童"),
    "kodomo_iryo": ("kodomo_iryo", "こども医療"),
    "hoiku": ("hoiku", "保育所等"),
}


@criterion("child_aged_without", "指定の年齢の子どもでサービスを受けていない子がいる",
           (Param("source", "choice", "サービス", "hoiku", choices=tuple(CHILD_SOURCES),
                  choice_labels={k: v[1] for k, v in CHILD_SOURCES.items()}),
            Param("min_age", "int", "下限年齢", 0, min=0, max=30),
            Param("max_age", "int", "上限年齢", 17, min=0, max=30),
            AGE_BASIS,
            Param("only_jido", "bool", "児童（18歳到達後最初の3月31日まで）に限る", False)),
           sensitivity=lambda p: _source_sensitivity(p["source"]), sources=lambda p: (p["source"],),
           key_param="source", values={"ages": "該当する子どもの年齢"})
def child_aged_without(table: HouseholdTable, source: str, min_age: int, max_age: int, basis: str,
                       only_jido: bool) -> CriterionResult:
    """A member aged [min_age, max_age] (optionally a 児童) not covered by the service: not in
    nursery (hoiku), no こども医療 qualification, or not a 児童 of an active 児童手当 recipient."""
    m = _aged(table, min_age, max_age, basis) & ~_member_col(table, CHILD_SOURCES[source][0])
    if only_jido:
        m = m & _member_col(table, "is_jido")
    col = "school_age" if basis == "school_year" else "age"
    return CriterionResult(table.any_member(m), lambda pos: _frame(
        pos, ages=table.lists(pos, table.members, m, col)))


# ---------------------------------------------------------------------------------------------
# disability and care


def _handbook_rows(table: HouseholdTable, kind: str, grades: list[str]) -> np.ndarray:
    hb = table.facts["handbooks"]
    m = (hb["handbook_kind"] == kind).to_numpy(dtype=bool, na_value=False)
    if grades:
        m = m & hb["grade"].isin(grades).to_numpy(dtype=bool, na_value=False)
    return m


@criterion("member_with_handbook", "障害者手帳を持つ世帯員がいる",
           (Param("kind", "choice", "手帳種別", "身体", choices=HANDBOOK_KINDS,
                  choice_labels={"身体": "身体障害者手帳", "精神": "精神障害者保健福祉手帳",
                                 "療育": "療育手帳"}),
            Param("grades", "choices", "等級（空 = 問わない）", [], choices=HANDBOOK_GRADES)),
           sensitivity=("disability",), sources=("shogai_techo",), key_param="kind",
           values={"grades": "等級"})
def member_with_handbook(table: HouseholdTable, kind: str, grades: list[str]) -> CriterionResult:
    """A member with an active handbook of the kind (and one of the grades, if given)."""
    rows = _handbook_rows(table, kind, grades)
    hb = table.facts["handbooks"]
    return CriterionResult(table.count_rows(hb, rows) > 0, lambda pos: _frame(
        pos, grades=table.lists(pos, hb, rows, "grade")))


@criterion("member_with_care_level", "要介護・要支援認定を受けた世帯員がいる",
           (Param("min_level", "choice", "この区分以上", "要介護1", choices=CARE_LEVELS),),
           sensitivity=("care",), sources=("kaigo_nintei",), key_param="min_level",
           values={"levels": "要介護状態区分"})
def member_with_care_level(table: HouseholdTable, min_level: str) -> CriterionResult:
    """A member with an active care certification at min_level or above (要支援1 < … < 要介護5)."""
    m = table.members["care_rank"].to_numpy() >= CARE_RANK[min_level]
    return CriterionResult(table.any_member(m), lambda pos: _frame(
        pos, levels=table.lists(pos, table.members, m, "care_level")))


def _severe_sources(p: dict) -> tuple[str, ...]:
    return (("shogai_techo",) if p.get("shintai_grades") or p.get("seishin_grades") or p.get("ryoiku_grades")
            else ()) + (("kaigo_nintei",) if p.get("care_levels") else ())


def _severe_sensitivity(p: dict) -> tuple[str, ...]:
    out = ()
    if p.get("shintai_grades") or p.get("seishin_grades") or p.get("ryoiku_grades"):
        out += ("disability",)
    if p.get("care_levels"):
        out += ("care",)
    return out


@criterion("other_member_with_severe_condition",
           "指定の年齢の世帯員と、その人以外に重い障害・要介護の世帯員がいる",
           (Param("min_age", "int", "子どもの下限年齢", 6, min=0, max=130),
            Param("max_age", "int", "子どもの上限年齢", 17, min=0, max=130),
            AGE_BASIS,
            Param("shintai_grades", "choices", "身体障害者手帳の等級", ["1級", "2級"],
                  choices=HANDBOOK_GRADES_BY_KIND["身体"]),
            Param("seishin_grades", "choices", "精神障害者保健福祉手帳の等級", ["1級", "2級"],
                  choices=HANDBOOK_GRADES_BY_KIND["精神"]),
            Param("ryoiku_grades", "choices", "療育手帳の判定", ["A", "A1", "A2"],
                  choices=HANDBOOK_GRADES_BY_KIND["療育"]),
            Param("care_levels", "choices", "要介護状態区分", ["要介護3", "要介護4", "要介護5"],
                  choices=CARE_LEVELS)),
           sensitivity=_severe_sensitivity, sources=_severe_sources,
           values={"child_ages": "子どもの年齢", "conditions": "その他の世帯員の状態"})
def other_member_with_severe_condition(table: HouseholdTable, min_age: int, max_age: int,
                                       basis: str, shintai_grades: list[str],
                                       seishin_grades: list[str], ryoiku_grades: list[str],
                                       care_levels: list[str]) -> CriterionResult:
    """A member aged [min_age, max_age] (the child) and a *different* member with an active handbook
    of a listed grade or an active care certification of a listed level.

    Vectorised without pairing people: a member with the condition counts when the household has a
    child other than that member (children in the household − 1 if the member is a child ≥ 1).
    """
    child = _aged(table, min_age, max_age, basis)
    hb, cc = table.facts["handbooks"], table.facts["care_certs"]
    rows = np.zeros(len(hb), dtype=bool)
    for kind, grades in (("身体", shintai_grades), ("精神", seishin_grades), ("療育", ryoiku_grades)):
        if grades:
            rows = rows | _handbook_rows(table, kind, grades)
    care_rows = cc["care_level"].isin(care_levels).to_numpy(dtype=bool, na_value=False)
    cond = table.member_flag(hb, rows) | table.member_flag(cc, care_rows)
    hh = table.hh
    children = table.count_members(child)
    others = table.count_members(cond)
    # a condition-holder with some child other than themself / a child with some other holder
    carer_for = cond & (children[hh] - child.astype(np.int64) >= 1)
    cared_child = child & (others[hh] - cond.astype(np.int64) >= 1)
    mask = table.any_member(carer_for)
    col = "school_age" if basis == "school_year" else "age"

    def explain(pos):
        who = carer_for[hb["member"].to_numpy()] & rows
        hb_l = hb.assign(label=hb["handbook_kind"] + hb["grade"])
        cc_l = cc.assign(label=cc["care_level"])
        cwho = carer_for[cc["member"].to_numpy()] & care_rows
        both = pd.concat([hb_l.loc[who, ["hh", "label"]], cc_l.loc[cwho, ["hh", "label"]]])
        return _frame(pos, child_ages=table.lists(pos, table.members, cared_child, col),
                      conditions=table.lists(pos, both, None, "label"))
    return CriterionResult(mask, explain)


CARE_SERVICE_KINDS = ("訪問介護", "訪問入浴介護", "訪問看護", "通所介護", "通所リハビリテーション",
                      "短期入所生活介護", "福祉用具貸与", "定期巡回・随時対応型訪問介護看護", "夜間対応型訪問介護")


def _months_before(as_of: dt.date, months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[first month, as_of's month) — the `months` calendar months before as_of's month."""
    return month_start(as_of, months), month_start(as_of)


def _no_service_sources(p: dict) -> tuple[str, ...]:
    return (("shogai_service",) if p.get("disability_kinds") else ()) + \
        (("kaigo_service",) if p.get("care_kinds") else ())


def _no_service_sensitivity(p: dict) -> tuple[str, ...]:
    return (("disability",) if p.get("disability_kinds") else ()) + \
        (("care",) if p.get("care_kinds") else ())


@criterion("no_service_use", "在宅サービスを利用していない",
           (Param("disability_kinds", "choices", "障害福祉サービス（支給決定中）",
                  ["居宅介護", "重度訪問介護"], choices=DISABILITY_SERVICE_KINDS),
            Param("care_kinds", "texts", "介護保険サービス（利用実績）", ["訪問介護"],
                  help="例: " + "・".join(CARE_SERVICE_KINDS)),
            Param("months", "int", "介護サービスを見る月数（基準日の前月まで）", 3, min=1, max=24)),
           sensitivity=_no_service_sensitivity, sources=_no_service_sources,
           values={"checked_months": "確認した介護サービス提供月"})
def no_service_use(table: HouseholdTable, disability_kinds: list[str], care_kinds: list[str],
                   months: int) -> CriterionResult:
    """No member has an active disability-service period of the listed kinds, and no member has a
    care-service claim of the listed kinds in the `months` calendar months before the as-of month."""
    ds, cs = table.facts["disability_services"], table.facts["care_services"]
    d_rows = ds["service_kind"].isin(disability_kinds).to_numpy(dtype=bool, na_value=False)
    lo, hi = _months_before(table.as_of, months)
    c_rows = cs["service_kind"].isin(care_kinds).to_numpy(dtype=bool, na_value=False) & \
        (cs["service_month"] >= lo).to_numpy(dtype=bool, na_value=False) & \
        (cs["service_month"] < hi).to_numpy(dtype=bool, na_value=False)
    used = (table.count_rows(ds, d_rows, False) > 0) | (table.count_rows(cs, c_rows, False) > 0)
    span = f"{lo:%Y-%m}〜{month_start(table.as_of, 1):%Y-%m}"
    return CriterionResult(~used, lambda pos: _frame(pos, checked_months=[span] * len(pos)))


# ---------------------------------------------------------------------------------------------
# health check-ups, school, applications, consultations


@criterion("checkup_not_attended", "乳幼児健診を受診していない子がいる",
           (Param("kind", "choice", "健診種別", "3歳児",
                  choices=CHECKUP_KINDS),
            Param("grace_months", "int", "対象月から待つ月数", 1, min=0, max=24),
            Param("lookback_months", "int", "さかのぼる月数", 6, min=1, max=36)),
           sources=("boshi_kenshin",), key_param="kind",
           values={"target_months": "未受診の対象年月"})
def checkup_not_attended(table: HouseholdTable, kind: str, grace_months: int,
                         lookback_months: int) -> CriterionResult:
    """A member has a check-up of the kind whose target month lies between `lookback_months` and
    `grace_months` months before the as-of month, with no 受診日 on any row of that kind."""
    ck = table.facts["checkups"]
    of_kind = (ck["checkup_kind"] == kind).to_numpy(dtype=bool, na_value=False)
    attended = table.member_flag(ck, of_kind & ck["attended_on"].notna().to_numpy())
    due = of_kind & (ck["target_month"] <= month_start(table.as_of, grace_months)).to_numpy(
        dtype=bool, na_value=False) & \
        (ck["target_month"] >= month_start(table.as_of, lookback_months)).to_numpy(
            dtype=bool, na_value=False) & ~attended[ck["member"].to_numpy(dtype=np.int64)]
    return CriterionResult(table.count_rows(ck, due) > 0, lambda pos: _frame(
        pos, target_months=table.lists(pos, ck, due, "target_month", months=True)))


@criterion("pupil_absence_at_least", "欠席の多い児童生徒がいる",
           (Param("min_percent", "int", "欠席率（%）以上", 30, min=1, max=100),
            Param("months", "int", "見る月数（基準日の前月まで）", 3, min=1, max=12)),
           sensitivity=("education",), sources=("gakureibo", "shusseki"),
           values={"absence_percent": "欠席率（%）"})
def pupil_absence_at_least(table: HouseholdTable, min_percent: int, months: int) -> CriterionResult:
    """An enrolled pupil whose absent days / school days over the `months` months before the as-of
    month is at least min_percent."""
    at = table.facts["attendance"]
    lo, hi = _months_before(table.as_of, months)
    w = at.loc[((at["month"] >= lo) & (at["month"] < hi)).to_numpy(dtype=bool, na_value=False)]
    n = len(table.members)
    mem = w["member"].to_numpy(dtype=np.int64)
    days = np.bincount(mem, weights=w["school_days"].to_numpy(dtype="float64", na_value=0), minlength=n)
    absent = np.bincount(mem, weights=w["absent_days"].to_numpy(dtype="float64", na_value=0), minlength=n)
    rate = np.divide(absent * 100, days, out=np.zeros(n), where=days > 0)
    m = (days > 0) & (rate >= min_percent)
    pct = pd.DataFrame({"hh": table.hh, "pct": np.round(rate).astype(np.int64)})
    return CriterionResult(table.any_member(m), lambda pos: _frame(
        pos, absence_percent=table.lists(pos, pct, m, "pct")))


@criterion("applied_for", "オンライン申請で手続きを申請済み",
           (Param("procedure_code", "text", "手続きコード", "shugaku_enjo"),
            Param("within_days", "int", "さかのぼる日数", 365, min=1, max=3650)),
           sources=("online_shinsei",), key_param="procedure_code",
           values={"applied_on": "申請日"})
def applied_for(table: HouseholdTable, procedure_code: str, within_days: int) -> CriterionResult:
    """A member applied online for the procedure in the `within_days` days up to the as-of date
    (use under `not:` to leave out households that already applied)."""
    ap = table.facts["applications"]
    end = as_timestamp(table.as_of) + pd.Timedelta(days=1)
    rows = (ap["procedure_code"] == procedure_code).to_numpy(dtype=bool, na_value=False) & \
        (ap["applied_at"] < end).to_numpy(dtype=bool, na_value=False) & \
        (ap["applied_at"] >= end - pd.Timedelta(days=within_days)).to_numpy(dtype=bool, na_value=False)
    on = ap.assign(day=ap["applied_at"].dt.normalize())
    return CriterionResult(table.count_rows(ap, rows) > 0, lambda pos: _frame(
        pos, applied_on=table.lists(pos, on, rows, "day")))


@criterion("open_family_consultation", "家庭児童相談が継続中の世帯員がいる",
           sensitivity=("child-welfare",), sources=("kajiso",), values={"relations": "相談対象の続柄"})
def open_family_consultation(table: HouseholdTable) -> CriterionResult:
    """A member with a 家庭児童相談 received on or before the as-of date and not closed."""
    m = _member_col(table, "kajiso_open")
    return CriterionResult(table.any_member(m), lambda pos: _frame(
        pos, relations=table.lists(pos, table.members, m, "relation_norm")))


def tax_scope(table: HouseholdTable, consents: pd.DataFrame | None) -> np.ndarray:
    """Per household position: holds the `tax` scope (households missing from consents do not)."""
    return scope(table, consents, "tax")


def scope(table: HouseholdTable, consents: pd.DataFrame | None, name: str) -> np.ndarray:
    if consents is None or len(consents) == 0 or name not in consents:
        return np.zeros(table.n, dtype=bool)
    held = consents.loc[consents[name].to_numpy(dtype=bool, na_value=False), "setai_no"]
    pos = table.household_positions(held.astype(str))
    out = np.zeros(table.n, dtype=bool)
    out[pos[pos >= 0]] = True
    return out


def evaluate_criterion(table: HouseholdTable, name: str, params: dict | None = None,
                       consents: pd.DataFrame | None = None) -> tuple[pd.Series, pd.DataFrame]:
    """One criterion over every household, for staff screens and tests: (holds, values).

    holds: bool Series indexed by setai_no; a criterion reading tax data is False for households
    without the tax scope in `consents`. values: the explained values of the households it holds
    for (index setai_no). Raises ValueError for unknown names or bad parameters.
    """
    crit = CATALOG[name]
    full, errors = crit.normalize(params)
    if errors:
        raise ValueError("; ".join(f"{p}: {m}" for p, m in errors))
    resolved = crit.resolve(full, table.as_of)
    res = crit.evaluate(table, resolved)
    mask = np.asarray(res.mask, dtype=bool)
    if crit.reads_tax(resolved):
        mask = mask & tax_scope(table, consents)
    pos = np.flatnonzero(mask)
    values = pd.DataFrame(res.explain(pos), index=table.households.index[pos])
    return pd.Series(mask, index=table.households.index, name=name), values


def catalog_declaration() -> list[dict]:
    """Every criterion as JSON-able data (name, label, params with types/defaults/labels …)."""
    return [c.declaration() for c in CATALOG.values()]


__all__ = ["CATALOG", "Criterion", "CriterionResult", "Param", "catalog_declaration", "criterion", "evaluate_criterion", "get",
           "scope", "tax_scope"]
