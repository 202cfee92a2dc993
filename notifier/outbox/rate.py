"""The push rate shared by every running dispatcher, on every host: a GCRA bucket in the database
(as Healthchecks and many rate limiters do). The `send_rates` row holds `tat`, the theoretical arrival
time of the next allowed send (epoch seconds). Taking k slots advances it atomically by k / rate; the
caller then sends the i-th message no earlier than start + i / rate. However many processes take
slots, the sends stay on one schedule, so their total never exceeds the rate.
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from notifier import clock

BUCKET = "push"


def unlimited(rate: float | None) -> bool:
    return rate is None or rate <= 0


def take(engine: Engine, k: int, rate: float, *, bucket: str = BUCKET) -> float:
    """Reserve `k` consecutive send slots; returns the epoch second of the first (the others follow
    every 1/rate seconds). One short transaction: the row is locked (PostgreSQL) or the database is
    (SQLite's single writer) while tat moves, so two dispatchers never get the same slot."""
    if k <= 0:
        return clock.wall_seconds()
    step = 1.0 / rate
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("INSERT INTO send_rates (name, tat) VALUES (:n, 0) ON CONFLICT (name) DO NOTHING"),
                         {"n": bucket})
            tat = conn.execute(text("SELECT tat FROM send_rates WHERE name = :n FOR UPDATE"), {"n": bucket}).scalar()
        else:
            # An UPDATE first makes this transaction SQLite's writer before it reads tat.
            updated = conn.execute(text("UPDATE send_rates SET tat = tat WHERE name = :n"), {"n": bucket}).rowcount
            if not updated:
                conn.execute(text("INSERT INTO send_rates (name, tat) VALUES (:n, 0)"), {"n": bucket})
            tat = conn.execute(text("SELECT tat FROM send_rates WHERE name = :n"), {"n": bucket}).scalar()
        now = clock.wall_seconds()
        start = max(float(tat or 0.0), now)
        conn.execute(text("UPDATE send_rates SET tat = :t WHERE name = :n"), {"t": start + k * step, "n": bucket})
    return start


def give_back(engine: Engine, k: int, rate: float, *, bucket: str = BUCKET) -> None:
    """Return `k` unused slots at the end of the schedule (a run that stopped early), never before now."""
    if k <= 0 or unlimited(rate):
        return
    with engine.begin() as conn:
        tat = conn.execute(text("SELECT tat FROM send_rates WHERE name = :n"), {"n": bucket}).scalar()
        if tat is None:
            return
        conn.execute(text("UPDATE send_rates SET tat = :t WHERE name = :n"),
                     {"t": max(clock.wall_seconds(), float(tat) - k / rate), "n": bucket})
