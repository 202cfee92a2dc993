"""Follow-up through the database: notices that reached LINE (through the dispatcher and the
simulator), applications in online_shinsei for some households, then one reminder for the others,
outreach cases for those still silent (also after a withdrawal, never after a move), cases that close
by themselves, and re-runs that change nothing."""
from __future__ import annotations

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
