"""The `notifier` command line (design.md "Command line"): operators script against it; keep it stable.

Each part of the data flow owns its command group (`ingest/cli.py` → `notifier data …`, …); this
module only assembles them, plus the few commands that belong to no stage (db, users, serve, demo,
bench). Command modules import nothing heavy at module level, so `notifier --help` is fast and each
command loads only what it uses.
"""
from __future__ import annotations

import json
import sys

import click

from notifier.cliutil import CommandError, emit, json_option, with_app
from notifier.consent.cli import consent_group
from notifier.contract import ROLES
from notifier.eligibility.cli import eligibility_group, rules_group
from notifier.followup.cli import followup_group
from notifier.ingest.cli import data_group
from notifier.jobs.cli import daily_command, scheduler_command
from notifier.line.sim.cli import line_sim_command
from notifier.linkage.cli import link_group
from notifier.outbox.cli import notify_group, templates_group
from notifier.outreach.cli import outreach_group


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
@json_option
@with_app(check_schema=False)
def db_upgrade(as_json: bool) -> None:
    from flask import current_app

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
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@click.option("--display-name", default=None)
@click.option("--organisation", default=None, help="Required for caseworker.")
@click.option("--tax", "tax_permission", is_flag=True, help="May see tax data.")
@click.option("--child-welfare", "child_welfare_permission", is_flag=True)
@click.option("--password", envvar="NOTIFIER_NEW_PASSWORD", default=None,
              help="Read from NOTIFIER_NEW_PASSWORD, or asked for when omitted.")
@json_option
@with_app
def users_create(username, roles, display_name, organisation, tax_permission, child_welfare_permission,
                 password, as_json) -> None:
    from notifier import db
    from notifier.auth.service import AccountError, create_user
    password = _read_new_password(password)
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


def _read_new_password(password: str | None) -> str:
    if password is None:
        if not sys.stdin.isatty():
            raise CommandError("no password: pass --password or set NOTIFIER_NEW_PASSWORD")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_group.command("set-password", help="Set a staff user's password; ends every session of that user.")
@click.argument("username")
@click.option("--password", envvar="NOTIFIER_NEW_PASSWORD", default=None,
              help="Read from NOTIFIER_NEW_PASSWORD, or asked for when omitted.")
@json_option
@with_app
def users_set_password(username: str, password: str | None, as_json: bool) -> None:
    from notifier import audit, db
    from notifier.auth.service import AccountError, change_password, dao_get_user_by_username
    password = _read_new_password(password)
    try:
        with db.transaction() as s:
            user = dao_get_user_by_username(s, username)
            if user is None:
                raise CommandError(f"no user {username}")
            ended = change_password(s, user, password, actor=audit.Actor.operator())
    except AccountError as exc:
        raise CommandError(str(exc)) from exc
    emit({"username": username, "sessions_ended": ended}, as_json,
         [f"{username} のパスワードを変更しました。ログイン中のセッション {ended} 件を終了しました。"])


@users_group.command("set-roles", help="Replace a staff user's roles; ends every session of that user.")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@json_option
@with_app
def users_set_roles(username: str, roles: tuple[str, ...], as_json: bool) -> None:
    from notifier import audit, db
    from notifier.auth.service import AccountError, dao_get_user_by_username, set_roles
    try:
        with db.transaction() as s:
            user = dao_get_user_by_username(s, username)
            if user is None:
                raise CommandError(f"no user {username}")
            ended = set_roles(s, user, list(roles), actor=audit.Actor.operator())
    except AccountError as exc:
        raise CommandError(str(exc)) from exc
    emit({"username": username, "roles": list(roles), "sessions_ended": ended}, as_json,
         [f"{username} の役割を {', '.join(roles)} にしました。ログイン中のセッション {ended} 件を終了しました。"])


@users_group.command("totp-code", help="Development only: print the current TOTP code of a user.")
@click.argument("username")
@with_app
def users_totp_code(username: str) -> None:
    from flask import current_app

    from notifier import db
    from notifier.auth import totp
    from notifier.auth.service import dao_get_user_by_username
    if current_app.config["ENV"] != "development":
        raise CommandError("totp-code is available only with NOTIFIER_ENV=development")
    user = dao_get_user_by_username(db.session(), username)
    if user is None or not user.totp_secret:
        raise CommandError(f"no enrolled user {username}")
    click.echo(totp.current_code(user.totp_secret))


# --- serve / demo / bench -----------------------------------------------------------------------
@main.command("serve", help="Staff web app and LINE webhook (gunicorn).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@with_app(web=True)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    from flask import current_app

    from notifier.server import run_gunicorn
    run_gunicorn(current_app._get_current_object(), host=host, port=port, workers=workers, threads=threads)


@main.command("demo", help="Everything on SQLite with generated data, the LINE simulator and the staff app.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--sim-port", default=8765, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the demo database and exit.")
def demo(port: int, sim_port: int, no_serve: bool) -> None:
    from notifier.demo import run_demo
    run_demo(port=port, serve=not no_serve, sim_port=sim_port)


@main.command("bench", help="Time each pipeline stage on a generated city; prints JSON.")
@click.option("--scale", type=click.Choice(["tiny", "small", "izumi"]), default="izumi", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--runs", type=int, default=3, show_default=True)
@click.option("--postgres", default=None, metavar="ADMIN_URL",
              help="Run on PostgreSQL: a database is created on this server per run and dropped after.")
@click.option("--naive", is_flag=True, help="Also time benchmarks/naive_rules.py (slow) for the speed ratio.")
@click.option("--in-process/--separate-processes-only", "in_process", default=True, show_default=True,
              help="Also time the stages inside one process (beside the operators' separate commands).")
@click.option("--dispatch", is_flag=True,
              help="Instead: dispatch throughput against the simulator (1 and 2 `notify dispatch` processes, "
                   "no rate limit) after the batch and a real enqueue (notifier/bench_dispatch.py).")
@click.option("--dispatch-threads", type=click.IntRange(min=1), default=8, show_default=True,
              help="DISPATCH_THREADS for the dispatchers (--dispatch).")
def bench(scale: str, seed: int, runs: int, postgres: str | None, naive: bool, in_process: bool, dispatch: bool,
          dispatch_threads: int) -> None:
    if dispatch:
        from notifier.bench_dispatch import run_dispatch_bench
        report = run_dispatch_bench(scale, seed, runs, postgres, threads=dispatch_threads)
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    from notifier.bench import run_bench
    click.echo(json.dumps(run_bench(scale, seed, runs, postgres, naive, in_process), ensure_ascii=False, indent=2))


for _group in (data_group, link_group, consent_group, rules_group, eligibility_group, notify_group,
               templates_group, followup_group, outreach_group, daily_command, scheduler_command, line_sim_command):
    main.add_command(_group)


def register(app) -> None:
    """Make the same commands available as `flask --app wsgi <command>`."""
    for name, command in main.commands.items():
        if name not in app.cli.commands:
            app.cli.add_command(command, name)
