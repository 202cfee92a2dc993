"""The funnel (ファネル) per rule over a period of business dates, as the pilots report it
(Fukuoka: 1,327 candidates → 217 → 151 → 80 approached → …): each stage counts households, and
each stage is a subset of the one before.

Stages: eligible (matched by a run in the period) → consented (a current member holds `notify` at the
end of the period) → notified (a notice of the rule for the period reached LINE) → opened (its
one-tap link was opened) → applied (an online application with the rule's procedure code on or after
the send, or the service in use: follow-up's definition of a response) → reminded (a reminder reached
LINE) → case (an outreach case opened for the notice) → contacted (a contact or a contact outcome was
recorded) → needs (ニーズあり or a connection) → connected (申請・就園・要対協・相談窓口・他事業につないだ).
Reading only; counts, never people. Rates: each stage over the stage it narrows (applied and reminded
over notified). Connected is also broken down by the outcome recorded on the case (`connected_by_outcome`).
The dashboard's tables come together from `dashboard`, which reads the consent history and the
responses once for all of them; each table has its CSV (UTF-8 with BOM, for Excel).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

import pandas as pd
from cachetools import TTLCache
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from notifier.consent.state import household_state, person_state
from notifier.models import (
    ConsentEvent,
    Delivery,
    EligibilityMatch,
    EligibilityRun,
    ImportRun,
    LinkOpen,
    Notice,
    OutreachCase,
    OutreachCaseEvent,
    RuleVersion,
)
from notifier.vector import isin

STAGES = (("eligible", "対象世帯"), ("consented", "通知の同意あり"), ("notified", "お知らせが届いた"),
          ("opened", "申請リンクを開いた"), ("applied", "申請・利用につながった"), ("reminded", "リマインドが届いた"),
          ("case", "見守りケース"), ("contacted", "接触できた"), ("needs", "ニーズあり"), ("connected", "支援につないだ"))
STAGE_LABELS = dict(STAGES)
# The stage each rate is taken over.
RATE_BASE = {"consented": "eligible", "notified": "consented", "opened": "notified", "applied": "notified",
             "reminded": "notified", "case": "reminded", "contacted": "case", "needs": "contacted",
             "connected": "needs"}
CONNECTED = ("申請につながった", "就園につながった", "要対協に登録", "相談窓口につないだ", "他事業につないだ")
NEEDS = ("ニーズあり", *CONNECTED)
CONTACTED = ("接触できた", "ニーズなし", *NEEDS)


@dataclass(frozen=True)
class Period:
    since: date | None = None       # business dates, inclusive
    until: date | None = None

    def clause(self, column):
        parts = []
        if self.since is not None:
            parts.append(column >= self.since)
        if self.until is not None:
            parts.append(column <= self.until)
        return and_(True, *parts)


def _pairs(session: Session, query, columns=("rule_id", "setai_no")) -> pd.DataFrame:
    return pd.DataFrame(session.execute(query).all(), columns=list(columns)).drop_duplicates()


def funnel(session: Session, period: Period = Period(), *, as_of: date, readings: Readings | None = None,
           cohort: bool = False) -> pd.DataFrame:
    """One row per rule (index rule_id), one column per stage (households), plus a 合計 row.

    Consent and responses are counted at the end of the period, or today with `cohort` (what became
    of the households of that period by now). `readings`: what one page already read, shared by
    several tables."""
    readings = readings or Readings(session)
    stages = readings.stages(period, as_of if cohort else (period.until or as_of))
    out = pd.DataFrame({stage: stages.frames[stage].groupby("rule_id").size().reindex(stages.rules, fill_value=0)
                        for stage, _ in STAGES}, index=pd.Index(stages.rules, name="rule_id")).fillna(0).astype(int)
    out.loc["合計"] = out.sum()
    return out


def connected_by_outcome(session: Session, period: Period = Period(), *, as_of: date,
                         readings: Readings | None = None, cohort: bool = False) -> pd.DataFrame:
    """The funnel's connected stage by the outcome recorded on the case: one row per rule (and 合計),
    the column `connected` (households, as in the funnel) and one per CONNECTED outcome. A household
    whose cases record two outcomes counts under both, so the outcomes may add up to more."""
    readings = readings or Readings(session)
    stages = readings.stages(period, as_of if cohort else (period.until or as_of))
    index = pd.Index(stages.rules, name="rule_id")
    pairs = stages.outcomes
    if pairs.empty:
        out = pd.DataFrame(0, index=index, columns=list(CONNECTED))
    else:
        out = (pairs.groupby(["rule_id", "outcome"]).size().unstack("outcome")
               .reindex(index=index, columns=list(CONNECTED)).fillna(0).astype(int))
    out.insert(0, "connected", stages.frames["connected"].groupby("rule_id").size().reindex(index, fill_value=0))
    out = out.astype(int)
    out.loc["合計"] = out.sum()
    return out


@dataclass(frozen=True)
class Stages:
    """Each stage's (rule_id, setai_no) pairs for one period and counting day, the rules seen, and the
    connected households' (rule_id, setai_no, outcome) triples."""
    frames: dict[str, pd.DataFrame]
    rules: list[str]
    outcomes: pd.DataFrame


