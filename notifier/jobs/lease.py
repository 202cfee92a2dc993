"""Leases in the database: whoever holds an unexpired lease of a name may act (リース).

Only one scheduler runs the jobs even when two are started on two hosts, and only one `daily` runs
at a time. A holder renews its lease while alive (a heartbeat); when it dies the lease expires and the
next one takes over. Acquiring is one conditional UPDATE (or INSERT) whose row count says who won, so
it holds on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from notifier import clock
from notifier.models import Lease


def holder_id() -> str:
    """host:pid:random — unique per process, readable on the operations page."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def try_acquire(engine: Engine, name: str, holder: str, ttl: float) -> bool:
    """Take (or renew) the lease if it is ours, expired or not there yet; True when we hold it."""
    now = clock.now()
    expires = now + timedelta(seconds=ttl)
    table = Lease.__table__
    with engine.begin() as conn:
        if conn.execute(update(table).where(table.c.name == name, table.c.holder == holder)
                        .values(renewed_at=now, expires_at=expires)).rowcount:
            return True                                     # renewed
        if conn.execute(update(table).where(table.c.name == name, table.c.expires_at < now)
                        .values(holder=holder, acquired_at=now, renewed_at=now, expires_at=expires)).rowcount:
            return True                                     # taken over from a holder that stopped renewing
        if conn.execute(select(table.c.name).where(table.c.name == name)).first():
            return False                                    # someone else holds it
    try:
        with engine.begin() as conn:
            conn.execute(insert(table).values(name=name, holder=holder, acquired_at=now, renewed_at=now,
                                              expires_at=expires))
        return True
    except IntegrityError:                                  # another process inserted it first
        return False


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop), so a standby need not wait for it to expire."""
    table = Lease.__table__
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.name == name, table.c.holder == holder)
                     .values(expires_at=clock.now() - timedelta(seconds=1)))


def current(engine: Engine, name: str) -> Lease | None:
    with engine.connect() as conn:
        row = conn.execute(select(Lease.__table__).where(Lease.__table__.c.name == name)).mappings().first()
    return None if row is None else Lease(**row)


class Held:
    """Hold a lease for the life of a block, renewing it from a background thread.

    `lost` is set when a renewal finds the lease taken by someone else (our process stalled past the
    expiry); the holder should stop acting.
    """

    def __init__(self, engine: Engine, name: str, *, ttl: float = 30.0, renew_every: float = 10.0,
                 holder: str | None = None):
        self.engine, self.name, self.ttl, self.renew_every = engine, name, ttl, renew_every
        self.holder = holder or holder_id()
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not try_acquire(self.engine, self.name, self.holder, self.ttl):
            return False
        self._thread = threading.Thread(target=self._renew, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.renew_every):
            try:
                if not try_acquire(self.engine, self.name, self.holder, self.ttl):
                    self.lost.set()
                    return
            except Exception:  # noqa: BLE001 - a database hiccup: try again at the next beat
                continue

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not self.lost.is_set():
            release(self.engine, self.name, self.holder)
