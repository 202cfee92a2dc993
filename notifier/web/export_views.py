"""`GET /outreach/export.csv?organisation=…&kind=masked|identified|key_table`: open outreach cases as CSV
(the worklist's download button links here; outreach/export.py makes the rows and the audit row).

Who may download which kind (outreach.export.export_organisation; no schema change):
- masked (pseudonymised, for partners): coordinators (and admins) for any organisation; a caseworker
  for the organisation on their account only (the `organisation` argument may name it or be left out);
- identified (世帯番号, 宛名番号): coordinators (and admins) who also hold the child-welfare permission
  (要対協 cases named person by person are child-welfare information);
- key_table (仮名ID → 宛名番号, 氏名): admins only, so the file that undoes the masking is made by few.
A refusal is 403 with an `access_denied` audit row, like every other page.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, g, request

from notifier import audit, clock, db
from notifier.web import bad_request, current_actor, require_roles

bp = Blueprint("outreach_export", __name__)


def export_response(kind: str, organisation: str | None) -> Response:
    """The CSV download of one export, for views that offer one (the worklist)."""
    from notifier.outreach.export import ExportError, export
    s = db.session()
    try:
        result = export(s, kind, organisation=organisation, key=current_app.config.get("PSEUDONYM_KEY"),
                        as_of=clock.today_jst(), actor=current_actor(),
                        alert_limit=current_app.config["BULK_EXPORT_ALERT_HOUSEHOLDS"])
    except ExportError as exc:
        s.rollback()
        raise bad_request(str(exc)) from exc
    body = result.csv()
    s.commit()
    name = f"outreach-{kind}-{clock.today_jst().isoformat()}.csv"
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}; filename*=UTF-8''{quote(name)}"})


@bp.route("/outreach/export.csv")
@require_roles("coordinator", "caseworker")
def export_csv():
    from notifier.outreach.export import EXPORT_ROLES, ExportDenied, export_organisation
    kind = request.args.get("kind", "masked")
    if kind not in EXPORT_ROLES:
        raise bad_request("出力の種類は masked、identified、key_table のいずれかです。")
    try:
        organisation = export_organisation(g.user, kind, request.args.get("organisation") or None)
    except ExportDenied:
        audit.record(db.session(), "access_denied", actor=current_actor(), detail={"path": request.path, "kind": kind})
        db.session().commit()
        abort(403)
    return export_response(kind, organisation)