def _stages(session: Session, period: Period, day: date, readings: Readings) -> Stages:
    eligible = _pairs(session, select(EligibilityMatch.rule_id, EligibilityMatch.setai_no).distinct()
                      .join(EligibilityRun, EligibilityRun.id == EligibilityMatch.run_id)
                      .where(period.clause(EligibilityRun.as_of)))
    sent = (select(Notice.rule_id, Notice.setai_no).where(period.clause(Notice.as_of), Notice.first_sent_at.is_not(None)))
    notified = _pairs(session, sent.where(Notice.kind == "notice").distinct())
    reminded = _pairs(session, sent.where(Notice.kind == "reminder").distinct())
    opened = _pairs(session, select(Notice.rule_id, Notice.setai_no).distinct()
                    .join(Delivery, Delivery.notice_id == Notice.id)
                    .where(period.clause(Notice.as_of), Notice.kind == "notice", Delivery.first_opened_at.is_not(None)))
    consenting = readings.history.consenting(day)
    applied = responses_after_notice(session, period, day, readings)[["rule_id", "setai_no"]].drop_duplicates()
    cases = pd.DataFrame(session.execute(
        select(OutreachCase.id, OutreachCase.rule_id, OutreachCase.setai_no)
        .join(Notice, Notice.id == OutreachCase.notice_id).where(period.clause(Notice.as_of))).all(),
        columns=["case_id", "rule_id", "setai_no"])
    events = pd.DataFrame(session.execute(
        select(OutreachCaseEvent.case_id, OutreachCaseEvent.kind, OutreachCaseEvent.detail)
        .where(OutreachCaseEvent.kind.in_(("contact", "outcome")),
               OutreachCaseEvent.case_id.in_(select(OutreachCase.id).join(Notice, Notice.id == OutreachCase.notice_id)
                                             .where(period.clause(Notice.as_of))))).all(),
        columns=["case_id", "kind", "detail"])
    outcome = pd.Series([(d or {}).get("outcome") for d in events["detail"]], dtype=object)
    reached = (events["kind"] == "contact").to_numpy() & pd.Series(
        [(d or {}).get("result") != "不在・応答なし" for d in events["detail"]], dtype=bool).to_numpy()

    def case_pairs(mask) -> pd.DataFrame:
        ids = set(events.loc[mask, "case_id"])
        return cases[cases["case_id"].isin(ids)][["rule_id", "setai_no"]].drop_duplicates()

    frames = {"eligible": eligible, "consented": eligible[isin(eligible["setai_no"], consenting)]}
    key = ["rule_id", "setai_no"]

    def narrow(base: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
        return base.merge(other[key].drop_duplicates(), on=key) if len(other) else base.iloc[0:0]

    frames["notified"] = narrow(frames["consented"], notified)
    frames["opened"] = narrow(frames["notified"], opened)
    frames["applied"] = narrow(frames["notified"], applied)
    frames["reminded"] = narrow(frames["notified"], reminded)
    frames["case"] = narrow(frames["notified"], cases)
    frames["contacted"] = narrow(frames["case"], case_pairs(reached | outcome.isin(CONTACTED).to_numpy()))
    frames["needs"] = narrow(frames["contacted"], case_pairs(outcome.isin(NEEDS).to_numpy()))
    frames["connected"] = narrow(frames["needs"], case_pairs(outcome.isin(CONNECTED).to_numpy()))
    connecting = pd.DataFrame({"case_id": events["case_id"].to_numpy(), "outcome": outcome.to_numpy()})
    connecting = connecting[connecting["outcome"].isin(CONNECTED).to_numpy()]
    if connecting.empty or frames["connected"].empty:
        outcomes = pd.DataFrame(columns=[*key, "outcome"])
    else:
        outcomes = (cases.merge(connecting, on="case_id")[[*key, "outcome"]].drop_duplicates()
                    .merge(frames["connected"][key].drop_duplicates(), on=key))
    rules = sorted(set(eligible["rule_id"]) | set(notified["rule_id"]))
    return Stages(frames, rules, outcomes)


class Readings:
    """What the funnel reads once per page: the consent history, and the responses as of a day."""

    def __init__(self, session: Session):
        self.session = session
        self._history: ConsentHistory | None = None
        self._responses: dict[date, pd.DataFrame] = {}
        self._stages: dict[tuple[Period, date], Stages] = {}

    @property
    def history(self) -> ConsentHistory:
        if self._history is None:
            self._history = ConsentHistory.load(self.session)
        return self._history

    def stages(self, period: Period, day: date) -> Stages:
        """Each stage's households for `period`, counting consent and responses on `day` (read once:
        the funnel and its breakdown by outcome share them)."""
        if (period, day) not in self._stages:
            self._stages[(period, day)] = _stages(self.session, period, day, self)
        return self._stages[(period, day)]

    def responses(self, day: date) -> pd.DataFrame:
        """setai_no, rule_id, responded_on, online (followup.run.responses) for every active rule."""
        if day not in self._responses:
            from notifier.eligibility.dao import active_rules
            from notifier.followup.run import responses
            from notifier.residents import current_rows
            notified = set(self.session.scalars(select(Notice.rule_id).distinct()))
            codes = {rule.id: rule.procedure_code for _v, rule in active_rules(self.session) if rule.id in notified}
            residents = current_rows(self.history.juminhyo, day)[["atena_no", "setai_no"]]
            self._responses[day] = responses(self.session, day, residents, codes)
        return self._responses[day]


def responses_after_notice(session: Session, period: Period, day: date,
                           readings: Readings | None = None) -> pd.DataFrame:
    """rule_id, setai_no, days (from the notice's send to the response; online applications only, else
    NaN): the responses follow-up counts, on or after the send of a notice of the period."""
    notices = pd.DataFrame(session.execute(
        select(Notice.rule_id, Notice.setai_no, Notice.first_sent_at)
        .where(period.clause(Notice.as_of), Notice.kind == "notice", Notice.first_sent_at.is_not(None))).all(),
        columns=["rule_id", "setai_no", "first_sent_at"])
    empty = pd.DataFrame({"rule_id": pd.Series([], dtype=object), "setai_no": pd.Series([], dtype=object),
                          "days": pd.Series([], dtype="float64")})
    if notices.empty:
        return empty
    resp = (readings or Readings(session)).responses(day)
    if resp.empty:
        return empty
    notices["sent_on"] = pd.to_datetime(notices["first_sent_at"]).dt.tz_localize("UTC").dt.tz_convert(
        "Asia/Tokyo").dt.tz_localize(None).dt.normalize()
    both = resp.merge(notices, on=["rule_id", "setai_no"])
    both["responded_on"] = pd.to_datetime(both["responded_on"])
    both = both[both["responded_on"] >= both["sent_on"]]
    days = (both["responded_on"] - both["sent_on"]).dt.days.astype("float64").where(both["online"].astype(bool))
    out = pd.DataFrame({"rule_id": both["rule_id"], "setai_no": both["setai_no"], "days": days})
    return out.sort_values("days").drop_duplicates(["rule_id", "setai_no"]).reset_index(drop=True)


def time_to_response(session: Session, period: Period = Period(), *, as_of: date,
                     readings: Readings | None = None) -> dict:
    """Days from the notice to an online application: count, median and p90 (None with no data)."""
    days = responses_after_notice(session, period, period.until or as_of, readings)["days"].dropna()
    if days.empty:
        return {"count": 0, "median": None, "p90": None}
    return {"count": int(len(days)), "median": float(days.median()), "p90": float(days.quantile(0.9))}


def _month_starts(as_of: date, months: int) -> list[date]:
    """The first days of the last `months` calendar months up to as_of's, oldest first."""
    y, m = as_of.year, as_of.month
    starts = []
    for _ in range(months):
        starts.append(date(y, m, 1))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return starts[::-1]


def consent_uptake_table(session: Session, *, as_of: date, months: int = 12,
                         readings: Readings | None = None) -> pd.DataFrame:
    """Households holding `notify` at the end of each of the last `months` months (and on as_of):
    columns label (「2026年6月末」, 「現在」), day, households. The history and the registry are read
    once; each date is a filter in memory."""
    history = (readings or Readings(session)).history
    ends = [start - timedelta(days=1) for start in _month_starts(as_of, months)]
    labels = [f"{end.year}年{end.month}月末" for end in ends] + ["現在"]
    days = [*ends, as_of]
    return pd.DataFrame({"label": labels, "day": days,
                         "households": [int(len(history.consenting(day))) for day in days]})


def consent_uptake(session: Session, *, as_of: date, months: int = 12,
                   readings: Readings | None = None) -> list[tuple[str, int]]:
    """consent_uptake_table as (label, households) pairs, for the chart."""
    table = consent_uptake_table(session, as_of=as_of, months=months, readings=readings)
    return [(label, int(n)) for label, n in zip(table["label"], table["households"], strict=True)]


@dataclass(frozen=True)
class ConsentHistory:
    """Every consent event and registry row, read once, to ask "who consented on day D" many times."""
    events: pd.DataFrame
    juminhyo: pd.DataFrame
    _answers: dict = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def _registry_of_people_with_events(self) -> pd.DataFrame:
        """The registry rows of residents who ever had a consent event: only they can hold consent
        for their household, so "who consented on D" need not look at anyone else (a quarter of a
        city's rows, read once for the many days of the uptake chart)."""
        return self.juminhyo.loc[isin(self.juminhyo["atena_no"], self.events["atena_no"].drop_duplicates())]

    @classmethod
    def load(cls, session: Session) -> ConsentHistory:
        from notifier.consent.service import load_events
        from notifier.ingest.load import load_source
        events = load_events(session)
        events = events.assign(occurred_at=pd.to_datetime(events["occurred_at"]))
        jumin = load_source(session.get_bind(), "juminhyo", ["atena_no", "setai_no", "resident_since", "removed_on"])
        return cls(events, jumin)

    def consenting(self, day: date) -> pd.Index:
        """Households with a current member holding `notify` on `day` (rules.md "Household consent")."""
        if day in self._answers:
            return self._answers[day]
        self._answers[day] = self._consenting(day)
        return self._answers[day]

    def _consenting(self, day: date) -> pd.Index:
        from notifier.residents import current_rows
        if self.events.empty:
            return pd.Index([])
        events = self.events[(self.events["occurred_at"] < pd.Timestamp(day) + pd.Timedelta(days=1)).to_numpy()]
        residents = current_rows(self._registry_of_people_with_events, day)[["atena_no", "setai_no"]]
        state = household_state(person_state(events), residents)
        return state.index[state["notify"]] if len(state) else pd.Index([])


def _month_label(start: date) -> str:
    return f"{start.year}年{start.month}月"


def monthly_by_rule(session: Session, *, as_of: date, months: int = 6,
                    readings: Readings | None = None) -> pd.DataFrame:
    """The funnel of each of the last `months` calendar months, per rule: the households matched and
    notified in that month, and what became of them by now (consent and responses as of `as_of`).
    Index (月, rule_id), oldest month first; each month lists every rule seen in any of them, then 合計."""
    readings = readings or Readings(session)
    tables = {}
    for start in _month_starts(as_of, months):
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1) - timedelta(days=1)
        tables[_month_label(start)] = funnel(session, Period(start, min(end, as_of)), as_of=as_of,
                                             readings=readings, cohort=True)
    rules = sorted(set().union(*(set(t.index) for t in tables.values())) - {"合計"}) + ["合計"]
    out = pd.concat({label: t.reindex(rules, fill_value=0) for label, t in tables.items()}, names=["月", "rule_id"])
    return out[[stage for stage, _ in STAGES]].fillna(0).astype(int)


