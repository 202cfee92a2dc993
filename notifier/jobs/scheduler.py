"""`notifier scheduler`: APScheduler 3 in its own process, running `notifier daily` at DAILY_AT (JST).

Only one scheduler acts at a time, even when two are started on two hosts: each waits for the
`scheduler` lease in the database and starts APScheduler (its job store in the same database) only
while it holds it; a standby takes over within about half a minute of the active one dying. A day
whose run was cut short (the host died mid-run) is caught up once when a scheduler takes over.
Each job runs as a child process (`python -m notifier daily`), so a crash or a memory peak stays
there. SIGTERM stops the scheduler after the current step of a running job. One log line per job
start and end, with counts only.
"""
from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from notifier import clock
from notifier.jobs import lease

log = logging.getLogger(__name__)

LEASE = "scheduler"

_child_lock = threading.Lock()
_child: subprocess.Popen | None = None


def _run_child(args: list[str], job: str | None = None) -> int:
    """Run `python -m notifier ARGS --json`; log one line at its start and one at its end."""
    global _child
    job = job or args[0]
    cmd = [sys.executable, "-m", "notifier", *args, "--json"]
    log.info("job %s start", job, extra={"job": job})
    with _child_lock:
        _child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc = _child
    out, err = proc.communicate()
    with _child_lock:
        _child = None
    log_end(job, proc.returncode, out, err)
    return proc.returncode


# Only these leave the child in the log line: step names, statuses, count names and numbers, error
# classes. Never a note, a message or stderr text (they can name a file, a household or a person).
_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}\Z")
_STEP_ERROR = re.compile(r"([A-Za-z_][A-Za-z0-9_.]{0,80}):")         # daily's "ClassName: message"
_STDERR_ERROR = re.compile(r"([A-Za-z_][A-Za-z0-9_.]{0,80}(?:Error|Exception|Exit|Interrupt|Timeout)):")


def _numbers(values) -> dict:
    """The numeric counts of a mapping, under plain names (no nested or text values)."""
    if not isinstance(values, dict):
        return {}
    return {k: v for k, v in values.items() if isinstance(k, str) and _NAME.match(k)
            and isinstance(v, (bool, int, float))}


def _error_class(error, pattern: re.Pattern = _STEP_ERROR) -> str:
    match = pattern.match(error) if isinstance(error, str) else None
    return match.group(1) if match else "error"


def end_summary(returncode: int, out: str, err: str) -> tuple[str, dict]:
    """The end line's text and its structured form, from the child's JSON (counts only) and, when it
    failed, the failed steps with their error classes or a short code — never the raw stderr."""
    try:
        payload = json.loads(out.strip().splitlines()[-1]) if (out or "").strip() else {}
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    steps, failed = {}, {}
    for s in payload.get("steps") or []:
        if isinstance(s, dict) and _NAME.match(str(s.get("step"))):
            status = str(s.get("status")) if _NAME.match(str(s.get("status"))) else "?"
            steps[s["step"]] = {"status": status, "counts": _numbers(s.get("counts"))}
            if status == "failed":
                failed[s["step"]] = _error_class(s.get("error"))
    parts = [f"exit {returncode}"]
    failure = None
    if returncode != 0:
        if failed:
            failure = ", ".join(f"{name} {cls}" for name, cls in failed.items())
        elif returncode < 0:
            failure = f"signal {-returncode}"
        elif payload.get("stopped"):
            failure = "stopped"
        elif payload.get("stopped_for_quota"):
            failure = "stopped_for_quota"
        else:
            last = (err or "").strip().splitlines()[-1:] or [""]
            failure = "CommandError" if last[0].startswith("Error: ") else _error_class(last[0].strip(), _STDERR_ERROR)
        parts.append(f"failed: {failure}")
    if steps:
        parts += [f"{name} {s['status']}" + (" " + " ".join(f"{k}={v}" for k, v in s["counts"].items())
                                              if s["counts"] else "") for name, s in steps.items()]
    else:
        counts = _numbers(payload)
        if counts:
            parts.append(" ".join(f"{k}={v}" for k, v in counts.items()))
    return "; ".join(parts), {"exit": returncode, "failure": failure, "steps": steps or None,
                              "counts": None if steps else _numbers(payload)}


def log_end(job: str, returncode: int, out: str, err: str) -> None:
    text, summary = end_summary(returncode, out, err)
    log.log(logging.INFO if returncode == 0 else logging.WARNING, "job %s end: %s", job, text,
            extra={"job": job, **summary})


def _child_running() -> bool:
    with _child_lock:
        return _child is not None and _child.poll() is None


