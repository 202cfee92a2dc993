"""The dispatcher against the LINE simulator over HTTP, through the real line-bot-sdk: each delivery
once, never without consent, never in quiet hours, retries with the same key, a quota stop that
marks nothing failed, and recovery of what a killed dispatcher left behind."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta

import pytest
import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from notifier import clock
from notifier.line.client import LineClient
from notifier.models import Delivery, LineAccount, Notice, OutboxAlert
from notifier.outbox import dispatch as d
from tests.conftest import LINE_TOKEN
from tests.outbox.builders import queue, residents, statuses, withdraw

QUIET = (time(20, 0), time(9, 0))
# 10:00 JST tomorrow: after every row the set-up makes (due now), inside sending hours.
DAYTIME = datetime.combine(clock.today_jst() + timedelta(days=1), time(10, 0))


@pytest.fixture
def stack(line_stack, tmp_path):
    engine = line_stack.app.extensions["db_engine"]
    client = LineClient(line_stack.sim_url, LINE_TOKEN, timeout=(2, 1.5))
    yield line_stack, engine, client
    client.close()


def pushes(sim) -> Counter:
    """Messages the simulator put in chats by push, per retry key."""
    with sim.state.lock:
        return Counter(c.retry_key for c in sim.state.chat if c.sender == "bot" and c.via == "push")


def setup(stack, tmp_path, n: int, **kw) -> tuple[list[str], list[int]]:
    line_stack, engine, _ = stack
    atena = residents(line_stack.app, tmp_path / "city", n)
    users = [line_stack.sim.state.add_user(f"住民{i}", friend=True).user_id for i in range(n)]
    return atena, queue(engine, atena, users, **kw)


def run(stack, **kw):
    _, engine, client = stack
    with clock.at(kw.pop("at", DAYTIME)):
        return d.dispatch(engine, client, quiet_hours=kw.pop("quiet", QUIET), rate_per_second=kw.pop("rate", None), **kw)


def test_each_delivery_goes_once_with_its_retry_key_and_a_second_run_sends_nothing(stack, tmp_path):
    atena, ids = setup(stack, tmp_path, 30)
    result = run(stack)
    assert (result.sent, result.failed, result.retried) == (30, 0, 0)
    _, engine, _ = stack
    with engine.connect() as conn:
        rows = conn.execute(select(Delivery.retry_key, Delivery.status, Delivery.line_request_id, Delivery.attempts)).all()
        assert {r.status for r in rows} == {"sent"} and all(r.line_request_id for r in rows)
        assert conn.execute(select(Notice.first_sent_at)).scalars().all().count(None) == 0
    seen = pushes(stack[0].sim)
    assert seen == Counter({r.retry_key: 1 for r in rows})           # one Flex message per delivery
    assert run(stack).sent == 0 and pushes(stack[0].sim) == seen


def test_nothing_is_sent_in_quiet_hours(stack, tmp_path):
    setup(stack, tmp_path, 3)
    late = run(stack, at=DAYTIME.replace(hour=20, minute=30))
    early = run(stack, at=DAYTIME.replace(hour=8, minute=59) + timedelta(days=1))
    assert late.quiet_hours and early.quiet_hours and not pushes(stack[0].sim)
    assert run(stack, at=DAYTIME.replace(hour=20, minute=30), quiet=None).sent == 3       # QUIET_HOURS=off


def test_a_withdrawal_an_unfollow_or_a_move_after_enqueue_cancels_with_the_reason(stack, tmp_path):
    atena, ids = setup(stack, tmp_path, 4)
    _, engine, _ = stack
    withdraw(engine, atena[0])
    with engine.begin() as conn:
        conn.execute(update(LineAccount).where(LineAccount.atena_no == atena[1]).values(reachable=False))
        conn.execute(__import__("sqlalchemy").text("UPDATE src_juminhyo SET removed_on = :d WHERE atena_no = :a"),
                     {"d": clock.today_jst(), "a": atena[2]})
    result = run(stack)
    assert (result.sent, result.cancelled) == (1, 3)
    with engine.connect() as conn:
        reasons = dict(conn.execute(select(Delivery.atena_no, Delivery.cancel_reason)).all())
    assert reasons == {atena[0]: "withdrawn", atena[1]: "unfollowed", atena[2]: "moved_out", atena[3]: None}
    assert sum(pushes(stack[0].sim).values()) == 1


def test_server_errors_are_retried_later_with_the_same_key_and_bad_requests_fail_with_lines_reason(stack, tmp_path):
    atena, ids = setup(stack, tmp_path, 2)
    line_stack, engine, _ = stack
    line_stack.sim.state.set_faults(error_rate=1.0)
    first = run(stack)
    assert (first.sent, first.retried) == (0, 2)
    with Session(engine) as s:
        row = s.get(Delivery, ids[0])
        assert row.status == "queued" and row.attempts == 1 and row.error_status == 500
        assert row.next_attempt_at > clock.jst_to_utc(DAYTIME) + timedelta(seconds=40)
    assert run(stack).sent == 0                                        # not due yet
    line_stack.sim.state.set_faults(error_rate=0.0)
    with engine.begin() as conn:
        conn.execute(update(Delivery).where(Delivery.id == ids[1]).values(message='[{"type": "text", "text": ""}]'))
    later = run(stack, at=DAYTIME + timedelta(hours=2))
    assert (later.sent, later.failed) == (1, 1)
    with Session(engine) as s:
        bad = s.get(Delivery, ids[1])
    assert bad.status == "failed" and bad.error_status == 400 and bad.error_message


def test_after_the_last_attempt_a_delivery_fails_with_the_reason(stack, tmp_path):
    atena, ids = setup(stack, tmp_path, 1)
    line_stack, engine, _ = stack
    line_stack.sim.state.set_faults(error_rate=1.0)
    with engine.begin() as conn:
        conn.execute(update(Delivery).values(attempts=d.MAX_ATTEMPTS - 1, first_attempt_at=clock.jst_to_utc(DAYTIME)))
    result = run(stack)
    assert result.failed == 1
    with engine.connect() as conn:
        assert "10回試しても送れませんでした" in conn.execute(select(Delivery.error_message)).scalar()


def sim_config(stack, **config) -> dict:
    """Set the simulator's rate limit (and its Retry-After) through its control API."""
    response = requests.post(f"{stack[0].sim_url}/_sim/config", json=config, timeout=10)
    response.raise_for_status()
    return response.json()


