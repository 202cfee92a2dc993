"""The `notifier` command line (design.md "Command line"): operators script against it; keep it stable.

Every command runs inside an application context: the one Flask's CLI provides (`flask --app wsgi …`),
or one made here from the environment (`notifier …`).
"""
from __future__ import annotations

import json
import sys
from functools import wraps

import click
from flask import current_app, has_app_context


class CommandError(click.ClickException):
    """A one-line reason; the command exits non-zero."""


def with_app(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return fn(*args, **kwargs)
        from flask.cli import ScriptInfo

        from notifier import create_app
        from notifier.config import ConfigError
        info = click.get_current_context().find_object(ScriptInfo)
        try:
            # Under `flask --app wsgi …` (and Flask's test runner) use the app Flask loads.
            app = info.load_app() if info is not None else create_app()
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        with app.app_context():
            return fn(*args, **kwargs)
    return wrapper


def emit(payload: dict, as_json: bool, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        for line in lines:
            click.echo(line)


@click.group(help="Consent-based push-support notification service (プッシュ型支援).")
def main() -> None:
    try:
        from dotenv import load_dotenv
        load_dotenv(override=False)
    except ImportError:  # python-dotenv is optional
        pass


# --- db -----------------------------------------------------------------------------------------
@main.group("db", help="Database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply migrations (SQLite by default, PostgreSQL by DATABASE_URL).")
@click.option("--json", "as_json", is_flag=True)
@with_app
def db_upgrade(as_json: bool) -> None:
    from notifier import migrate
    url = current_app.config["DATABASE_URL"]
    migrate.upgrade(url)
    emit({"status": "ok", "heads": migrate.heads(url)}, as_json, ["データベースを最新の状態にしました。"])


# --- users --------------------------------------------------------------------------------------
@main.group("users", help="Staff accounts.")
def users_group() -> None:
    pass


@users_group.command("create", help="Create a staff account (the first admin, for example).")
@click.option("--username", required=True)
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["admin", "rule_author", "rule_approver", "coordinator", "caseworker", "auditor"]))
@click.option("--display-name", default=None)
@click.option("--organisation", default=None, help="Required for caseworker.")
@click.option("--tax", "tax_permission", is_flag=True, help="May see tax data.")
@click.option("--child-welfare", "child_welfare_permission", is_flag=True)
@click.option("--password", envvar="NOTIFIER_NEW_PASSWORD", default=None,
              help="Read from NOTIFIER_NEW_PASSWORD, or asked for when omitted.")
@click.option("--json", "as_json", is_flag=True)
@with_app
def users_create(username, roles, display_name, organisation, tax_permission, child_welfare_permission,
                 password, as_json) -> None:
    from notifier import db
    from notifier.auth.service import AccountError, create_user
    if password is None:
        if not sys.stdin.isatty():
            raise CommandError("no password: pass --password or set NOTIFIER_NEW_PASSWORD")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with db.transaction() as s:
            user = create_user(s, username=username, password=password, roles=list(roles),
                               display_name=display_name, organisation=organisation,
                               tax_permission=tax_permission, child_welfare_permission=child_welfare_permission,
                               actor="cli")
            user_id = user.id
    except AccountError as exc:
        raise CommandError(str(exc)) from exc
    emit({"id": user_id, "username": username, "roles": list(roles)}, as_json,
         [f"職員アカウント {username} を作成しました。初回サインイン時に二要素認証を登録します。"])


@users_group.command("totp-code", help="Development only: print the current TOTP code of a user.")
@click.argument("username")
@with_app
def users_totp_code(username: str) -> None:
    from notifier import db
    from notifier.auth import totp
    from notifier.auth.service import dao_get_user_by_username
    if current_app.config["ENV"] != "development":
        raise CommandError("totp-code is available only with NOTIFIER_ENV=development")
    user = dao_get_user_by_username(db.session(), username)
    if user is None or not user.totp_secret:
        raise CommandError(f"no enrolled user {username}")
    click.echo(totp.current_code(user.totp_secret))


# --- serve / demo -------------------------------------------------------------------------------
@main.command("serve", help="Staff web app and LINE webhook (gunicorn).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@with_app
def serve(host: str, port: int, workers: int, threads: int) -> None:
    from notifier.server import run_gunicorn
    run_gunicorn(current_app._get_current_object(), host=host, port=port, workers=workers, threads=threads)


@main.command("demo", help="Everything on SQLite with generated data, the LINE simulator and the staff app.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--sim-port", default=8765, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the demo database and exit.")
def demo(port: int, sim_port: int, no_serve: bool) -> None:
    from notifier.demo import run_demo
    run_demo(port=port, serve=not no_serve, sim_port=sim_port)


# Command groups owned by other modules register themselves on `main` when imported.
def _load_command_modules() -> None:
    import importlib
    for module in ("notifier.ingest.cli", "notifier.consent.cli", "notifier.linkage.cli",
                   "notifier.eligibility.cli"):
        importlib.import_module(module)
    from notifier.line.sim.cli import line_sim_command
    main.add_command(line_sim_command)


def register(app) -> None:
    """Make the same commands available as `flask --app wsgi <command>`."""
    _load_command_modules()
    for name, command in main.commands.items():
        if name not in app.cli.commands:
            app.cli.add_command(command, name)


_load_command_modules()


@main.command("bench", help="Time each pipeline stage on a generated city; prints JSON.")
@click.option("--scale", type=click.Choice(["tiny", "small", "izumi"]), default="izumi", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--runs", type=int, default=3, show_default=True)
@click.option("--postgres", default=None, metavar="ADMIN_URL",
              help="Run on PostgreSQL: a database is created on this server per run and dropped after.")
@click.option("--naive", is_flag=True, help="Also time benchmarks/naive_rules.py (slow) for the speed ratio.")
def bench(scale: str, seed: int, runs: int, postgres: str | None, naive: bool) -> None:
    from notifier.bench import run_bench
    click.echo(json.dumps(run_bench(scale, seed, runs, postgres, naive), ensure_ascii=False, indent=2))
