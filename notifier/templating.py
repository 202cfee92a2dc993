"""Jinja filters shared by staff pages (JST display of UTC timestamps, numbers)."""
from __future__ import annotations

from flask import Flask

from notifier.clock import utc_to_jst


def _jst(ts, fmt: str = "%Y-%m-%d %H:%M") -> str:
    local = utc_to_jst(ts)
    return "" if local is None else local.strftime(fmt)


def _num(value) -> str:
    return "" if value is None else f"{value:,}"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["jst"] = _jst
    app.jinja_env.filters["num"] = _num
