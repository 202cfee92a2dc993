"""A consent withdrawal after an outreach case opened: reminders stop, the case goes on (the 要対協
check is not consent-based) and says so on its page, with when the household withdrew; a household
that consents again is no longer shown as withdrawn, and one that never consented never is."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from notifier import clock
from notifier.models import ConsentEvent, OutreachCase
from tests.factories import create_staff, sign_in
from tests.followup.test_run import _run, notified  # noqa: F401 - the notified fixture
from tests.outbox.builders import withdraw
from tests.outreach.casework import user

NOTE = "要対協での見守りは同意に基づくものではないため、ケースは続きます。"


def _page(app, client, case_id) -> str:
    resp = client.get(f"/outreach/cases/{case_id}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _coordinator(app, username="coord"):
    client = app.test_client()
    with app.extensions["db_sessionmaker"]() as s:
        if user(s, username) is None:
            create_staff(s, username, ["coordinator"])
        sign_in(client, s, user(s, username))
    return client


def _cases(engine) -> dict[str, OutreachCase]:
    with engine.connect() as conn:
        return {c.setai_no: c for c in conn.execute(select(OutreachCase))}


def test_a_withdrawal_after_the_case_opened_keeps_the_case_and_the_page_says_why(notified):  # noqa: F811
    app, engine, atena = notified
    today = clock.today_jst()
    assert _run(app, today + timedelta(days=15)).reminders == 10
    assert _run(app, today + timedelta(days=31)).cases_opened == 10
    assert all(c.consent_withdrawn_at is None for c in _cases(engine).values())

    withdraw(engine, atena[0])
    with engine.connect() as conn:
        withdrew_at = conn.execute(select(ConsentEvent.occurred_at).where(
            ConsentEvent.atena_no == atena[0], ConsentEvent.action == "withdraw")).scalar_one()
    after = _run(app, today + timedelta(days=32))
    assert (after.cases_closed, after.open_cases, after.reminders) == ({}, 10, 0)
    cases = _cases(engine)
    mine = cases[f"8{atena[0]}"]
    assert mine.status == "open" and mine.outcome is None
    assert mine.consent_withdrawn_at == withdrew_at               # when the household withdrew, not the run
    assert all(c.consent_withdrawn_at is None for s, c in cases.items() if s != mine.setai_no)
    _run(app, today + timedelta(days=32))                         # a re-run changes nothing
    assert _cases(engine)[mine.setai_no].consent_withdrawn_at == withdrew_at

    client = _coordinator(app)
    page = _page(app, client, mine.id)
    assert NOTE in page and "通知の同意は" in page and "に撤回されています" in page
    other = cases[f"8{atena[1]}"]
    assert NOTE not in _page(app, client, other.id)

    # The household consents again: the case goes on, no longer marked withdrawn.
    with engine.begin() as conn:
        conn.execute(ConsentEvent.__table__.insert().values(
            atena_no=atena[0], scope="notify", action="grant", channel="LINE", occurred_at=clock.now(),
            recorded_at=clock.now()))
    _run(app, today + timedelta(days=33))
    again = _cases(engine)[mine.setai_no]
    assert again.status == "open" and again.consent_withdrawn_at is None
    assert NOTE not in _page(app, client, mine.id)


def test_a_case_opened_by_hand_for_a_household_that_never_consented_says_nothing_of_a_withdrawal(casework):
    app, ids, users = casework
    result = _run(app, clock.today_jst())
    assert result.open_cases == 3
    with app.extensions["db_sessionmaker"]() as s:
        assert [s.get(OutreachCase, i).consent_withdrawn_at for i in ids.values()] == [None, None, None]
    client = _coordinator(app, users["coordinator"])
    assert all(NOTE not in _page(app, client, i) for i in ids.values())