def monthly(session: Session, *, as_of: date, months: int = 6, readings: Readings | None = None,
            rule: str | None = None) -> pd.DataFrame:
    """One rule's funnel month by month (all rules' 合計 without `rule`); index 「2026年11月」."""
    return rule_months(monthly_by_rule(session, as_of=as_of, months=months, readings=readings), rule)


def rule_months(by_rule: pd.DataFrame, rule: str | None = None) -> pd.DataFrame:
    """One rule's rows of monthly_by_rule (合計 without `rule`; zeros for a rule it does not hold)."""
    labels = pd.Index(list(dict.fromkeys(by_rule.index.get_level_values("月"))), name="月")
    key = rule or "合計"
    if key not in set(by_rule.index.get_level_values("rule_id")):
        return pd.DataFrame(0, index=labels, columns=by_rule.columns)
    return by_rule.xs(key, level="rule_id").reindex(labels)


def rates(table: pd.DataFrame) -> pd.DataFrame:
    """Each stage as a share of the stage it narrows (RATE_BASE; None where that stage is 0)."""
    out = pd.DataFrame(index=table.index)
    for after, before in RATE_BASE.items():
        denom = table[before].where(table[before] > 0)
        out[after] = (table[after] / denom).round(3)
    return out


@dataclass(frozen=True)
class Dashboard:
    """The coordinators' home page's tables, from one reading of the consent history and responses."""
    funnel: pd.DataFrame            # per rule and 合計 (funnel)
    rates: pd.DataFrame
    outcomes: pd.DataFrame          # connected_by_outcome
    months: pd.DataFrame            # the chosen rule's months (all rules' 合計 without one)
    month_rates: pd.DataFrame
    uptake: list[tuple[str, int]]
    response_time: dict


