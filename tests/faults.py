"""Fault injection for crash tests: run a `notifier` command in a real subprocess that SIGKILLs
itself at a chosen point of the code (before or after a named function runs, on its n-th call,
only while another function is on the stack, or a while after the call began), so a test can show
that a crash there leaves the database whole. Production code carries no test hooks."""
from __future__ import annotations

import json
import os
import subprocess
import sys

_RUNNER = r"""
import importlib, json, os, signal, sys, threading, time
spec, argv = json.loads(sys.argv[1]), sys.argv[2:]
sig = getattr(signal, spec["signal"])
when, nth, delay = spec["when"], spec["nth"], spec["delay"]


def resolve(path):
    module_name, name = path.split(":")
    return importlib.import_module(module_name), name


for path, value in spec["set"].items():               # module constants for this run (e.g. a batch size)
    module, name = resolve(path)
    setattr(module, name, value)
module, func_name = resolve(spec["target"])
original = getattr(module, func_name)
within = spec["within"] and spec["within"].split(":")
lock = threading.Lock()
calls = [0]


def inside() -> bool:
    # Whether `within` is running in any thread (a dispatcher's sends run in its pool's threads).
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code.co_name == within[1] and frame.f_globals.get("__name__") == within[0]:
                return True
            frame = frame.f_back
    return False


def die():
    os.kill(os.getpid(), sig)
    if sig == signal.SIGKILL:
        time.sleep(60)


def killing(*args, **kwargs):
    chosen = False
    if not within or inside():
        with lock:
            calls[0] += 1
            chosen = calls[0] == nth
    if chosen and when == "before":
        die()
    if chosen and when == "during":
        threading.Timer(delay, die).start()
    result = original(*args, **kwargs)
    if chosen and when in ("after", "during"):           # `during`: at the latest as the call returns
        die()
    return result


setattr(module, func_name, killing)
from notifier.cli import main
main(argv, prog_name="notifier")
"""


def run_killed(target: str, args: list[str], env: dict, *, when: str = "after", signal_name: str = "SIGKILL",
               timeout: float = 180, nth: int = 1, within: str | None = None, delay: float = 0.0,
               set_attrs: dict | None = None) -> subprocess.CompletedProcess:
    """Run `notifier ARGS` and send the process `signal_name` (SIGKILL by default) when
    `module:function` is called (`before`), has returned (`after`), or `delay` seconds after it was
    called (`during`; as it returns if it returns sooner). Patch the name where callers look it up
    (the module that calls it). `nth`: on its n-th call; `within` ("module:function"): counting only
    calls made while that function is running (in any thread). `set_attrs` {"module:NAME": value}
    sets module constants for the run (JSON values)."""
    assert when in ("before", "after", "during")
    spec = {"target": target, "when": when, "signal": signal_name, "nth": nth, "within": within, "delay": delay,
            "set": set_attrs or {}}
    return subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(spec), *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
