"""Business dates are Asia/Tokyo; timestamps are stored as naive UTC. Conversions live here."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def today_jst(now: datetime | None = None) -> date:
    now = now or datetime.now(timezone.utc)
    return now.astimezone(JST).date()


def jst_date_to_utc_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), JST).astimezone(timezone.utc).replace(tzinfo=None)


def utc_to_jst(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=timezone.utc).astimezone(JST)


def fiscal_year(day: date) -> int:
    """FY(D): April 1 to March 31 (2026-05-10 → 2026, 2026-03-31 → 2025)."""
    return day.year if day.month >= 4 else day.year - 1
