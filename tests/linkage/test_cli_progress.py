"""`notifier link run` shows a progress bar on a terminal (issue 9: every long command does) and stays
quiet under --json or without a terminal. Run as operators run it: its own process, on a pty."""
from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

NOTIFIER = os.path.join(os.path.dirname(sys.executable), "notifier")


def _env(tmp_path) -> dict:
    return {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "NOTIFIER_ENV": "development"}


def _on_a_terminal(args: list[str], env: dict) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; returns the exit code and what the terminal showed."""
    leader, follower = pty.openpty()
    # A terminal 100 columns wide (a new pty is 0 × 0, on which tqdm draws an empty bar).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([NOTIFIER, *args], env=env, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:          # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    proc.communicate(timeout=120)
    os.close(leader)
    return proc.returncode, shown.decode("utf-8", "replace")


def test_link_run_shows_its_stages_on_a_terminal_and_nothing_otherwise(tmp_path, tiny_exports):
    env = _env(tmp_path)
    for args in (["db", "upgrade"], ["data", "import", str(tiny_exports), "--json"]):
        assert subprocess.run([NOTIFIER, *args], env=env, capture_output=True, timeout=300).returncode == 0
    code, shown = _on_a_terminal(["link", "run"], env)
    assert code == 0, shown
    assert "照合" in shown and "段階" in shown, shown
    code, shown = _on_a_terminal(["link", "run", "--json"], env)
    assert code == 0 and shown.strip() == "", shown
    piped = subprocess.run([NOTIFIER, "link", "run"], env=env, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and piped.stderr.strip() == "", piped.stderr
