"""Follow-up through the database: notices that reached LINE (through the dispatcher and the
simulator), applications in online_shinsei for some households, then one reminder for the others,
outreach cases for those still silent (also after a withdrawal, never after a move), cases that close
by themselves, and re-runs that change nothing."""
from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from notifier import audit, clock
from notifier.contract import CASE_OUTCOMES, OUTREACH_LEGAL_BASIS
from notifier.followup.run import run_followup
from notifier.line.client import LineClient
from notifier.models import Notice, OutreachCase, OutreachCaseEvent
from notifier.outbox import dispatch as d
from tests.conftest import LINE_TOKEN
from tests.factories import import_sources
from tests.outbox.builders import queue, withdraw

ACTOR = audit.Actor(label="test")


def _jumin(atena):
    return [{"宛名番号": a, "世帯番号": f"8{a}", "続柄": "世帯主", "氏名カナ": "イズミ ハナコ", "生年月日": "1985-04-01",
             "性別": "2", **({"消除日": moved[a], "消除事由": "転出"} if a in moved else {})} for a in atena]


moved: dict[str, str] = {}


def _import(app, tmp_path, atena, applications, n):
    import_sources(app, tmp_path / f"drop{n}", {"juminhyo": _jumin(atena), "online_shinsei": [
        {"申請ID": f"A{i:05d}", "申請者宛名番号": a, "手続きコード": "shugaku_enjo", "申請日時": f"{day} 10:00"}
        for i, (a, day) in enumerate(applications)]})


@pytest.fixture
def notified(line_stack, tmp_path, runner):
    """Ten households notified about 就学援助 today through the dispatcher (the real SDK → simulator)."""
    moved.clear()
    app = line_stack.app
    assert runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"]).exit_code == 0
    assert runner.invoke(args=["templates", "load", "templates/messages", "--activate"]).exit_code == 0
    atena = [f"{1000001 + i}" for i in range(10)]
    _import(app, tmp_path, atena, [], 0)
    users = [line_stack.sim.state.add_user(f"住民{i}", friend=True).user_id for i in range(10)]
    engine = app.extensions["db_engine"]
    queue(engine, atena, users)
    with LineClient(line_stack.sim_url, LINE_TOKEN) as client:
        assert d.dispatch(engine, client, quiet_hours=None, rate_per_second=None).sent == 10
    return app, engine, atena


def _run(app, day):
    s = app.extensions["db_sessionmaker"]()
    try:
        result = run_followup(s, day, actor=ACTOR, public_base_url="http://localhost:5000")
        s.commit()
        return result
    finally:
        s.close()


def test_reminders_then_cases_for_exactly_the_households_that_did_not_respond(notified, tmp_path):
    app, engine, atena = notified
    today = clock.today_jst()
    applied = atena[:4]
    _import(app, tmp_path, atena, [(a, (today + timedelta(days=3)).isoformat()) for a in applied]
            + [(atena[9], (today - timedelta(days=30)).isoformat())], 1)       # before the notice: no response

    early = _run(app, today + timedelta(days=13))
    assert (early.responded, early.reminders, early.cases_opened) == (4, 0, 0)
    at15 = _run(app, today + timedelta(days=15))
    assert (at15.responded, at15.reminders, at15.cases_opened) == (4, 6, 0)
    with engine.connect() as conn:
        reminded = set(conn.execute(select(Notice.setai_no).where(Notice.kind == "reminder")).scalars())
    assert reminded == {f"8{a}" for a in atena[4:]}
    assert _run(app, today + timedelta(days=15)).reminders == 0              # one reminder, not two

    withdraw(engine, atena[5])                   # stops nothing now: the case is not consent-based
    moved[atena[6]] = (today + timedelta(days=20)).isoformat()
    _import(app, tmp_path, atena, [(a, (today + timedelta(days=3)).isoformat()) for a in applied], 2)
    at31 = _run(app, today + timedelta(days=31))
    assert at31.cases_opened == 5 and at31.open_cases == 5
    with engine.connect() as conn:
        cases = conn.execute(select(OutreachCase)).all()
    by_household = {c.setai_no: c for c in cases}
    assert set(by_household) == {f"8{a}" for a in (atena[4], atena[5], atena[7], atena[8], atena[9])}
    assert all(c.route == "csw" and c.legal_basis == OUTREACH_LEGAL_BASIS and c.reminder_notice_id for c in cases)
    assert by_household[f"8{atena[5]}"].consent_withdrawn_at is not None
    assert by_household[f"8{atena[4]}"].consent_withdrawn_at is None

    again = _run(app, today + timedelta(days=31))
    assert (again.reminders, again.cases_opened, again.cases_closed) == (0, 0, {})

    # Household 8 applies late: its case closes as 申請につながった; household 9 moves out: 転出.
    moved[atena[9]] = (today + timedelta(days=35)).isoformat()
    _import(app, tmp_path, atena, [(a, (today + timedelta(days=3)).isoformat()) for a in applied]
            + [(atena[8], (today + timedelta(days=36)).isoformat())], 3)    # the export keeps past applications
    later = _run(app, today + timedelta(days=40))
    assert later.cases_closed == {"申請につながった": 1, "転出": 1} and later.open_cases == 3
    with engine.connect() as conn:
        outcomes = dict(conn.execute(select(OutreachCase.setai_no, OutreachCase.outcome)).all())
        events = Counter(conn.execute(select(OutreachCaseEvent.kind)).scalars())
    # one open case per household and rule, enforced by the database
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO outreach_cases (open_key, setai_no, rule_id, rule_version_id, route, "
                              "legal_basis, status, as_of, opened_at) SELECT open_key, setai_no, rule_id, "
                              "rule_version_id, route, legal_basis, status, as_of, opened_at FROM outreach_cases "
                              "WHERE status = 'open' LIMIT 1"))
    assert outcomes[f"8{atena[8]}"] == "申請につながった" and outcomes[f"8{atena[9]}"] == "転出"
    assert set(outcomes.values()) - {None} <= set(CASE_OUTCOMES)
    assert events == {"opened": 5, "closed": 2}


