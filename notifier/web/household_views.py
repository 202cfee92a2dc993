"""「世帯の検索」 and the household page (issue 13 §2), with its one-page A4 print (`?print=1`).

The search form posts the number (with the CSRF token), so a 世帯番号 or 宛名番号 never sits in a URL,
the browser history or an access log; the answer is a redirect to `/households/<token>`, where the
token is the household's opaque address (notifier.outreach.household.household_token, keyed by the app's
secret and resolved on the server). Views only parse, call the service and render; the service
writes the view's audit row and the view commits it.
"""
from __future__ import annotations

import unicodedata

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from notifier import clock, db
from notifier.outreach import household as service
from notifier.web import current_actor, require_roles

bp = Blueprint("households", __name__, url_prefix="/households")

NUMBER_MAX = 32
VIA_LABELS = {"世帯番号", "宛名番号"}


def household_url(setai_no: str, **kw) -> str:
    """The household page's address (for other pages that link to a household)."""
    return url_for("households.show", token=service.household_token(current_app.secret_key, setai_no), **kw)


def _search_page(number: str = "", error: str | None = None, status: int = 200):
    return render_template("households/search.html", number=number, error=error), status


@bp.get("/")
@require_roles("coordinator")
def search():
    return _search_page()


@bp.post("/")
@require_roles("coordinator")
def find():
    number = unicodedata.normalize("NFKC", request.form.get("number") or "").strip()
    if not number:
        return _search_page(error="世帯番号または宛名番号を入力してください。", status=400)
    if not number.isdigit() or not number.isascii() or len(number) > NUMBER_MAX:
        return _search_page(number, "番号は数字で入力してください。", status=400)
    found = service.find_household(db.session(), number, clock.today_jst())
    if found is None:
        return _search_page(number, service.NOT_FOUND_TEXT, status=404)
    setai_no, via = found
    return redirect(household_url(setai_no, via="atena" if via == "宛名番号" else "setai"), code=303)


@bp.get("/<token>")
@require_roles("coordinator")
def show(token: str):
    setai_no = service.setai_from_token(current_app.secret_key, token)
    if setai_no is None:
        abort(404)
    printed = request.args.get("print") == "1"
    via = {"atena": "宛名番号", "setai": "世帯番号"}.get(request.args.get("via", ""), "世帯の画面")
    s = db.session()
    try:
        page = service.view(s, setai_no, user=g.user, actor=current_actor(), via=via, printed=printed)
    except service.HouseholdNotFound:
        s.rollback()
        return _search_page(error=service.NOT_FOUND_TEXT, status=404)
    s.commit()
    from notifier.contract import OUTREACH_ROUTES
    return render_template("households/show.html", page=page, token=token, printed=printed,
                           hidden_text=service.HIDDEN_TEXT, outreach_routes=OUTREACH_ROUTES)
