"""`notifier notify enqueue|dispatch` and `notifier templates load` (design.md "Command line")."""
from __future__ import annotations

import os
from pathlib import Path

import click

from notifier.cliutil import CommandError, as_of_option, emit, json_option, with_app


@click.group("notify", help="Notices to residents over LINE: the outbox and the dispatcher.")
def notify_group() -> None:
    pass


@notify_group.command("enqueue", help="Make notices and deliveries from the day's eligibility run.")
@as_of_option
@json_option
@with_app
def notify_enqueue(as_of, as_json: bool) -> None:
    from flask import current_app
    from sqlalchemy.exc import IntegrityError

    from notifier import audit, db
    from notifier.outbox.enqueue import NoRun, enqueue
    if current_app.config["ENV"] == "production" and not os.environ.get("SECRET_KEY"):
        # Without it the links would be signed with a throw-away key the web app cannot check.
        raise CommandError("SECRET_KEY is not set: the /r/ links are signed with the web app's SECRET_KEY")
    try:
        with db.transaction() as s:
            result = enqueue(s, as_of, actor=audit.Actor.operator(),
                             public_base_url=current_app.config["PUBLIC_BASE_URL"])
    except NoRun as exc:
        raise CommandError(str(exc)) from exc
    except IntegrityError as exc:
        # Another enqueue for the same day committed first (the unique keys held): nothing was written.
        raise CommandError("another enqueue for this day ran at the same time; nothing was written — "
                           "run it again (it never adds a notice twice)") from exc
    emit(result.as_dict(), as_json, result.lines())


@click.group("templates", help="Message templates (versioned, approved by a second person).")
def templates_group() -> None:
    pass


@templates_group.command("load", help="Load YAML message templates as new versions (unchanged → none).")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--activate", is_flag=True, help="Approve at once as an audited system action.")
@json_option
@with_app
def templates_load(directory: Path, activate: bool, as_json: bool) -> None:
    from notifier import audit, db
    from notifier.outbox.template_dao import load_directory
    from notifier.outbox.templates import TemplateError
    try:
        with db.transaction() as s:
            outcomes = load_directory(s, directory, actor=audit.Actor.operator(), activate=activate)
    except TemplateError as exc:
        raise CommandError("; ".join(exc.errors)) from exc
    emit({"templates": [o.__dict__ for o in outcomes]}, as_json,
         [f"{o.template_id}: 第{o.version}版 {'新規' if o.status == 'new' else '変更なし'}"
          f"{'（有効）' if o.active else '（承認待ち）'}" for o in outcomes])
