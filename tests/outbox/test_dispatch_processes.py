"""The dispatcher as operators run it (`notifier notify dispatch`, its own process) against the
simulator over HTTP: SIGKILLed three times mid-run and restarted, every delivery reaches LINE exactly
once; under 10% server errors and 10% slow answers every delivery ends sent or failed with a reason
and none twice; two dispatchers at once share one rate and never one delivery."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import select

from notifier.models import Delivery
from tests.conftest import LINE_TOKEN
from tests.outbox.builders import queue, residents, statuses

pytestmark = pytest.mark.slow

NOTIFIER = os.path.join(os.path.dirname(sys.executable), "notifier")


def env_for(database_url: str, sim_url: str, **extra) -> dict:
    return {**os.environ, "NOTIFIER_ENV": "development", "DATABASE_URL": database_url, "LINE_API_BASE_URL": sim_url,
            "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN, "QUIET_HOURS": "off", "PUSH_RATE_PER_SECOND": "0",
            "DISPATCH_CLAIM_STALE_SECONDS": "1", **{k: str(v) for k, v in extra.items()}}


def pushes(sim) -> Counter:
    with sim.state.lock:
        return Counter(c.retry_key for c in sim.state.chat if c.sender == "bot" and c.via == "push")


def push_times(sim) -> list[int]:
    with sim.state.lock:
        return sorted(c.timestamp for c in sim.state.chat if c.sender == "bot" and c.via == "push")


def make(line_stack, tmp_path, n: int) -> tuple[object, list[int]]:
    engine = line_stack.app.extensions["db_engine"]
    atena = residents(line_stack.app, tmp_path / "city", n)
    users = [line_stack.sim.state.add_user(f"住民{i}", friend=True).user_id for i in range(n)]
    return engine, queue(engine, atena, users)


def keys(engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Delivery.id, Delivery.retry_key)).all())


def test_killed_three_times_each_delivery_reaches_line_exactly_once(line_stack, tmp_path, database_url):
    engine, ids = make(line_stack, tmp_path, 2000)
    env = env_for(database_url, line_stack.sim_url)
    rng = random.Random(20261202)
    kills = 0
    while kills < 3:
        proc = subprocess.Popen([NOTIFIER, "notify", "dispatch", "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(1.0, 2.5))      # start-up is ~1 s: kill somewhere inside the sending
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        sent_so_far = sum(pushes(line_stack.sim).values())
        assert sent_so_far < 2000, "the run finished before it was killed three times: make it longer"
    time.sleep(1.2)                            # the dead runs' claims become stale (DISPATCH_CLAIM_STALE_SECONDS=1)
    final = subprocess.run([NOTIFIER, "notify", "dispatch", "--json"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    seen = pushes(line_stack.sim)
    assert set(statuses(engine).values()) == {"sent"}
    assert seen == Counter({key: 1 for key in keys(engine).values()})
    assert json.loads(final.stdout)["recovered"] >= 1 or sum(seen.values()) == 2000


def test_under_server_errors_and_slow_answers_each_delivery_ends_sent_or_failed_and_none_twice(
        line_stack, tmp_path, database_url):
    engine, ids = make(line_stack, tmp_path, 300)
    line_stack.sim.state.set_faults(error_rate=0.1, error_after_accept_rate=0.0, delay=12.0, delay_rate=0.1)
    env = env_for(database_url, line_stack.sim_url)
    # Each run retries what is due; a test cannot wait out real backoff, so the retries are made due.
    for _ in range(12):
        subprocess.run([NOTIFIER, "notify", "dispatch", "--json"], env=env, capture_output=True, text=True,
                       timeout=600, check=True)
        with engine.begin() as conn:
            conn.execute(Delivery.__table__.update().where(Delivery.status == "queued")
                         .values(next_attempt_at=None))
        if "queued" not in set(statuses(engine).values()):
            break
    final = statuses(engine)
    assert set(final.values()) <= {"sent", "failed"}, Counter(final.values())
    seen = pushes(line_stack.sim)
    assert max(seen.values()) == 1
    with engine.connect() as conn:
        sent_keys = set(conn.execute(select(Delivery.retry_key).where(Delivery.status == "sent")).scalars())
        failed = conn.execute(select(Delivery.error_message).where(Delivery.status == "failed")).scalars().all()
    assert set(seen) == sent_keys                      # what LINE delivered is exactly what is marked sent
    assert all(failed)


def test_two_dispatchers_share_one_rate_and_never_one_delivery(line_stack, tmp_path, database_url):
    engine, ids = make(line_stack, tmp_path, 600)
    env = env_for(database_url, line_stack.sim_url, PUSH_RATE_PER_SECOND=50)
    procs = [subprocess.Popen([NOTIFIER, "notify", "dispatch", "--json"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1500:] for o in outs]
    sent = [json.loads(o[0])["sent"] for o in outs]
    assert sum(sent) == 600 and min(sent) > 100                 # both really sent
    seen = pushes(line_stack.sim)
    assert len(seen) == 600 and max(seen.values()) == 1
    times = push_times(line_stack.sim)
    rate = (len(times) - 1) / ((times[-1] - times[0]) / 1000)
    assert 47.5 <= rate <= 52.5, rate