def push_log(sim) -> list[tuple[str, int]]:
    """(retry key, status) of every push the simulator answered, in order."""
    with sim.state.lock:
        return [(r["retry_key"], r["status"]) for r in sim.state.requests if r["path"] == "/v2/bot/message/push"]


def test_a_rate_limited_push_waits_as_long_as_line_asks_and_then_goes_once_with_the_same_key(stack, tmp_path):
    atena, ids = setup(stack, tmp_path, 3)
    line_stack, engine, _ = stack
    start = clock.jst_to_utc(DAYTIME)
    with engine.begin() as conn:   # each on its last attempt: a 429 must not use it up
        conn.execute(update(Delivery).values(attempts=d.MAX_ATTEMPTS - 1, first_attempt_at=start))
        keys = dict(conn.execute(select(Delivery.id, Delivery.retry_key)).all())
    sim_config(stack, rate_limit_per_second=1, rate_limit_retry_after=30)
    first = run(stack, threads=1)
    assert (first.sent, first.retried, first.failed) == (1, 2, 0)
    with Session(engine) as s:
        waiting = s.scalars(select(Delivery).where(Delivery.status == "queued")).all()
    assert len(waiting) == 2
    for row in waiting:
        assert (row.error_status, row.error_message) == (429, "Too Many Requests")
        assert row.next_attempt_at == start + timedelta(seconds=30)
        assert row.attempts == d.MAX_ATTEMPTS - 1 and row.claimed_by is None
    limited = {key for key, status in push_log(line_stack.sim) if status == 429}
    assert limited == {keys[row.id] for row in waiting}

    sim_config(stack, rate_limit_per_second=None)
    assert run(stack, at=DAYTIME + timedelta(seconds=29)).sent == 0          # not before LINE's time
    assert len(push_log(line_stack.sim)) == 3
    later = run(stack, at=DAYTIME + timedelta(seconds=30))
    assert (later.sent, later.retried, later.failed) == (2, 0, 0)
    assert set(statuses(engine).values()) == {"sent"}
    assert {key for key, status in push_log(line_stack.sim)[3:] if status == 200} == limited
    assert pushes(line_stack.sim) == Counter({key: 1 for key in keys.values()})


