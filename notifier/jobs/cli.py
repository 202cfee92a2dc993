"""`notifier daily` and `notifier scheduler`."""
from __future__ import annotations

import click

from notifier.cliutil import CommandError, as_of_option, emit, json_option, progress, with_app


@click.command("daily", help="The whole chain for one business day: import → link → eligibility → ….")
@as_of_option
@json_option
@with_app
def daily_command(as_of, as_json: bool) -> None:
    from flask import current_app

    from notifier import audit, db
    from notifier.jobs.daily import AlreadyRunning, run_daily, stop_on_sigterm
    stop = stop_on_sigterm()
    try:
        with progress(as_json) as update:
            result = run_daily(db.engine(), as_of, config=dict(current_app.config),
                               actor=audit.Actor.operator().label, stop=stop, progress=update)
    except AlreadyRunning as exc:
        raise CommandError(str(exc)) from exc
    emit(result.as_dict(), as_json, result.lines())
    if result.failed:
        raise CommandError(f"daily {as_of}: failed step(s): {', '.join(result.failed)}")
    if result.stopped:
        raise CommandError(f"daily {as_of}: stopped by SIGTERM before every step ran")


@click.command("scheduler", help="Run `daily` at DAILY_AT and dispatch every few minutes (one active per database).")
@with_app
def scheduler_command() -> None:
    import logging

    from flask import current_app

    from notifier import db
    from notifier.jobs.scheduler import run_scheduler
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_scheduler(db.engine(), dict(current_app.config))