# The home page's tables are kept (per app, in a DashboardCache) for as long as nothing they read has
# changed (data_version) and at most DASHBOARD_CACHE_SECONDS: on a city of izumi's size they take
# about 2 s to build, and they change only with imports, sends, consents and casework.
DASHBOARD_CACHE_SECONDS = 300


class DashboardCache:
    """A small time-limited cache (cachetools) with a lock: web requests run in threads."""

    def __init__(self, seconds: float = DASHBOARD_CACHE_SECONDS):
        self._cache: TTLCache = TTLCache(maxsize=32, ttl=seconds)
        self._lock = threading.Lock()
        self.builds = 0

    def get(self, key, build):
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = build()
        with self._lock:
            self.builds += 1
            self._cache[key] = value
        return value


def data_version(session: Session) -> tuple:
    """A key that changes whenever anything the funnel reads changes: new imports (registry,
    applications, services), eligibility runs, rule versions and approvals, notices and sends, opens,
    consent events, outreach cases and their events (every change to a case writes one)."""
    return tuple(session.execute(select(
        select(func.max(ImportRun.id)).scalar_subquery(),
        select(func.max(EligibilityRun.id)).scalar_subquery(),
        select(func.max(RuleVersion.id)).scalar_subquery(),
        select(func.count()).select_from(RuleVersion).where(RuleVersion.status == "active").scalar_subquery(),
        select(func.max(RuleVersion.decided_at)).scalar_subquery(),
        select(func.max(Notice.id)).scalar_subquery(),
        select(func.max(Notice.first_sent_at)).scalar_subquery(),
        select(func.max(Delivery.updated_at)).scalar_subquery(),
        select(func.max(LinkOpen.id)).scalar_subquery(),
        select(func.max(ConsentEvent.id)).scalar_subquery(),
        select(func.max(OutreachCase.id)).scalar_subquery(),
        select(func.max(OutreachCaseEvent.id)).scalar_subquery(),
    )).one())