# --- a response through the service itself (rules.md "What a match does") ----------------------------
def _as_rule(app, engine, rule_id):
    """The fixture's notices (and their deliveries), as if they had been about `rule_id`."""
    from sqlalchemy import update

    from notifier.eligibility.dao import active_pair
    from notifier.models import Delivery
    with app.extensions["db_sessionmaker"]() as s:
        version = active_pair(s, rule_id)[0].id
    with engine.begin() as conn:
        for table in (Notice, Delivery):
            conn.execute(update(table).values(rule_id=rule_id, rule_version_id=version))


def _families(atena):
    """Each household of the fixture with a pupil (宛名番号 6NNNNNN, 小4) beside its parent."""
    children = [{"宛名番号": f"6{a[1:]}", "世帯番号": f"8{a}", "続柄": "子", "氏名カナ": "イズミ タロウ",
                 "生年月日": f"2016-05-{i + 1:02d}", "性別": "1"} for i, a in enumerate(atena)]
    roster = [{"児童生徒番号": f"P{a}", "氏名カナ": "イズミ タロウ", "生年月日": f"2016-05-{i + 1:02d}", "性別": "1",
               "住所コード": "272191000101", "学校コード": "S01", "学校名": "和泉市立第一小学校", "学年": "4"}
              for i, a in enumerate(atena)]
    return _jumin(atena) + children, roster


def _fy(start, today):
    """The 年度 a certification is for: this year's for one made earlier, else its own."""
    return clock.fiscal_year(max(start, today))


# kind → (rule, source, a row for household `a` with the service from `start` until `end` (None: ongoing))
SERVICES = {
    "就学援助": ("shugaku_enjo", "shugaku_enjo", lambda a, start, end, today: {
        "児童生徒番号": f"P{a}", "認定年度": str(_fy(start, today)), "認定区分": "準要保護",
        "認定日": start.isoformat(), "取消日": end.isoformat() if end else ""}),
    "児童扶養手当": ("hitorioya", "jido_fuyo_teate", lambda a, start, end, today: {
        "受給者宛名番号": a, "支給区分": "一部支給", "認定日": start.isoformat(),
        "資格喪失日": end.isoformat() if end else ""}),
    "居宅介護・重度訪問介護": ("home_helper", "shogai_service", lambda a, start, end, today: {
        "宛名番号": a, "サービス種類": "重度訪問介護" if a.endswith("3") else "居宅介護",
        "支給決定開始日": start.isoformat(), "支給決定終了日": end.isoformat() if end else ""}),
}


