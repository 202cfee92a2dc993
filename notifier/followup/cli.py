"""`notifier followup run` (design.md "Command line")."""
from __future__ import annotations

import click

from notifier.cliutil import CommandError, emit, json_option, with_app  # noqa: F401  (used by the commands)


@click.group("followup", help="Follow-up: who responded, one reminder, outreach cases for non-responders.")
def followup_group() -> None:
    pass