def dashboard(session: Session, period: Period = Period(), *, as_of: date, rule: str | None = None,
              months: int = 6, cache: DashboardCache | None = None) -> Dashboard:
    """Every table of the home page (see build_dashboard), from `cache` while nothing they read has
    changed."""
    def build() -> Dashboard:
        return build_dashboard(session, period, as_of=as_of, rule=rule, months=months)
    if cache is None:
        return build()
    return cache.get((as_of, period, rule, months, data_version(session)), build)


def build_dashboard(session: Session, period: Period = Period(), *, as_of: date, rule: str | None = None,
                    months: int = 6) -> Dashboard:
    """Every table of the home page: the funnel and its outcomes for `period`, `rule`'s months (all
    rules without one), consent uptake and time to response, sharing one Readings."""
    readings = Readings(session)
    table = funnel(session, period, as_of=as_of, readings=readings)
    by_month = monthly(session, as_of=as_of, months=months, readings=readings, rule=rule)
    return Dashboard(funnel=table, rates=rates(table),
                     outcomes=connected_by_outcome(session, period, as_of=as_of, readings=readings),
                     months=by_month, month_rates=rates(by_month),
                     uptake=consent_uptake(session, as_of=as_of, readings=readings),
                     response_time=time_to_response(session, period, as_of=as_of, readings=readings))