@pytest.mark.parametrize("kind", list(SERVICES))
def test_a_household_that_now_receives_the_service_has_responded(notified, tmp_path, kind):
    """After the notice the service record appears: no reminder, no case; an open case closes as
    申請につながった. A service already in use when the notice was sent counts too (rules.md: "the
    service is now received" — the household has it, so neither a reminder nor a 要対協 check is
    called for). One that ended before the send does not; one taken up after the notice and ended
    since still does (the household responded; it must not become a case later)."""
    from notifier.linkage.run import run_linkage
    app, engine, atena = notified
    rule_id, source, row = SERVICES[kind]
    _as_rule(app, engine, rule_id)
    today = clock.today_jst()

    def day(n):
        return today + timedelta(days=n)
    jumin, roster = _families(atena)
    periods = {0: (day(3), None),                      # after the notice, ongoing
               1: (day(-60), None),                    # before the send, ongoing: counts
               2: (day(3), day(20)),                   # after the notice, ended before day 31: counts
               3: (day(-400), day(-30)),               # ended before the send: not a response
               4: (day(33), None)}                     # after the case opened: closes it

    def send(n, *households):
        rows = [row(atena[h], *periods[h], today) for h in households]
        import_sources(app, tmp_path / f"service{n}", {"juminhyo": jumin, "gakureibo": roster, source: rows})
        run_linkage(engine, today)
    send(0, 1, 3)                                      # what the city's system held at the send
    at13 = _run(app, day(13))
    assert (at13.responded, at13.reminders, at13.cases_opened) == (1, 0, 0)
    send(1, 0, 1, 2, 3)
    at15 = _run(app, day(15))
    assert (at15.responded, at15.reminders, at15.cases_opened) == (3, 7, 0)
    at31 = _run(app, day(31))
    assert (at31.responded, at31.reminders, at31.cases_opened) == (3, 0, 7)
    with engine.connect() as conn:
        reminded = set(conn.execute(select(Notice.setai_no).where(Notice.kind == "reminder")).scalars())
        cased = set(conn.execute(select(OutreachCase.setai_no)).scalars())
    silent = {f"8{atena[h]}" for h in (3, 4, 5, 6, 7, 8, 9)}
    assert reminded == silent and cased == silent and all(c.rule_id == rule_id for c in _cases(engine))

    send(2, 0, 1, 2, 3, 4)
    at40 = _run(app, day(40))
    assert at40.cases_closed == {"申請につながった": 1} and at40.open_cases == 6 and at40.responded == 4
    closed = [c for c in _cases(engine) if c.status == "closed"]
    assert [(c.setai_no, c.outcome) for c in closed] == [(f"8{atena[4]}", "申請につながった")]
    with engine.connect() as conn:
        event = conn.execute(select(OutreachCaseEvent.detail).where(OutreachCaseEvent.kind == "closed")).scalar_one()
    detail = event if isinstance(event, dict) else json.loads(event)
    assert detail["reason"] == closed[0].close_reason and detail["automatic"]   # the page shows the reason
    again = _run(app, day(40))
    assert (again.reminders, again.cases_opened, again.cases_closed) == (0, 0, {})
    # The next 年度: a certification (or any service) taken up after the notice still counts.
    later = _run(app, day(400))
    assert (later.cases_opened, later.cases_closed) == (0, {})


def _cases(engine):
    with engine.connect() as conn:
        return conn.execute(select(OutreachCase).order_by(OutreachCase.id)).all()


def test_home_help_under_care_insurance_is_a_response_only_as_訪問介護(notified, tmp_path):
    """A 訪問介護 claim (介護保険) counts as the service in use for the three months the rule looks back
    at; 夜間対応型訪問介護 is another service, though its name contains 訪問介護."""
    app, engine, atena = notified
    _as_rule(app, engine, "home_helper")
    today = clock.today_jst()
    month = f"{today:%Y-%m}"
    old = (today.replace(day=1) - timedelta(days=150)).strftime("%Y-%m")
    import_sources(app, tmp_path / "kaigo", {"juminhyo": _jumin(atena), "kaigo_service": [
        {"宛名番号": atena[0], "サービス種類": "訪問介護", "サービス提供年月": month},
        {"宛名番号": atena[1], "サービス種類": "夜間対応型訪問介護", "サービス提供年月": month},
        {"宛名番号": atena[2], "サービス種類": "定期巡回・随時対応型訪問介護看護", "サービス提供年月": month},
        {"宛名番号": atena[3], "サービス種類": "訪問介護", "サービス提供年月": old}]})   # before the send
    at15 = _run(app, today + timedelta(days=15))
    assert (at15.responded, at15.reminders) == (1, 9)
    with engine.connect() as conn:
        reminded = set(conn.execute(select(Notice.setai_no).where(Notice.kind == "reminder")).scalars())
    assert f"8{atena[0]}" not in reminded and {f"8{atena[h]}" for h in (1, 2, 3)} <= reminded
