"""The follow-up decisions, day by day (pure): exactly reminder_days, one reminder, a response before
the send does not count, a withdrawal stops the reminder but not the case, a move stops both."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from notifier.followup.decide import decide

SENT = date(2026, 7, 1)


def notices(*setai):
    return pd.DataFrame({"id": range(1, len(setai) + 1), "setai_no": list(setai), "rule_id": "r",
                         "rule_version_id": 1, "sent_on": SENT, "reminder_days": 14, "nonresponder_days": 30})


NO_CASES = pd.DataFrame(columns=["case_id", "setai_no", "rule_id", "notice_sent_on"])
NONE = pd.DataFrame(columns=["setai_no", "rule_id", "responded_on"])


def run(n, day, responses=NONE, cases=NO_CASES, current=("a", "b", "c"), notify=("a", "b", "c"), reminded=None,
        cased=()):
    return decide(n, responses, cases, day=SENT + timedelta(days=day), current=set(current), notify=set(notify),
                  reminded=reminded or {}, cased_notices=set(cased))


def test_the_reminder_comes_on_exactly_reminder_days_and_only_once():
    n = notices("a")
    assert list(run(n, 13).remind) == []
    assert list(run(n, 14).remind) == [1]
    assert list(run(n, 15, reminded={1: 9}).remind) == []


def test_a_response_before_the_send_does_not_count_one_after_does():
    n = notices("a", "b")
    responses = pd.DataFrame({"setai_no": ["a", "b"], "rule_id": "r",
                              "responded_on": [SENT - timedelta(days=1), SENT + timedelta(days=2)]})
    d = run(n, 14, responses)
    assert list(d.responded) == [2] and list(d.remind) == [1]


def test_a_withdrawal_stops_the_reminder_but_not_the_case_and_a_move_stops_both():
    n = notices("a", "b")
    assert list(run(n, 14, notify=("a",)).remind) == [1]
    cases = run(n, 30, notify=("a",), current=("a", "b")).open_cases
    assert list(cases["setai_no"]) == ["a", "b"] and list(cases["withdrawn"]) == [False, True]
    moved = run(n, 30, current=("a",))
    assert list(moved.open_cases["setai_no"]) == ["a"] and list(run(n, 14, current=("a",)).remind) == [1]


def test_never_a_second_case_for_the_pair_or_the_notice_and_open_cases_close_themselves():
    n = notices("a", "b", "c")
    cases = pd.DataFrame({"case_id": [7, 8], "setai_no": ["a", "b"], "rule_id": "r", "notice_sent_on": SENT})
    responses = pd.DataFrame({"setai_no": ["b"], "rule_id": "r", "responded_on": [SENT + timedelta(days=33)]})
    d = run(n, 35, responses, cases, current=("b", "c"), cased=(3,))
    assert d.open_cases.empty                        # a has an open case, c's notice already had one
    assert sorted(map(tuple, d.close_cases.to_numpy())) == [(7, "転出"), (8, "申請につながった")]
