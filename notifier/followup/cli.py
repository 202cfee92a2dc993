"""`notifier followup run` (design.md "Command line")."""
from __future__ import annotations

import click

from notifier.cliutil import as_of_option, emit, json_option, with_app


@click.group("followup", help="Follow-up: who responded, one reminder, outreach cases for non-responders.")
def followup_group() -> None:
    pass


@followup_group.command("run", help="Responses, one reminder, outreach cases for non-responders (for business date D).")
@as_of_option
@json_option
@with_app
def followup_run(as_of, as_json: bool) -> None:
    from flask import current_app

    from notifier import audit, db
    from notifier.followup.run import run_followup
    with db.transaction() as s:
        result = run_followup(s, as_of, actor=audit.Actor.operator(), public_base_url=current_app.config["PUBLIC_BASE_URL"])
    emit(result.as_dict(), as_json, result.lines())
