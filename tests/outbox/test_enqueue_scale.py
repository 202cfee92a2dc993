"""Enqueue at city scale: tens of thousands of matches in seconds (set-based, bulk inserts)."""
from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import func, select

from notifier import audit
from notifier.models import Delivery, Notice
from notifier.outbox.enqueue import enqueue
from tests.factories import matched_households

N = 30_000


@pytest.mark.slow
def test_it_enqueues_30000_matches_in_seconds(app, tmp_path, capsys):
    matched_households(app, tmp_path / "city", N)
    maker = app.extensions["db_sessionmaker"]
    with maker() as s:
        t = time.perf_counter()
        result = enqueue(s, date(2026, 11, 2), actor=audit.Actor.operator(), public_base_url="https://n.example.jp")
        s.commit()
        first = time.perf_counter() - t
    assert (result.notices, result.deliveries) == (N, N)
    with maker() as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == N
        assert s.scalar(select(func.count(func.distinct(Delivery.retry_key)))) == N
        t = time.perf_counter()
        again = enqueue(s, date(2026, 11, 2), actor=audit.Actor.operator(), public_base_url="https://n.example.jp")
        rerun = time.perf_counter() - t
    assert again.notices == 0 and again.already_notified == N
    with capsys.disabled():
        print(f"\n[enqueue scale] {s.bind.dialect.name}: {N:,} matches → {first:.1f} s; re-run {rerun:.1f} s")
    assert first < 30 and rerun < 20
