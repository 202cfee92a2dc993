"""The demo's printed TOTP helper works from a shell without the venv on PATH."""
from __future__ import annotations

import os
import re
import subprocess

import pyotp

from notifier import demo
from tests.factories import create_staff


def test_the_printed_totp_helper_runs_outside_an_activated_venv(app, database_url, db_session):
    user = create_staff(db_session, "demo-admin", ["admin"])
    command = demo.totp_helper_command(database_url)
    assert re.search(r"/\.venv/bin/notifier users totp-code demo-admin$|/bin/notifier users totp-code demo-admin$",
                     command), command
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}   # no venv, no activation
    proc = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    code = proc.stdout.strip()
    totp = pyotp.TOTP(user.totp_secret)
    assert re.fullmatch(r"\d{6}", code) and totp.verify(code, valid_window=1)