def test_without_a_retry_after_a_rate_limited_push_waits_rate_limited_retry_seconds(stack, tmp_path):
    atena, ids = setup(stack, tmp_path, 2)
    line_stack, engine, _ = stack
    sim_config(stack, rate_limit_per_second=1)                                # as LINE: no Retry-After
    assert run(stack, threads=1).retried == 1
    with Session(engine) as s:
        row = s.scalars(select(Delivery).where(Delivery.status == "queued")).one()
    assert row.error_status == 429 and row.attempts == 0
    assert row.next_attempt_at == clock.jst_to_utc(DAYTIME) + timedelta(seconds=d.RATE_LIMITED_RETRY_SECONDS)
    sim_config(stack, rate_limit_per_second=None)
    assert run(stack, at=DAYTIME + timedelta(seconds=d.RATE_LIMITED_RETRY_SECONDS)).sent == 1
    with engine.connect() as conn:
        keys = conn.execute(select(Delivery.retry_key)).scalars().all()
    assert pushes(line_stack.sim) == Counter({key: 1 for key in keys})


def test_the_monthly_quota_stops_the_run_marks_nothing_failed_and_alerts_staff(stack, tmp_path):
    setup(stack, tmp_path, 5)
    line_stack, engine, _ = stack
    line_stack.sim.state.set_faults(quota_exhausted=True)
    result = run(stack)
    assert result.stopped_for_quota and result.sent == 0 and result.failed == 0
    assert set(statuses(engine).values()) == {"queued"}
    with engine.connect() as conn:
        assert conn.execute(select(Delivery.attempts)).scalars().all() == [0] * 5
        assert conn.execute(select(OutboxAlert.kind).where(OutboxAlert.cleared_at.is_(None))).scalars().all() == ["quota"]
    line_stack.sim.state.set_faults(quota_exhausted=False)
    assert run(stack).paused_by_alert                                   # until staff clear the alert
    with engine.begin() as conn:
        conn.execute(update(OutboxAlert).values(cleared_at=clock.now()))
    assert run(stack).sent == 5


def test_a_quota_stop_puts_the_batch_claimed_ahead_back_in_the_queue_unattempted(stack, tmp_path, monkeypatch):
    # Batches of 2: while the first is sent, the second is already claimed and checked.
    monkeypatch.setattr(d, "BATCH", 2)
    setup(stack, tmp_path, 5)
    line_stack, engine, _ = stack
    line_stack.sim.state.set_faults(quota_exhausted=True)
    result = run(stack)
    assert result.stopped_for_quota and (result.sent, result.failed, result.cancelled) == (0, 0, 0)
    with engine.connect() as conn:
        rows = conn.execute(select(Delivery.status, Delivery.attempts, Delivery.claimed_by)).all()
    assert sorted(rows) == [("queued", 0, None)] * 5


def test_a_quota_stop_still_counts_the_cancellations_of_the_batch_claimed_ahead(stack, tmp_path, monkeypatch):
    monkeypatch.setattr(d, "BATCH", 2)
    atena, ids = setup(stack, tmp_path, 5)
    line_stack, engine, _ = stack
    withdraw(engine, atena[2])                      # in the second batch (ids in order), checked ahead
    line_stack.sim.state.set_faults(quota_exhausted=True)
    result = run(stack)
    assert result.stopped_for_quota and result.cancelled == 1 and result.cancel_reasons == {"withdrawn": 1}
    assert Counter(statuses(engine).values()) == {"queued": 4, "cancelled": 1}


