"""What every `notifier` command shares: the one-line error, JSON-or-lines output, the application
context, the business-date option and a progress bar that stays quiet when nobody is watching.

Stage command modules (`ingest/cli.py`, `linkage/cli.py`, …) import this module, never `notifier.cli`;
`notifier.cli` adds their groups to the top-level command. Importing this module is cheap (click only),
so `notifier --help` does not pay for pandas, Flask or line-bot-sdk.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import wraps

import click


class CommandError(click.ClickException):
    """A one-line reason; the command exits non-zero."""


def with_app(fn=None, *, web: bool = False, check_schema: bool = True):
    """Run the command inside an application context.

    Under `flask --app wsgi …` (and Flask's test runner) the app Flask loads is used. Otherwise an app
    is made from the environment: without the web parts (no blueprints, no SECRET_KEY needed) unless
    `web=True` — batch commands never touch sessions. A database whose schema is not at the code's
    migration head is refused with a one-line reason (`check_schema=False` for `db upgrade`).
    """
    def decorate(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            from flask import has_app_context
            if has_app_context():
                return fn(*args, **kwargs)
            from flask.cli import ScriptInfo

            from notifier import create_app
            from notifier.config import ConfigError
            info = click.get_current_context().find_object(ScriptInfo)
            try:
                app = info.load_app() if info is not None else create_app(web=web)
            except ConfigError as exc:
                raise CommandError(str(exc)) from exc
            with app.app_context():
                if check_schema:
                    from notifier import db, migrate
                    problem = migrate.out_of_date(db.engine())
                    if problem:
                        raise CommandError(problem)
                return fn(*args, **kwargs)
        return wrapper
    return decorate(fn) if fn is not None else decorate


def emit(payload: dict, as_json: bool, lines: list[str]) -> None:
    """`--json`: one JSON object on stdout; otherwise the Japanese lines for the operator."""
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        for line in lines:
            click.echo(line)


def json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(fn)


def as_of_option(fn):
    """`--as-of YYYY-MM-DD`, the business date (JST); the command receives a `date` (today by default)."""
    def to_date(_ctx, _param, value) -> date:
        if value is None:
            from notifier import clock
            return clock.today_jst()
        return value.date()
    return click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
                        callback=to_date, help="Business date (JST); default today.")(fn)


def progress_enabled(as_json: bool) -> bool:
    """Bars only on a terminal and never under --json (cron, pipes and scripts see no noise)."""
    return not as_json and sys.stderr.isatty()


@contextmanager
def progress(as_json: bool, unit: str = "step") -> Iterator[Callable[[str, int, int], None] | None]:
    """A tqdm bar on a terminal, as a callback `update(label, done, total)`; None otherwise."""
    if not progress_enabled(as_json):
        yield None
        return
    from tqdm import tqdm
    bar = tqdm(total=0, unit=unit, file=sys.stderr, leave=False)

    def update(label: str, done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.set_description(label or "done")
        bar.refresh()
    try:
        yield update
    finally:
        bar.close()
