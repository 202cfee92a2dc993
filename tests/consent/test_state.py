"""The derived consent state: a property test over random event sequences, plus the household rule."""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.consent.state import household_state, person_state

actions = st.lists(st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["notify", "tax"]),
                             st.sampled_from(["grant", "withdraw"]), st.integers(0, 5)), max_size=30)


def apply_like_the_service(seq):
    """The service's writing rules: tax only with notify active; withdrawing notify withdraws tax."""
    rows, active = [], {}
    for n, (who, scope, action, minute) in enumerate(seq):
        when = datetime(2026, 4, 1) + timedelta(minutes=n)  # statements arrive in order
        if action == "grant" and scope == "tax" and not active.get((who, "notify")):
            continue
        scopes = ["notify", "tax"] if (action, scope) == ("withdraw", "notify") else [scope]
        for sc in scopes:
            if action == "withdraw" and not active.get((who, sc)):
                continue
            rows.append({"id": len(rows) + 1, "atena_no": who, "scope": sc, "action": action, "occurred_at": when})
            active[(who, sc)] = action == "grant"
    return pd.DataFrame(rows, columns=["id", "atena_no", "scope", "action", "occurred_at"])


@settings(max_examples=300, deadline=None)
@given(actions)
def test_state_is_the_last_event_per_scope_and_tax_never_without_notify(seq):
    events = apply_like_the_service(seq)
    state = person_state(events)
    for who in ("A", "B"):
        for scope in ("notify", "tax"):
            mine = events[(events.atena_no == who) & (events.scope == scope)]
            expected = bool(len(mine)) and mine.iloc[-1]["action"] == "grant"
            got = bool(state.loc[who, scope]) if who in state.index else False
            assert got == expected
        if who in state.index:
            assert not (state.loc[who, "tax"] and not state.loc[who, "notify"])


def test_ties_are_broken_by_recording_order():
    t = datetime(2026, 4, 1)
    events = pd.DataFrame([{"id": 2, "atena_no": "1", "scope": "notify", "action": "withdraw", "occurred_at": t},
                           {"id": 1, "atena_no": "1", "scope": "notify", "action": "grant", "occurred_at": t}])
    assert bool(person_state(events).loc["1", "notify"]) is False


def test_a_household_holds_a_scope_when_any_current_member_does():
    persons = pd.DataFrame({"notify": [True, False], "tax": [False, False]}, index=pd.Index(["1", "3"], name="atena_no"))
    residents = pd.DataFrame({"atena_no": ["1", "2", "3"], "setai_no": ["H1", "H1", "H2"]})
    state = household_state(persons, residents)
    assert state.loc["H1"].to_dict() == {"notify": True, "tax": False}
    assert state.loc["H2"].to_dict() == {"notify": False, "tax": False}
