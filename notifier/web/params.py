"""Reading request parameters that people (and anyone else) type: page numbers and dates, bounded.

A value the service cannot use is refused here, with a Japanese message, before it reaches a date
calculation or the database (where 9999-12-31 + 1 day or a 25-digit number would raise).
"""
from __future__ import annotations

import datetime as dt
import unicodedata

from notifier.web import bad_request

PAGE_MAX = 100_000
# Business dates the service can compute with (ages, fiscal years, next-day bounds).
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2099, 12, 31)
DATE_SHAPE = "日付は 2026-04-01 の形で入力してください。"
DATE_RANGE = f"日付は {DATE_MIN.isoformat()} から {DATE_MAX.isoformat()} までの間で入力してください。"


def page_number(raw: str | None) -> int:
    """?page=N: 1 when absent; a 400 page for anything but a number from 1 to PAGE_MAX."""
    if raw is None or raw == "":
        return 1
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6 or not 1 <= int(text) <= PAGE_MAX:
        raise bad_request(f"ページ番号は 1 から {PAGE_MAX:,} までの数字で指定してください。")
    return int(text)


def business_date(raw: str | None) -> tuple[dt.date | None, str | None]:
    """A typed date (full-width digits allowed) → (date, None); (None, None) when empty; (None, message)
    when it is not a date or outside DATE_MIN..DATE_MAX."""
    if raw is None or raw.strip() == "":
        return None, None
    text = unicodedata.normalize("NFKC", raw).strip()
    try:
        if len(text) != 10 or not text.isascii():
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None, DATE_SHAPE
    if not DATE_MIN <= day <= DATE_MAX:
        return None, DATE_RANGE
    return day, None


def date_range(args, since_key: str = "from", until_key: str = "to") -> tuple[dt.date | None, dt.date | None]:
    """?from=…&to=… as two business dates (either may be absent); a 400 page when one is unusable."""
    since, err_since = business_date(args.get(since_key))
    until, err_until = business_date(args.get(until_key))
    if err_since or err_until:
        raise bad_request(err_since or err_until)
    return since, until