def test_batches_claimed_ahead_send_each_delivery_once(stack, tmp_path, monkeypatch):
    monkeypatch.setattr(d, "BATCH", 2)
    setup(stack, tmp_path, 7)
    line_stack, engine, _ = stack
    result = run(stack)
    assert result.sent == 7 and set(statuses(engine).values()) == {"sent"}
    assert sorted(pushes(line_stack.sim).values()) == [1] * 7


def test_a_limit_counts_the_batches_claimed_ahead(stack, tmp_path, monkeypatch):
    monkeypatch.setattr(d, "BATCH", 2)
    setup(stack, tmp_path, 7)
    _line_stack, engine, _ = stack
    assert run(stack, limit=3).sent == 3
    assert Counter(statuses(engine).values()) == {"sent": 3, "queued": 4}


def test_a_delivery_left_sending_is_resent_with_its_key_or_becomes_unknown_after_23_hours(stack, tmp_path):
    atena, ids = setup(stack, tmp_path, 2)
    line_stack, engine, client = stack
    start = clock.jst_to_utc(DAYTIME)
    with engine.connect() as conn:
        key = conn.execute(select(Delivery.retry_key).where(Delivery.id == ids[0])).scalar()
        user = conn.execute(select(LineAccount.line_user_id).join(Delivery, Delivery.line_account_id == LineAccount.id)
                            .where(Delivery.id == ids[0])).scalar()
    # A dispatcher sent ids[0] (LINE accepted it) and was killed before writing the outcome;
    # ids[1] was claimed 23½ hours ago by a dispatcher that died.
    client.push(user, [{"type": "text", "text": "x"}], key)
    with engine.begin() as conn:
        conn.execute(update(Delivery).where(Delivery.id == ids[0]).values(
            status="sending", attempts=1, first_attempt_at=start - timedelta(minutes=10),
            claimed_at=start - timedelta(minutes=10)))
        conn.execute(update(Delivery).where(Delivery.id == ids[1]).values(
            status="sending", attempts=1, first_attempt_at=start - timedelta(hours=23, minutes=30),
            claimed_at=start - timedelta(hours=23, minutes=30)))
    result = run(stack)
    assert (result.recovered, result.unknown, result.sent) == (1, 1, 1)
    assert statuses(engine) == {ids[0]: "sent", ids[1]: "unknown"}
    assert pushes(line_stack.sim)[key] == 1                            # the 409 counted as sent, not sent again


def test_two_claims_never_share_a_delivery(stack, tmp_path):
    setup(stack, tmp_path, 40)
    _, engine, _ = stack
    now = clock.now()
    a = d.claim(engine, 25, now, "a")
    b = d.claim(engine, 25, now, "b")
    assert len(a) == 25 and len(b) == 15 and not set(a) & set(b)


def test_quiet_hours_wrap_midnight():
    assert d.in_quiet_hours(QUIET, datetime(2026, 7, 1, 23, 0))
    assert d.in_quiet_hours(QUIET, datetime(2026, 7, 1, 3, 0))
    assert not d.in_quiet_hours(QUIET, datetime(2026, 7, 1, 9, 0))
    assert d.in_quiet_hours((time(12, 0), time(13, 0)), datetime(2026, 7, 1, 12, 30))
    assert not d.in_quiet_hours(None, datetime(2026, 7, 1, 23, 0))


def test_the_dispatcher_starts_without_pandas():
    # Each dispatcher process pays its imports before its first push: pandas would add half a second.
    import subprocess
    import sys
    code = ("import sys, notifier.outbox.dispatch, notifier.outbox.cli, notifier.line.client; "
            "print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
