"""The one way the service reads time, and the business calendar (JST dates, UTC storage, fiscal year).

Business dates are Asia/Tokyo; timestamps are stored as naive UTC. Code asks this module for the
time (`now()`, `now_jst()`, `today_jst()`, `timestamp()`), never the standard library's clock,
so a test can freeze it (time-machine) and a replay can set it (`at(...)`, e.g. `notify dispatch
--now "2026-07-01 10:00"`). Elapsed-time measurements (`time.monotonic`) are not clock reads.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
UTC = UTC

# A fixed instant set by `at()` for a replay (aware UTC); None reads the real clock.
_fixed: ContextVar[datetime | None] = ContextVar("notifier_clock_fixed", default=None)


def _aware() -> datetime:
    fixed = _fixed.get()
    return fixed if fixed is not None else datetime.now(UTC)


def now() -> datetime:
    """The current instant as naive UTC: the form every timestamp is stored in."""
    return _aware().replace(tzinfo=None)


def now_jst() -> datetime:
    """The current instant, aware, in Japan time."""
    return _aware().astimezone(JST)


def today_jst() -> date:
    return now_jst().date()


def timestamp() -> float:
    """Seconds since the epoch (for TOTP steps and token expiry)."""
    fixed = _fixed.get()
    return fixed.timestamp() if fixed is not None else time.time()


def wall_seconds() -> float:
    """Real seconds since the epoch, even inside `at()`: for what several processes share in real
    time (the send rate's bucket), which a replayed instant must not stop."""
    return time.time()


@contextmanager
def at(instant: datetime) -> Iterator[None]:
    """Read `instant` as the current time inside the block (naive values are taken as JST)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=JST)
    token = _fixed.set(instant.astimezone(UTC))
    try:
        yield
    finally:
        _fixed.reset(token)


# --- conversions ---------------------------------------------------------------------------------
def jst_date_to_utc_start(day: date) -> datetime:
    """00:00 JST of `day` as naive UTC (the lower bound of that business day)."""
    return datetime.combine(day, time_of_day(0, 0), JST).astimezone(UTC).replace(tzinfo=None)


def jst_to_utc(local: datetime) -> datetime:
    """A naive JST wall-clock time → naive UTC."""
    return local.replace(tzinfo=JST).astimezone(UTC).replace(tzinfo=None)


def utc_to_jst(ts: datetime | None) -> datetime | None:
    """A stored naive-UTC timestamp → aware JST (None stays None)."""
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC).astimezone(JST)


# --- the business calendar -----------------------------------------------------------------------
def fiscal_year(day: date) -> int:
    """年度 FY(D): April 1 to March 31 (2026-05-10 → 2026, 2026-03-31 → 2025)."""
    return day.year if day.month >= 4 else day.year - 1
