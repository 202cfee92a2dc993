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


@notify_group.command("dispatch", help="Send due deliveries to LINE (retry key, shared rate, quiet hours).")
@click.option("--now", "now_text", metavar='"YYYY-MM-DD HH:MM"',
              help="Act as if it were this time in JST (tests and replays); default: the real clock.")
@click.option("--limit", type=click.IntRange(min=1), help="Claim at most N deliveries in this run.")
@json_option
@with_app
def notify_dispatch(now_text: str | None, limit: int | None, as_json: bool) -> None:
    import contextlib
    from datetime import datetime

    from flask import current_app

    from notifier import audit, clock, db
    from notifier.cliutil import progress
    from notifier.jobs import runs
    from notifier.line.client import LineClient
    from notifier.outbox.dispatch import dispatch, due_count, worker_name
    instant = None
    if now_text:
        try:
            instant = datetime.strptime(now_text.strip(), "%Y-%m-%d %H:%M")
        except ValueError as exc:
            raise CommandError(f'--now must look like "2026-07-01 10:00" (JST), got {now_text!r}') from exc
    config = current_app.config
    if not config.get("LINE_CHANNEL_ACCESS_TOKEN"):
        raise CommandError("LINE_CHANNEL_ACCESS_TOKEN is not set: the dispatcher cannot call LINE")
    engine = db.engine()
    with contextlib.ExitStack() as stack:
        if instant is not None:
            stack.enter_context(clock.at(instant))
        threads = config.get("DISPATCH_THREADS", 8)
        client = stack.enter_context(LineClient.from_config(config))
        bar = stack.enter_context(progress(as_json, unit="通"))
        total = due_count(engine, clock.now()) if bar else 0
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            bar("送信", done[0], max(total, done[0]))
        # Every run leaves a job-run row, so 運用状況 shows the scheduled dispatches beside `daily`.
        with runs.recorded(engine, "dispatch", host=worker_name()) as run:
            result = dispatch(engine, client, quiet_hours=config["QUIET_HOURS"],
                              rate_per_second=config["PUSH_RATE_PER_SECOND"], limit=limit,
                              actor=audit.Actor.operator(), progress=step if bar else None,
                              claim_stale_seconds=config["DISPATCH_CLAIM_STALE_SECONDS"], threads=threads)
            run.counts, run.note = result.counts(), result.note()
    emit(result.as_dict(), as_json, result.lines())
    if result.stopped_for_quota:
        raise SystemExit(3)


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