def daily_job() -> None:
    """The scheduled daily run for today's business date (JST)."""
    _run_child(["daily", "--as-of", clock.today_jst().isoformat()])


def dispatch_job() -> None:
    """Every DISPATCH_EVERY_MINUTES: send what is due (the dispatcher itself sends nothing in quiet
    hours). Skipped while a daily run is going: its last step is the same dispatch."""
    if _child_running():
        log.info("job dispatch skipped: another job is running")
        return
    _run_child(["notify", "dispatch"], job="dispatch")


def daily_incomplete_today(engine: Engine, daily_at) -> bool:
    """True after today's DAILY_AT when today's run was cut short: a step never ran, or was left
    running or stopped. A step that failed is not retried automatically (it needs a person)."""
    from notifier.jobs.daily import JOB, STEPS
    from notifier.models import JobRun
    now = clock.now_jst()
    if now.time() < daily_at:
        return False
    today = now.date()
    with engine.connect() as conn:
        latest = select(JobRun.step, func.max(JobRun.id).label("id")).where(
            JobRun.job == JOB, JobRun.business_date == today).group_by(JobRun.step).subquery()
        status = dict(conn.execute(select(JobRun.step, JobRun.status).join(latest, JobRun.id == latest.c.id)).all())
    return any(status.get(s.name) in (None, "running", "stopped") for s in STEPS) and \
        "failed" not in status.values()


def _scheduler(engine: Engine, config: dict):
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    at = config["DAILY_AT"]
    sched = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")},
        executors={"default": ThreadPoolExecutor(2)}, timezone=clock.JST,
        # A missed run is caught up once (coalesce), if it is at most 6 hours late.
        job_defaults={"coalesce": True, "misfire_grace_time": 6 * 3600, "max_instances": 1})
    sched.add_job("notifier.jobs.scheduler:daily_job", CronTrigger(hour=at.hour, minute=at.minute,
                                                                    second=at.second, timezone=clock.JST),
                  id="daily", name="daily", replace_existing=True)
    from apscheduler.triggers.interval import IntervalTrigger
    every = max(1, int(config.get("DISPATCH_EVERY_MINUTES") or 5))
    sched.add_job("notifier.jobs.scheduler:dispatch_job", IntervalTrigger(minutes=every, timezone=clock.JST),
                  id="dispatch", name="dispatch", replace_existing=True,
                  misfire_grace_time=every * 60)    # a missed dispatch is not worth catching up later
    return sched


def run_scheduler(engine: Engine, config: dict, *, stop: threading.Event | None = None) -> None:
    """Wait for the lease, schedule while holding it, stand by again if it is lost; until SIGTERM."""
    stop = stop or threading.Event()

    def on_signal(signum, _frame):
        log.info("scheduler: signal %s, stopping after the current step", signum)
        stop.set()
        with _child_lock:
            if _child is not None and _child.poll() is None:
                _child.send_signal(signal.SIGTERM)      # `daily` finishes its current step, then stops
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    holder = lease.holder_id()
    ttl = float(config.get("SCHEDULER_LEASE_SECONDS") or 30)
    log.info("scheduler %s started; waiting for the lease", holder)
    while not stop.is_set():
        held = lease.Held(engine, LEASE, ttl=ttl, renew_every=ttl / 3, holder=holder)
        if not held.acquire():
            stop.wait(min(5.0, ttl / 6))
            continue
        log.info("scheduler %s holds the lease at %s", holder, clock.now_jst().isoformat(timespec="seconds"))
        sched = _scheduler(engine, config)
        sched.start()
        try:
            checked = 0.0
            while not stop.is_set() and not held.lost.is_set():
                # Catch up a day that a dead scheduler (or host) cut short, once, when nothing runs.
                if time.monotonic() - checked >= 30 and not _child_running() and \
                        sched.get_job("daily-catch-up") is None and daily_incomplete_today(engine, config["DAILY_AT"]):
                    log.info("scheduler: today's daily run is incomplete; catching up")
                    sched.add_job("notifier.jobs.scheduler:daily_job", id="daily-catch-up", replace_existing=True)
                if time.monotonic() - checked >= 30:
                    checked = time.monotonic()
                stop.wait(1.0)
        finally:
            # On SIGTERM wait for a running job (its child stops after the current step); when the
            # lease was lost, stop scheduling at once — another scheduler acts now.
            sched.shutdown(wait=stop.is_set())
            held.release()
            if held.lost.is_set():
                log.warning("scheduler %s lost the lease; standing by", holder)
    log.info("scheduler %s stopped", holder)
