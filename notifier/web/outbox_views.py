"""The residents' one-tap link `/r/<token>`: record the open and go to the application form.

Public (no staff session). A token that was altered, has expired or names no delivery gets a kind
page with the city's general link (404, or 410 when expired); nothing about the token is logged.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, render_template

from notifier import db
from notifier.outbox.links import LinkInvalid
from notifier.outbox.opens import open_link
from notifier.web import public

bp = Blueprint("outbox", __name__)


@bp.get("/r/<token>")
@public
def follow_link(token: str):
    try:
        with db.transaction() as s:
            url = open_link(s, token, secret=current_app.config["SECRET_KEY"],
                            max_age_days=current_app.config["LINK_TOKEN_DAYS"])
    except LinkInvalid as exc:
        response = current_app.make_response((render_template(
            "outbox/link_invalid.html", expired=exc.expired, city_url=current_app.config["CITY_GENERAL_URL"]),
            410 if exc.expired else 404))
        response.headers["Cache-Control"] = "no-store"
        return response
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _notified_recently(rule_id, setai_nos, as_of, cooldown_days) -> int:
    from notifier.outbox.enqueue import notified_recently
    return notified_recently(db.session(), rule_id, setai_nos, as_of, cooldown_days)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # The rules pages' reach preview asks the outbox who was notified within the cool-down.
    app.extensions["notified_recently"] = _notified_recently
