"""The residents' one-tap link `/r/<token>`: record the open and go to the application form.

Public (no staff session). A token that was altered, has expired or names no delivery gets a kind
page with the city's general link (404, or 410 when expired); nothing about the token is logged.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, render_template

from notifier import db
from notifier.outbox.links import LinkInvalid
from notifier.outbox.opens import open_link
from notifier.web import current_actor, public, require_roles

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
    app.register_blueprint(staff_bp)
    # The rules pages' reach preview asks the outbox who was notified within the cool-down.
    app.extensions["notified_recently"] = _notified_recently


# --- staff: message templates as LINE shows them, and their approval -------------------------------
staff_bp = Blueprint("messages", __name__, url_prefix="/messages")

SAMPLE_LINK = "/r/（お知らせごとのリンク）"


def _preview(row):
    """A version's template and its rendered notice and reminder (a sample link: the message is the
    same for every household of the rule), or the Japanese reason it cannot be read."""
    from notifier.outbox.templates import TemplateError, template_from_json
    try:
        template = template_from_json(row.definition, f"{row.template_id}@v{row.version}")
    except (TemplateError, ValueError) as exc:
        return {"row": row, "error": str(exc)}
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return {"row": row, "template": template,
            "notice": template.render(base + "/r/sample")[0], "reminder": template.render(base + "/r/sample",
                                                                                         reminder=True)[0]}


@staff_bp.get("")
@require_roles("rule_author", "rule_approver")
def templates_index():
    from flask import g

    from notifier.outbox import template_dao
    s = db.session()
    active = [_preview(row) for _t, (row, _m) in sorted(template_dao.active_templates(s).items())]
    pending = [dict(_preview(row), own=row.created_by == g.user.username)
               for row in template_dao.pending_versions(s)]
    return render_template("outbox/templates.html", active=active, pending=pending, sample=SAMPLE_LINK)


def _decide(version_id: int, decide):
    from flask import abort, flash, url_for

    from notifier.models import MessageTemplateVersion
    from notifier.outbox.template_dao import TemplateApprovalError
    s = db.session()
    row = s.get(MessageTemplateVersion, version_id) or abort(404)
    try:
        message = decide(s, row)
    except TemplateApprovalError as exc:
        s.rollback()
        flash(str(exc), "error")
        return redirect(url_for("messages.templates_index"))
    s.commit()
    flash(message, "success")
    return redirect(url_for("messages.templates_index"))


@staff_bp.post("/<int:version_id>/approve")
@require_roles("rule_approver")
def approve_template(version_id: int):
    from notifier.outbox import template_dao

    def decide(s, row):
        template_dao.approve(s, row, actor=current_actor())
        return f"文面 {row.template_id} 第{row.version}版を承認し、有効にしました。"
    return _decide(version_id, decide)


@staff_bp.post("/<int:version_id>/reject")
@require_roles("rule_approver")
def reject_template(version_id: int):
    from flask import request

    from notifier.outbox import template_dao

    def decide(s, row):
        template_dao.reject(s, row, actor=current_actor(), note=(request.form.get("reason") or "").strip()[:500] or None)
        return f"文面 {row.template_id} 第{row.version}版を却下しました。"
    return _decide(version_id, decide)
