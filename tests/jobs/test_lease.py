"""Leases: one holder at a time, renewed while alive, taken over once expired."""
from __future__ import annotations

import datetime as dt
import threading

import time_machine

from notifier.jobs import lease


def test_one_holder_at_a_time_until_it_expires_or_is_released(app):
    engine = app.extensions["db_engine"]
    t0 = dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC)
    with time_machine.travel(t0, tick=False):
        assert lease.try_acquire(engine, "scheduler", "A", ttl=30)
        assert not lease.try_acquire(engine, "scheduler", "B", ttl=30)
        assert lease.try_acquire(engine, "scheduler", "A", ttl=30)          # renewal
    with time_machine.travel(t0 + dt.timedelta(seconds=29), tick=False):
        assert not lease.try_acquire(engine, "scheduler", "B", ttl=30)
    with time_machine.travel(t0 + dt.timedelta(seconds=31), tick=False):
        assert lease.try_acquire(engine, "scheduler", "B", ttl=30)           # A stopped renewing
        assert not lease.try_acquire(engine, "scheduler", "A", ttl=30)
        current = lease.current(engine, "scheduler")
        assert current.holder == "B" and current.acquired_at == t0.replace(tzinfo=None) + dt.timedelta(seconds=31)
        lease.release(engine, "scheduler", "B")
        assert lease.try_acquire(engine, "scheduler", "A", ttl=30)           # released: free at once


def test_many_contenders_get_exactly_one_winner(app):
    engine = app.extensions["db_engine"]
    winners, barrier = [], threading.Barrier(8)

    def contend(name):
        barrier.wait()
        if lease.try_acquire(engine, "daily", name, ttl=30):
            winners.append(name)
    threads = [threading.Thread(target=contend, args=(f"p{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and lease.current(engine, "daily").holder == winners[0]


def test_a_held_lease_is_renewed_in_the_background_and_reports_when_lost(app):
    engine = app.extensions["db_engine"]
    held = lease.Held(engine, "scheduler", ttl=0.6, renew_every=0.1, holder="A")
    assert held.acquire()
    try:
        threading.Event().wait(1.0)                         # longer than the TTL: renewals kept it
        assert not lease.try_acquire(engine, "scheduler", "B", ttl=1)
        with engine.begin() as conn:                        # someone else takes it (A stalled)
            conn.execute(lease.Lease.__table__.update().values(holder="B"))
        threading.Event().wait(0.4)
        assert held.lost.is_set()
    finally:
        held.release()
    assert lease.current(engine, "scheduler").holder == "B"       # a lost lease is not released
