"""`notifier notify enqueue|dispatch` (design.md "Command line")."""
from __future__ import annotations

import click

from notifier.cliutil import CommandError, emit, json_option, with_app  # noqa: F401  (used by the commands)


@click.group("notify", help="Notices to residents over LINE: the outbox and the dispatcher.")
def notify_group() -> None:
    pass