# --- CSV (UTF-8 with BOM so that Excel in a Japanese office opens it in the right encoding) ------
def _counts_and_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Each stage's count, then (but for the first) its rate in percent with the stage it is taken
    over in the header (「通知の同意あり／対象世帯（%）」), as the dashboard shows them; empty where the
    base is 0."""
    shares = rates(table)
    out = {}
    for stage, label in STAGES:
        out[label] = table[stage].astype(int).to_numpy()
        if stage in RATE_BASE:
            out[f"{label}／{STAGE_LABELS[RATE_BASE[stage]]}（%）"] = (shares[stage] * 100).round(1).to_numpy()
    return pd.DataFrame(out, index=table.index)


def _rule_columns(rule_ids, rule_names: dict[str, str]) -> dict[str, list[str]]:
    ids = list(rule_ids)
    return {"ルールID": ids, "ルール名": [rule_names.get(r, "" if r == "合計" else r) for r in ids]}


def _csv(frame: pd.DataFrame) -> str:
    return "\ufeff" + frame.to_csv(index=False)


def to_csv(table: pd.DataFrame, rule_names: dict[str, str]) -> str:
    """The funnel (one row per rule and 合計): counts and rates."""
    body = _counts_and_rates(table)
    return _csv(pd.concat([pd.DataFrame(_rule_columns(table.index, rule_names), index=table.index), body], axis=1))


def months_to_csv(by_rule: pd.DataFrame, rule_names: dict[str, str], rule: str | None = None) -> str:
    """monthly_by_rule, every rule and 合計 month by month, or only `rule`'s months: 月, ルールID,
    ルール名, counts and rates."""
    table = by_rule
    if rule is not None:
        one = rule_months(by_rule, rule)
        table = one.set_index(pd.Index([rule] * len(one), name="rule_id"), append=True)
    months = table.index.get_level_values("月")
    ids = table.index.get_level_values("rule_id")
    front = pd.DataFrame({"月": months, **_rule_columns(ids, rule_names)}, index=table.index)
    return _csv(pd.concat([front, _counts_and_rates(table)], axis=1))


def outcomes_to_csv(table: pd.DataFrame, rule_names: dict[str, str]) -> str:
    """connected_by_outcome: households connected per rule, then one column per outcome."""
    body = table.rename(columns={"connected": f"{STAGE_LABELS['connected']}（世帯）"})
    return _csv(pd.concat([pd.DataFrame(_rule_columns(table.index, rule_names), index=table.index), body], axis=1))


def uptake_to_csv(table: pd.DataFrame) -> str:
    """consent_uptake_table: 時点, 日付, 通知に同意している世帯."""
    return _csv(pd.DataFrame({"時点": table["label"], "日付": [d.isoformat() for d in table["day"]],
                              "通知に同意している世帯": table["households"]}))
