"""`notifier scheduler` as real processes: only the lease holder runs `daily` at DAILY_AT; when it is
killed, the standby takes over and the day completes once — with consented households and the LINE
simulator, each delivery reaching LINE once."""
from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from notifier import clock
from notifier.jobs import lease, scheduler
from notifier.jobs.daily import STEPS
from notifier.models import ImportRun, JobRun
from tests.jobs import test_daily_kills as kills
from tests.jobs.test_daily import drop
from tests.jobs.test_daily_kills import consented_city  # noqa: F401 - a fixture

pytestmark = pytest.mark.slow


def start_scheduler(database_url: str, drop_dir, daily_at: str, log_path, extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "NOTIFIER_ENV": "test", "DATABASE_URL": database_url, "DAILY_DROP_DIR": str(drop_dir),
           "DAILY_AT": daily_at, "SCHEDULER_LEASE_SECONDS": "3", "DAILY_LEASE_SECONDS": "3", **(extra or {})}
    # A session of its own, so killing it takes its `daily` child too (as when a host dies).
    return subprocess.Popen([sys.executable, "-m", "notifier", "scheduler"], env=env, start_new_session=True,
                            stdout=open(log_path, "w"), stderr=subprocess.STDOUT)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def daily_rows(engine):
    with engine.connect() as conn:
        return conn.execute(select(JobRun.run, JobRun.step, JobRun.status, JobRun.host)
                            .where(JobRun.job == "daily").order_by(JobRun.id)).all()


def day_complete(engine) -> bool:
    latest = {}
    for _run, step, status, _host in daily_rows(engine):
        latest[step] = status
    return set(latest) == {s.name for s in STEPS} and set(latest.values()) == {"ok"}


def stored_imports(engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(ImportRun.source, func.count()).where(ImportRun.status == "stored")
                                 .group_by(ImportRun.source)).all())


@pytest.fixture
def setup(app, runner, tmp_path, tiny_exports):
    assert runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"]).exit_code == 0
    return drop(tiny_exports, tmp_path / "drop"), app.extensions["db_engine"]


def soon(seconds: int) -> str:
    return (clock.now_jst() + dt.timedelta(seconds=seconds)).strftime("%H:%M:%S")


def test_two_schedulers_run_the_daily_job_once(setup, database_url, tmp_path):
    drop_dir, engine = setup
    at = soon(8)
    procs = [start_scheduler(database_url, drop_dir, at, tmp_path / f"s{i}.log") for i in range(2)]
    try:
        wait_for(lambda: day_complete(engine), 90, "the daily run to complete")
        time.sleep(4)                                  # give the standby every chance to run it again
        runs = {run for run, *_ in daily_rows(engine)}
        assert len(runs) == 1, daily_rows(engine)
        assert set(stored_imports(engine).values()) == {1}
        holder = lease.current(engine, scheduler.LEASE).holder
        assert holder.split(":")[1] in {str(p.pid) for p in procs}
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    assert all(p.returncode == 0 for p in procs), [open(tmp_path / f"s{i}.log").read()[-1500:] for i in range(2)]


def test_when_the_active_scheduler_dies_mid_run_the_standby_completes_the_day_once(setup, database_url, tmp_path):
    drop_dir, engine = setup
    at = soon(6)
    first = start_scheduler(database_url, drop_dir, at, tmp_path / "first.log")
    wait_for(lambda: lease.current(engine, scheduler.LEASE), 30, "the first scheduler to take the lease")
    second = start_scheduler(database_url, drop_dir, at, tmp_path / "second.log")
    try:
        # Kill the active scheduler and its `daily` child while the run is under way.
        wait_for(lambda: any(status == "running" for *_x, status, _h in daily_rows(engine)), 60,
                 "the daily run to start")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        wait_for(lambda: day_complete(engine), 120, "the standby to complete the day")
        imports = stored_imports(engine)
        assert len(imports) == 17 and set(imports.values()) == {1}, imports   # each export once
        rows = daily_rows(engine)
        killed_run = rows[0][0]                        # the run cut short with the first scheduler
        assert any(run != killed_run and status == "ok" for run, _s, status, _h in rows), rows
        assert str(second.pid) in lease.current(engine, scheduler.LEASE).holder
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=60)
    assert second.returncode == 0, open(tmp_path / "second.log").read()[-2000:]


