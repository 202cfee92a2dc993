"""The funnel (ファネル) per rule over a period of business dates, as the pilots report it
(Fukuoka: 1,327 candidates → 217 → 151 → 80 approached → …): each stage counts households, and
each stage is a subset of the one before.

Stages: eligible (matched by a run in the period) → consented (a current member holds `notify` at the
end of the period) → notified (a notice of the rule for the period reached LINE) → opened (its
one-tap link was opened) → reminded (a reminder reached LINE). Reading only; counts, never people.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from notifier.consent.state import household_state, person_state
from notifier.models import SOURCE_TABLES, ConsentEvent, Delivery, EligibilityMatch, EligibilityRun, Notice
from notifier.residents import current_condition

STAGES = (("eligible", "対象世帯"), ("consented", "通知の同意あり"), ("notified", "お知らせが届いた"),
          ("opened", "申請リンクを開いた"), ("reminded", "リマインドが届いた"))
STAGE_LABELS = dict(STAGES)


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


def funnel(session: Session, period: Period = Period(), *, as_of: date) -> pd.DataFrame:
    """One row per rule (index rule_id), one column per stage (households), plus a 合計 row."""
    eligible = _pairs(session, select(EligibilityMatch.rule_id, EligibilityMatch.setai_no).distinct()
                      .join(EligibilityRun, EligibilityRun.id == EligibilityMatch.run_id)
                      .where(period.clause(EligibilityRun.as_of)))
    sent = (select(Notice.rule_id, Notice.setai_no).where(period.clause(Notice.as_of), Notice.first_sent_at.is_not(None)))
    notified = _pairs(session, sent.where(Notice.kind == "notice").distinct())
    reminded = _pairs(session, sent.where(Notice.kind == "reminder").distinct())
    opened = _pairs(session, select(Notice.rule_id, Notice.setai_no).distinct()
                    .join(Delivery, Delivery.notice_id == Notice.id)
                    .where(period.clause(Notice.as_of), Notice.kind == "notice", Delivery.first_opened_at.is_not(None)))
    consenting = _consenting_households(session, period.until or as_of)

    frames = {"eligible": eligible, "consented": eligible[eligible["setai_no"].isin(consenting)]}
    key = ["rule_id", "setai_no"]
    frames["notified"] = frames["consented"].merge(notified, on=key) if len(notified) else notified.iloc[0:0]
    frames["opened"] = frames["notified"].merge(opened, on=key) if len(opened) else opened.iloc[0:0]
    frames["reminded"] = frames["notified"].merge(reminded, on=key) if len(reminded) else reminded.iloc[0:0]
    rules = sorted(set(eligible["rule_id"]) | set(notified["rule_id"]))
    out = pd.DataFrame({stage: frames[stage].groupby("rule_id").size().reindex(rules, fill_value=0)
                        for stage, _ in STAGES}, index=pd.Index(rules, name="rule_id")).fillna(0).astype(int)
    out.loc["合計"] = out.sum()
    return out


def _consenting_households(session: Session, day: date) -> pd.Index:
    """Households with a current member holding `notify` on `day` (rules.md "Household consent")."""
    jumin = SOURCE_TABLES["juminhyo"]
    events = pd.DataFrame(session.execute(
        select(ConsentEvent.id, ConsentEvent.atena_no, ConsentEvent.scope, ConsentEvent.action,
               ConsentEvent.occurred_at)).all(), columns=["id", "atena_no", "scope", "action", "occurred_at"])
    if events.empty:
        return pd.Index([])
    events = events[pd.to_datetime(events["occurred_at"]) < pd.Timestamp(day) + pd.Timedelta(days=1)]
    residents = pd.DataFrame(session.execute(select(jumin.c.atena_no, jumin.c.setai_no)
                                             .where(current_condition(jumin, day))).all(),
                             columns=["atena_no", "setai_no"])
    state = household_state(person_state(events), residents)
    return state.index[state["notify"]] if len(state) else pd.Index([])


def rates(table: pd.DataFrame) -> pd.DataFrame:
    """Each stage as a share of the stage before it (None where the stage before is 0)."""
    cols = [s for s, _ in STAGES]
    out = pd.DataFrame(index=table.index)
    for before, after in zip(cols, cols[1:], strict=False):
        if after == "reminded":
            before = "notified"
        denom = table[before].where(table[before] > 0)
        out[after] = (table[after] / denom).round(3)
    return out


def to_csv(table: pd.DataFrame, rule_names: dict[str, str]) -> str:
    """The table as CSV with Japanese headers (UTF-8 with BOM so that Excel reads it)."""
    out = table.rename(columns=STAGE_LABELS).copy()
    out.insert(0, "ルール名", [rule_names.get(r, "" if r == "合計" else r) for r in out.index])
    out.index.name = "ルールID"
    return "\ufeff" + out.to_csv()
