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
over notified).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from notifier.consent.state import household_state, person_state
from notifier.models import (
    Delivery,
    EligibilityMatch,
    EligibilityRun,
    Notice,
    OutreachCase,
    OutreachCaseEvent,
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
    eligible = _pairs(session, select(EligibilityMatch.rule_id, EligibilityMatch.setai_no).distinct()
                      .join(EligibilityRun, EligibilityRun.id == EligibilityMatch.run_id)
                      .where(period.clause(EligibilityRun.as_of)))
    sent = (select(Notice.rule_id, Notice.setai_no).where(period.clause(Notice.as_of), Notice.first_sent_at.is_not(None)))
    notified = _pairs(session, sent.where(Notice.kind == "notice").distinct())
    reminded = _pairs(session, sent.where(Notice.kind == "reminder").distinct())
    opened = _pairs(session, select(Notice.rule_id, Notice.setai_no).distinct()
                    .join(Delivery, Delivery.notice_id == Notice.id)
                    .where(period.clause(Notice.as_of), Notice.kind == "notice", Delivery.first_opened_at.is_not(None)))
    day = as_of if cohort else (period.until or as_of)
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
    rules = sorted(set(eligible["rule_id"]) | set(notified["rule_id"]))
    out = pd.DataFrame({stage: frames[stage].groupby("rule_id").size().reindex(rules, fill_value=0)
                        for stage, _ in STAGES}, index=pd.Index(rules, name="rule_id")).fillna(0).astype(int)
    out.loc["合計"] = out.sum()
    return out


class Readings:
    """What the funnel reads once per page: the consent history, and the responses as of a day."""

    def __init__(self, session: Session):
        self.session = session
        self._history: ConsentHistory | None = None
        self._responses: dict[date, pd.DataFrame] = {}

    @property
    def history(self) -> ConsentHistory:
        if self._history is None:
            self._history = ConsentHistory.load(self.session)
        return self._history

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


def consent_uptake(session: Session, *, as_of: date, months: int = 12,
                   readings: Readings | None = None) -> list[tuple[str, int]]:
    """Households holding `notify` at the end of each of the last `months` months (and today). The
    history and the registry are read once; each date is a filter in memory."""
    history = (readings or Readings(session)).history
    out = []
    y, m = as_of.year, as_of.month
    ends = []
    for _ in range(months):
        ends.append(date(y, m, 1) - timedelta(days=1))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    for end in reversed(ends):
        out.append((f"{end.year}年{end.month}月末", int(len(history.consenting(end)))))
    out.append(("現在", int(len(history.consenting(as_of)))))
    return out


@dataclass(frozen=True)
class ConsentHistory:
    """Every consent event and registry row, read once, to ask "who consented on day D" many times."""
    events: pd.DataFrame
    juminhyo: pd.DataFrame
    _answers: dict = field(default_factory=dict, compare=False, repr=False)

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
        residents = current_rows(self.juminhyo, day)[["atena_no", "setai_no"]]
        state = household_state(person_state(events), residents)
        return state.index[state["notify"]] if len(state) else pd.Index([])


def monthly(session: Session, *, as_of: date, months: int = 6, readings: Readings | None = None) -> pd.DataFrame:
    """The funnel's 合計 row for each of the last `months` calendar months (the households matched and
    notified in that month, and what became of them by now: consent and responses as of `as_of`),
    oldest first; index: 「2026年11月」."""
    readings = readings or Readings(session)
    rows, labels = [], []
    y, m = as_of.year, as_of.month
    starts = []
    for _ in range(months):
        starts.append(date(y, m, 1))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    for start in reversed(starts):
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1) - timedelta(days=1)
        table = funnel(session, Period(start, min(end, as_of)), as_of=as_of, readings=readings, cohort=True)
        rows.append(table.loc["合計"] if "合計" in table.index else pd.Series(0, index=[stage for stage, _ in STAGES]))
        labels.append(f"{start.year}年{start.month}月")
    return pd.DataFrame(rows, index=pd.Index(labels, name="月")).fillna(0).astype(int)


def rates(table: pd.DataFrame) -> pd.DataFrame:
    """Each stage as a share of the stage it narrows (RATE_BASE; None where that stage is 0)."""
    out = pd.DataFrame(index=table.index)
    for after, before in RATE_BASE.items():
        denom = table[before].where(table[before] > 0)
        out[after] = (table[after] / denom).round(3)
    return out


def to_csv(table: pd.DataFrame, rule_names: dict[str, str]) -> str:
    """The table as CSV with Japanese headers (UTF-8 with BOM so that Excel reads it)."""
    out = table.rename(columns=STAGE_LABELS).copy()
    out.insert(0, "ルール名", [rule_names.get(r, "" if r == "合計" else r) for r in out.index])
    out.index.name = "ルールID"
    return "\ufeff" + out.to_csv()