def test_when_the_active_scheduler_dies_mid_dispatch_the_standby_completes_the_day_and_each_delivery_reaches_line_once(
        consented_city, database_url, tmp_path):  # noqa: F811
    city, engine, sim = consented_city, consented_city.engine, consented_city.sim
    day = city.day                                    # the scheduler's daily runs for today (JST)
    rng = random.Random(kills.SEED)
    # LINE answers each push 0.15 s after accepting it, two at a time: the kill finds pushes in flight.
    sim.state.set_faults(delay=0.15)
    env = kills.daily_env(database_url, city, DISPATCH_THREADS=2, DAILY_LEASE_SECONDS=3)
    at = soon(6)
    first = start_scheduler(database_url, city.drop, at, tmp_path / "first.log", env)
    wait_for(lambda: lease.current(engine, scheduler.LEASE), 30, "the first scheduler to take the lease")
    second = start_scheduler(database_url, city.drop, at, tmp_path / "second.log", env)
    accepted = rng.randint(3, 20)                     # pushes LINE has accepted when the host dies
    why = f"seed {kills.SEED} (DAILY_KILL_SEED): killed after {accepted} pushes"
    try:
        deadline = time.monotonic() + 90
        while len(kills.pushes(sim)) < accepted:
            assert time.monotonic() < deadline and first.poll() is None, \
                (why, open(tmp_path / "first.log").read()[-2000:])
            time.sleep(0.02)
        # Kill the active scheduler and its `daily` child in the middle of the sending.
        os.killpg(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        first.wait(timeout=30)
        assert kills.latest_steps(engine, day).get("dispatch") == "running" and kills.unsent(engine) > 0, why
        seen_at_kill = len(kills.pushes(sim))
        wait_for(lambda: str(second.pid) in lease.current(engine, scheduler.LEASE).holder, 60,
                 "the standby to take the lease")
        assert time.monotonic() - killed_at < 60, why        # within a minute
        wait_for(lambda: kills.latest_steps(engine, day) == dict.fromkeys(kills.STEPS, "ok")
                 and kills.unsent(engine) == 0, 90, "the standby to complete the day")
        time.sleep(4)                                 # give either scheduler every chance to run it again
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=60)
    assert second.returncode == 0, open(tmp_path / "second.log").read()[-2000:]
    # The day completed once: one eligibility run, each consented household's notices once ...
    expected = kills.expected_notices(engine, day, city.users)
    assert {h for h, r in expected if r == "hitorioya"} == set(city.users), why
    made = kills.notices(engine, "notice")
    assert sorted((n.setai_no, n.rule_id) for n in made) == sorted(expected), why
    assert sorted(d.notice_id for d in kills.deliveries(engine)) == sorted(n.id for n in made), why
    # ... and each delivery's retry key reached LINE once: those in flight at the kill were sent again
    # with their own key (409, nothing delivered twice).
    kills.assert_each_delivery_reached_line_once(engine, sim, why)
    assert len(kills.pushes(sim)) == len(made) > seen_at_kill, why
    assert sim.state.count_requests("/v2/bot/message/push", 409) >= 1, why
    with engine.connect() as conn:
        today = conn.execute(select(JobRun.run, JobRun.step, JobRun.status)
                             .where(JobRun.job == "daily", JobRun.business_date == day).order_by(JobRun.id)).all()
    assert len({r.run for r in today}) == 2, (why, today)           # the killed run and the standby's catch-up
    assert [r.step for r in today if r.status == "ok"].count("eligibility") == 1, (why, today)
    assert [r.step for r in today if r.status == "ok"].count("enqueue") == 1, (why, today)
