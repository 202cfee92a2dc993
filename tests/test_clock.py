"""The one clock: business dates in JST, timestamps in naive UTC, frozen by tests, set by replays."""
from __future__ import annotations

import datetime as dt

import time_machine

from notifier import clock


def test_a_frozen_test_clock_is_what_every_reader_sees():
    # 2026-03-31 15:30 UTC is already April 1 in Japan: a new fiscal year.
    with time_machine.travel(dt.datetime(2026, 3, 31, 15, 30, tzinfo=dt.UTC), tick=False):
        assert clock.now() == dt.datetime(2026, 3, 31, 15, 30)
        assert clock.now().tzinfo is None
        assert clock.today_jst() == dt.date(2026, 4, 1)
        assert clock.fiscal_year(clock.today_jst()) == 2026
        assert clock.timestamp() == dt.datetime(2026, 3, 31, 15, 30, tzinfo=dt.UTC).timestamp()


def test_a_replay_sets_the_time_in_jst():
    with clock.at(dt.datetime(2026, 7, 1, 10, 0)):          # naive = JST wall time
        assert clock.now_jst().strftime("%Y-%m-%d %H:%M") == "2026-07-01 10:00"
        assert clock.now() == dt.datetime(2026, 7, 1, 1, 0)
    assert clock.now() != dt.datetime(2026, 7, 1, 1, 0)


def test_conversions_between_business_days_and_stored_timestamps():
    assert clock.jst_date_to_utc_start(dt.date(2026, 4, 1)) == dt.datetime(2026, 3, 31, 15, 0)
    assert clock.jst_to_utc(dt.datetime(2026, 4, 1, 9, 0)) == dt.datetime(2026, 4, 1, 0, 0)
    assert clock.utc_to_jst(dt.datetime(2026, 4, 1, 0, 0)).hour == 9 and clock.utc_to_jst(None) is None
    assert (clock.fiscal_year(dt.date(2026, 3, 31)), clock.fiscal_year(dt.date(2026, 4, 1))) == (2025, 2026)
