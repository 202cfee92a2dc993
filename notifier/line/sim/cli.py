"""`notifier line-sim`: the click command that runs the LINE simulator in the foreground.

The CLI module registers it (`cli.add_command(line_sim_command)`); settings come from the same
environment variables the service reads, so both sides agree on secret and token.
"""

from __future__ import annotations

import click

from . import DEFAULT_LOGIN_CHANNEL_ID


@click.command("line-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--webhook-url", envvar="LINE_SIM_WEBHOOK_URL", default=None,
              help="The service's webhook, e.g. http://127.0.0.1:5000/line/webhook")
@click.option("--channel-secret", envvar="LINE_CHANNEL_SECRET", default="sim-channel-secret",
              show_default=True)
@click.option("--access-token", envvar="LINE_CHANNEL_ACCESS_TOKEN", default="sim-access-token",
              show_default=True)
@click.option("--login-channel-id", envvar="LINE_LOGIN_CHANNEL_ID", default=DEFAULT_LOGIN_CHANNEL_ID,
              show_default=True)
@click.option("--rate-limit", type=float, default=None, help="Requests per second per endpoint")
@click.option("--server", type=click.Choice(["werkzeug", "gunicorn"]), default="werkzeug", show_default=True,
              help="werkzeug: the development server; gunicorn: one gthread worker, no access log (load tests).")
@click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True,
              help="gunicorn's threads (--server gunicorn).")
def line_sim_command(host, port, webhook_url, channel_secret, access_token, login_channel_id, rate_limit,
                     server, threads):
    """Local LINE stand-in: Messaging API + phone-like chat pages at /phone/."""
    from .app import run_sim
    click.echo(f"LINE simulator: http://{host}:{port}/phone/  (API base: http://{host}:{port})")
    if not webhook_url:
        click.echo("No webhook URL: user actions are not sent anywhere (set --webhook-url).")
    run_sim(host=host, port=port, channel_secret=channel_secret, access_token=access_token,
            webhook_url=webhook_url, login_channel_id=login_channel_id,
            rate_limit_per_second=rate_limit, server=server, threads=threads)

def main() -> None:  # pragma: no cover - python -m notifier.line.sim
    line_sim_command(prog_name="line-sim", auto_envvar_prefix=None)

if __name__ == "__main__":  # pragma: no cover
    main()
