"""Jinja filters shared by staff pages (JST display of UTC timestamps, numbers, who did something)."""
from __future__ import annotations

from flask import Flask, g

from notifier.clock import utc_to_jst


def _jst(ts, fmt: str = "%Y-%m-%d %H:%M") -> str:
    local = utc_to_jst(ts)
    return "" if local is None else local.strftime(fmt)


def _num(value) -> str:
    return "" if value is None else f"{value:,}"


def _who(label) -> str:
    """Who made a version or a change, as staff know them (the header's name, one per user): a staff
    user's display name with their login name when it differs, a command's operator, a job in words.
    Users are looked up once per request."""
    if not label:
        return ""
    from notifier.audit_presentation import ACTOR_LABELS, Names, actor_text
    if label in ACTOR_LABELS or label.startswith("cli:"):
        return actor_text(label, None, Names())
    known = g.setdefault("_staff_names", {})
    if label not in known:
        from sqlalchemy import select

        from notifier import db
        from notifier.models import StaffUser
        known[label] = db.session().scalar(select(StaffUser.display_name).where(StaffUser.username == label))
    display = known[label]
    return label if not display or display == label else f"{display}（{label}）"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["jst"] = _jst
    app.jinja_env.filters["num"] = _num
    app.jinja_env.filters["who"] = _who
