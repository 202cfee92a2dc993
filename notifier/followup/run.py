"""`notifier followup run`: read who responded, remind once, open outreach cases for non-responders
and close cases that resolved, for business date D. Set-based reads, bulk writes, one transaction,
one audit row; re-running for the same D changes nothing (decide.py says why)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from notifier import audit, bulk, clock
from notifier.consent.service import load_events
from notifier.consent.state import household_state, person_state
from notifier.contract import CASE_CONSENT_NOTE, OUTREACH_LEGAL_BASIS
from notifier.eligibility.dao import active_pair
from notifier.followup.decide import decide
from notifier.models import (
    SOURCE_TABLES,
    EligibilityMatch,
    Notice,
    OutreachCase,
    OutreachCaseEvent,
)
from notifier.residents import current_condition
from notifier.vector import isin

# The services whose use counts as a response, by a rule's procedure code (rules.md "What a match does").
HOME_HELP_DISABILITY = ("居宅介護", "重度訪問介護")
HOME_HELP_CARE = "訪問介護"
# A 訪問介護 claim for month M shows the service in use through month M+3 (the months the rule's
# no_service_use looks back at), since claims reach the city a month or two late.
CARE_CLAIM_MONTHS = 3


@dataclass
class FollowupResult:
    as_of: str
    notices_followed: int = 0
    responded: int = 0
    reminders: int = 0
    cases_opened: int = 0
    cases_closed: dict = field(default_factory=dict)
    open_cases: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        closed = "、".join(f"{k} {v} 件" for k, v in self.cases_closed.items()) or "なし"
        return [f"{self.as_of} のフォローアップ：お知らせ {self.notices_followed} 件のうち応答あり {self.responded} 件、"
                f"リマインド {self.reminders} 件、見守りケースの作成 {self.cases_opened} 件、終了 {closed}、"
                f"対応中のケース {self.open_cases} 件"]


def _jst_day(ts) -> date:
    return clock.utc_to_jst(ts).date()


def current_households(session: Session, day: date) -> pd.DataFrame:
    """atena_no, setai_no of the current residents on `day`."""
    jumin = SOURCE_TABLES["juminhyo"]
    return pd.DataFrame(session.execute(select(jumin.c.atena_no, jumin.c.setai_no)
                                        .where(current_condition(jumin, day))).all(), columns=["atena_no", "setai_no"])


def _consent(session: Session, residents: pd.DataFrame) -> tuple[set, dict]:
    """The households holding `notify`, and setai_no → when the others withdrew it (naive UTC): the
    latest withdrawal among current members whose last notify event is a withdrawal. A household
    that never consented has no withdrawal (a case opened by hand for it says nothing of consent)."""
    events = load_events(session)
    state = household_state(person_state(events), residents)
    notify = set(state.index[state["notify"]]) if len(state) else set()
    last = (events[events["scope"] == "notify"].sort_values(["occurred_at", "id"])
            .drop_duplicates("atena_no", keep="last"))
    gone = last[last["action"] == "withdraw"].merge(residents, on="atena_no")
    gone = gone[~isin(gone["setai_no"], notify)]
    return notify, gone.groupby("setai_no")["occurred_at"].max().to_dict()


def _last_day_in_use(start: pd.Series, end: pd.Series, day: date) -> pd.Series:
    """The last day up to `day` on which a period [start, end) was in use (end exclusive, as
    households.dates.active reads the sources); NaT when it was not in use on any day up to `day`."""
    today = pd.Timestamp(day)
    last = (end - pd.Timedelta(days=1)).where(end.notna() & (end <= today), today)
    return last.where((start <= today) & (last >= start))


def responses(session: Session, day: date, residents: pd.DataFrame, codes: dict[str, str]) -> pd.DataFrame:
    """setai_no, rule_id, responded_on, online: an online application with the rule's procedure code
    (its day; online True), or a service received (online False; responded_on is the last day up to
    `day` it was in use, so a household that took the service up after a notice stays responded when
    it later ends or the fiscal year turns): 就学援助 certified (in use until 取消日 or the end of its
    年度), 児童扶養手当 recipient (until 資格喪失日), 居宅介護/重度訪問介護 granted (until 支給決定終了日),
    訪問介護 used (a claim counts as in use for CARE_CLAIM_MONTHS months after its month, as claims arrive
    late). A service already in use when the notice was sent counts too: the household receives it."""
    from notifier.ingest.load import load_source
    from notifier.linkage.run import confirmed_links
    engine = session.get_bind()
    by_person = []
    online = load_source(engine, "online_shinsei", ["atena_no", "procedure_code", "applied_at"])
    online = online[online["applied_at"] < pd.Timestamp(day) + pd.Timedelta(days=1)]
    for rule_id, code in codes.items():
        hit = online[online["procedure_code"] == code]
        by_person.append(pd.DataFrame({"atena_no": hit["atena_no"], "rule_id": rule_id,
                                       "responded_on": hit["applied_at"].dt.normalize(), "online": True}))
    service_rules = {code: [r for r, c in codes.items() if c == code] for code in set(codes.values())}
    used = []                                   # (procedure code, atena_no, last day in use)
    if service_rules.get("shugaku_enjo"):
        se = load_source(engine, "shugaku_enjo", ["pupil_id", "fiscal_year", "certified_on", "cancelled_on"])
        se = se[se["fiscal_year"].notna()]
        fy_end = pd.to_datetime((se["fiscal_year"].astype("int64") + 1).astype(str) + "-04-01")
        until = se["cancelled_on"].where(se["cancelled_on"].notna() & (se["cancelled_on"] < fy_end), fy_end)
        se = se.assign(last=_last_day_in_use(se["certified_on"], until, day)).merge(confirmed_links(engine),
                                                                                     on="pupil_id")
        used.append(("shugaku_enjo", se["atena_no"], se["last"]))
    if service_rules.get("jido_fuyo_teate"):
        jf = load_source(engine, "jido_fuyo_teate", ["atena_no", "certified_on", "lost_on"])
        used.append(("jido_fuyo_teate", jf["atena_no"], _last_day_in_use(jf["certified_on"], jf["lost_on"], day)))
    if service_rules.get("home_helper"):
        ss = load_source(engine, "shogai_service", ["atena_no", "service_kind", "start_on", "end_on"])
        ss = ss[ss["service_kind"].isin(HOME_HELP_DISABILITY)]
        used.append(("home_helper", ss["atena_no"], _last_day_in_use(ss["start_on"], ss["end_on"], day)))
        ks = load_source(engine, "kaigo_service", ["atena_no", "service_kind", "service_month"])
        # The kind itself, as the rule's no_service_use reads it: 夜間対応型訪問介護 and 定期巡回・随時対応型
        # 訪問介護看護 are other services, though their names contain 訪問介護.
        ks = ks[ks["service_kind"] == HOME_HELP_CARE]
        used.append(("home_helper", ks["atena_no"], _last_day_in_use(
            ks["service_month"], ks["service_month"] + pd.DateOffset(months=CARE_CLAIM_MONTHS + 1), day)))
    for code, atena, last in used:
        hit = last.notna().to_numpy()
        by_person += [pd.DataFrame({"atena_no": atena[hit].to_numpy(), "rule_id": r,
                                    "responded_on": last[hit].to_numpy(), "online": False})
                      for r in service_rules[code]]
    people = pd.concat(by_person, ignore_index=True) if by_person else pd.DataFrame(
        columns=["atena_no", "rule_id", "responded_on", "online"])
    out = people.merge(residents, on="atena_no")[["setai_no", "rule_id", "responded_on", "online"]]
    out["responded_on"] = pd.to_datetime(out["responded_on"]).dt.date
    return out


def run_followup(session: Session, day: date, *, actor, public_base_url: str) -> FollowupResult:
    from notifier.outbox.enqueue import enqueue_reminders
    result = FollowupResult(as_of=day.isoformat())
    rows = session.execute(select(Notice.id, Notice.setai_no, Notice.rule_id, Notice.rule_version_id,
                                  Notice.first_sent_at, Notice.match_id)
                           .where(Notice.kind == "notice", Notice.first_sent_at.is_not(None),
                                  Notice.as_of <= day)).all()
    notices = pd.DataFrame(rows, columns=["id", "setai_no", "rule_id", "rule_version_id", "first_sent_at", "match_id"])
    rules = {}
    for rule_id in sorted(set(notices["rule_id"])):
        pair = active_pair(session, rule_id)
        if pair is not None:
            rules[rule_id] = pair[1]
    notices = notices[notices["rule_id"].isin(list(rules))].copy()
    notices["sent_on"] = [_jst_day(t) for t in notices["first_sent_at"]]
    notices = notices[notices["sent_on"] <= day]
    notices["reminder_days"] = notices["rule_id"].map(lambda r: rules[r].followup.reminder_days)
    notices["nonresponder_days"] = notices["rule_id"].map(lambda r: rules[r].followup.nonresponder_days)
    result.notices_followed = len(notices)

    residents = current_households(session, day)
    current = set(residents["setai_no"])
    notify, withdrawn_at = _consent(session, residents)
    resp = responses(session, day, residents, {r: rules[r].procedure_code for r in rules})
    reminded = dict(session.execute(select(Notice.reminder_of, Notice.id).where(Notice.kind == "reminder")).all())
    cased = set(session.scalars(select(OutreachCase.notice_id).where(OutreachCase.notice_id.is_not(None))))
    open_rows = session.execute(select(OutreachCase.id, OutreachCase.setai_no, OutreachCase.rule_id,
                                       Notice.first_sent_at, OutreachCase.consent_withdrawn_at)
                                .join(Notice, Notice.id == OutreachCase.notice_id, isouter=True)
                                .where(OutreachCase.status == "open")).all()
    open_cases = pd.DataFrame(open_rows, columns=["case_id", "setai_no", "rule_id", "first_sent_at",
                                                  "consent_withdrawn_at"])
    open_cases["notice_sent_on"] = [_jst_day(t) if t is not None else day for t in open_cases["first_sent_at"]]

    d = decide(notices, resp, open_cases, day=day, current=current, notify=notify, reminded=reminded,
               cased_notices=cased)
    result.responded = len(d.responded)
    if len(d.remind):
        result.reminders = enqueue_reminders(session, day, [int(i) for i in d.remind], actor=actor,
                                             public_base_url=public_base_url)
    now = clock.now()
    label = audit.actor_label(actor)
    if len(d.open_cases):
        result.cases_opened = _open_cases(session, d.open_cases, notices, day, now, label, withdrawn_at)
    for outcome, group in d.close_cases.groupby("outcome"):
        ids = [int(i) for i in group["case_id"]]
        reason = "転出のため" if outcome == "転出" else "お知らせの後に申請・利用があったため"
        session.execute(update(OutreachCase).where(OutreachCase.id.in_(ids), OutreachCase.status == "open")
                        .values(status="closed", outcome=outcome, open_key=None, closed_at=now, close_reason=reason))
        # The same detail as a coordinator's close (the case page shows its reason), marked automatic.
        bulk.insert_frame(session.connection(), OutreachCaseEvent.__tablename__, bulk.iso_dates(pd.DataFrame({
            "case_id": ids, "kind": "closed",
            "detail": json.dumps({"reason": reason, "outcome": outcome, "automatic": True}, ensure_ascii=False),
            "actor": label, "at": pd.Timestamp(now)}), {"at"}))
        result.cases_closed[outcome] = len(ids)
    _note_withdrawals(session, open_cases[~open_cases["case_id"].isin(d.close_cases["case_id"])
                                          & isin(open_cases["setai_no"], current)], withdrawn_at)
    session.flush()
    result.open_cases = session.query(OutreachCase).filter(OutreachCase.status == "open").count()
    audit.record(session, "case_change", actor=actor, target_type="followup_run", target_id=day.isoformat(),
                 detail={"responded": result.responded, "reminders": result.reminders,
                         "cases_opened": result.cases_opened, "cases_closed": sum(result.cases_closed.values())})
    return result


def _note_withdrawals(session: Session, open_cases: pd.DataFrame, withdrawn_at: dict) -> None:
    """A withdrawal after a case opened is noted on the case (with when it happened), which goes on:
    the 要対協 check is not consent-based. A household that consents again is no longer shown so."""
    want = open_cases["setai_no"].map(withdrawn_at)
    have = open_cases["consent_withdrawn_at"]
    changed = (want.isna() != have.isna()) | (want.notna() & have.notna() & (want != have))
    if changed.any():
        session.execute(update(OutreachCase), [
            {"id": int(c), "consent_withdrawn_at": None if pd.isna(w) else pd.Timestamp(w).to_pydatetime()}
            for c, w in zip(open_cases.loc[changed, "case_id"], want[changed], strict=True)])


def _open_cases(session: Session, new: pd.DataFrame, notices: pd.DataFrame, day: date, now, label: str,
                withdrawn_at: dict) -> int:
    from notifier.outreach.cases import household_table, score_cases
    from notifier.outreach.routes import suggest_routes
    table = household_table(session, day)
    routes = suggest_routes(table, new["setai_no"]).set_index("setai_no")
    match_ids = notices.set_index("id")["match_id"].reindex(new["notice_id"]).dropna().astype(int).tolist()
    reasons = dict(session.execute(select(EligibilityMatch.id, EligibilityMatch.reasons)
                                   .where(EligibilityMatch.id.in_(match_ids))).all()) if match_ids else {}
    match_of = notices.set_index("id")["match_id"]
    frame = pd.DataFrame({
        "open_key": new["setai_no"] + "|" + new["rule_id"], "setai_no": new["setai_no"], "rule_id": new["rule_id"],
        "rule_version_id": new["rule_version_id"].astype(int), "notice_id": new["notice_id"].astype(int),
        "reminder_notice_id": pd.array(new["reminder_notice_id"], dtype="Int64"),
        "reasons": [reasons.get(int(m)) if pd.notna(m) else None for m in match_of.reindex(new["notice_id"])],
        "route": routes["route"].reindex(new["setai_no"]).fillna("csw").to_numpy(),
        "school_code": routes["school_code"].reindex(new["setai_no"]).to_numpy(),
        "school_name": routes["school_name"].reindex(new["setai_no"]).to_numpy(),
        "legal_basis": OUTREACH_LEGAL_BASIS, "status": "open", "as_of": day.isoformat(), "priority_points": 0,
        "opened_at": pd.Timestamp(now),
        "consent_withdrawn_at": [pd.Timestamp(withdrawn_at[s]) if s in withdrawn_at else pd.NaT
                                 for s in new["setai_no"]],
    })
    frame["consent_withdrawn_at"] = pd.to_datetime(frame["consent_withdrawn_at"])
    bulk.insert_frame(session.connection(), OutreachCase.__tablename__,
                      bulk.iso_dates(frame, {"opened_at", "consent_withdrawn_at"}))
    ids = dict(session.execute(select(OutreachCase.notice_id, OutreachCase.id)
                               .where(OutreachCase.notice_id.in_(frame["notice_id"].tolist()))).all())
    events = pd.DataFrame({
        "case_id": [ids[int(n)] for n in frame["notice_id"]], "kind": "opened",
        "detail": [json.dumps({"route": r, "consent_note": CASE_CONSENT_NOTE if s in withdrawn_at else None},
                              ensure_ascii=False) for r, s in zip(frame["route"], frame["setai_no"], strict=True)],
        "actor": label, "at": pd.Timestamp(now)})
    bulk.insert_frame(session.connection(), OutreachCaseEvent.__tablename__, bulk.iso_dates(events, {"at"}))
    score_cases(session, pd.DataFrame({"id": events["case_id"], "setai_no": frame["setai_no"].to_numpy()}), day,
                table=table)
    return len(frame)
