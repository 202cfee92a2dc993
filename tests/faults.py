"""Fault injection for crash tests: run a `notifier` command in a real subprocess that SIGKILLs
itself at a chosen point of the code (before or after a named function runs), so a test can show
that a crash there leaves the database whole. Production code carries no test hooks."""
from __future__ import annotations

import os
import subprocess
import sys

_RUNNER = r"""
import importlib, os, signal, sys
target, when, signame, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sig = getattr(signal, signame)
module_name, func_name = target.split(":")
module = importlib.import_module(module_name)
original = getattr(module, func_name)

def killing(*args, **kwargs):
    if when == "before":
        os.kill(os.getpid(), sig)
    result = original(*args, **kwargs)
    if when == "after":
        os.kill(os.getpid(), sig)
    return result

setattr(module, func_name, killing)
from notifier.cli import main
main(argv, prog_name="notifier")
"""


def run_killed(target: str, args: list[str], env: dict, *, when: str = "after", signal_name: str = "SIGKILL",
               timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `notifier ARGS` and send the process `signal_name` (SIGKILL by default) when
    `module:function` is called (`before`) or has returned (`after`). Patch the name where callers
    look it up (the module that calls it)."""
    assert when in ("before", "after")
    return subprocess.run([sys.executable, "-c", _RUNNER, target, when, signal_name, *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
