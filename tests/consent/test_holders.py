"""The dispatcher's SQL form of "holds notify now" agrees with consent.state over any history,
ties on the time included (broken by the event id)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from notifier.consent.holders import holding
from notifier.consent.state import person_state
from notifier.models import ConsentEvent

PEOPLE = ["0000000001", "0000000002", "0000000003"]
# (who, scope, action, minute): minutes repeat, so several events share a time; ids follow the list.
histories = st.lists(st.tuples(st.sampled_from(PEOPLE), st.sampled_from(["notify", "tax"]),
                               st.sampled_from(["grant", "withdraw"]), st.integers(0, 3)), max_size=14)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories)
def test_holding_agrees_with_person_state(db_session, history):
    db_session.execute(delete(ConsentEvent))
    rows = [{"id": i + 1, "atena_no": who, "scope": scope, "action": action,
             "occurred_at": datetime(2026, 4, 1, 10) + timedelta(minutes=minute), "channel": "窓口",
             "recorded_at": datetime(2026, 4, 2)}
            for i, (who, scope, action, minute) in enumerate(history)]
    if rows:
        db_session.execute(insert(ConsentEvent), rows)
    db_session.flush()
    events = pd.DataFrame([{k: r[k] for k in ("id", "atena_no", "scope", "action", "occurred_at")} for r in rows],
                          columns=["id", "atena_no", "scope", "action", "occurred_at"])
    state = person_state(events)
    expected = set(state.index[state["notify"]]) if len(state) else set()
    assert holding(db_session, PEOPLE) == expected
    assert holding(db_session, PEOPLE[:1]) == expected & {PEOPLE[0]}
    db_session.rollback()


def test_nobody_asked_nobody_holds(db_session):
    assert holding(db_session, []) == set()
