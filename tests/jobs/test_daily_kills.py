"""Issue 12: `notifier daily` SIGKILLed inside enqueue, dispatch and follow-up, again and again, then
run to completion: the day completes once, with deliveries counted at the LINE simulator.

The city is the tiny generated one plus households made here: a mother (世帯主) and her daughter,
each mother with an online application ID (procedure code `kyufukin`, which no rule reads as a
response). The exports land in the drop folder; the evening `daily` of D-1 imports them; the mothers
follow the account, link with their application ID and consent on their simulated phones (signed
webhooks). Then `notifier daily --as-of D` runs as a real process against the simulator over HTTP and
kills itself (tests/faults.py) at seeded random points inside enqueue and inside dispatch (after some
pushes, before all are marked sent); then once to the end. On D+15 the same inside follow-up (which
makes the reminders) and dispatch. Each notice, reminder and delivery exists once, and each delivery's
retry key reached the simulator exactly once (the simulator answers 409 to a key it has accepted and
delivers nothing).

DAILY_KILL_SEED picks other kill points (the seed is in every assertion message).
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from notifier import clock
from notifier.cli import register
from notifier.config import REPO_ROOT
from notifier.line import messages
from notifier.models import Delivery, EligibilityMatch, EligibilityRun, ImportRun, LineAccount, Notice
from tests.conftest import LINE_TOKEN, TEST_SECRET
from tests.faults import run_killed
from tests.jobs.test_daily import drop

pytestmark = pytest.mark.slow

HOUSEHOLDS = 20
SEED = int(os.environ.get("DAILY_KILL_SEED", "20261203"))
BATCH = 8                      # the dispatcher's batch in the killed runs: several batches per run
PUSH = "/v2/bot/message/push"


# --- the city -------------------------------------------------------------------------------------
def _append(path, lines: list[str]) -> None:
    """Append CSV lines in the file's own encoding (UTF-8 with or without BOM, or cp932) and line ending."""
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        encoding, text = "cp932", raw.decode("cp932")
    newline = "\r\n" if "\r\n" in text else "\n"
    if not text.endswith(newline):
        text += newline
    path.write_bytes((text + "".join(line + newline for line in lines)).encode(encoding))


def add_households(folder, n: int, day: date) -> dict[str, tuple[str, str]]:
    """n single-parent households (mother 35, daughter 8 on `day`; no 児童扶養手当, 児童手当 or 子ども医療)
    in juminhyo.csv, each mother with an online application. Returns 世帯番号 → (mother's 宛名番号, 申請ID)."""
    existing = (folder / "juminhyo.csv").read_bytes()
    out, people, applications = {}, [], []
    for i in range(n):
        setai, mother, child = f"99{i:08d}", f"98{i:08d}", f"97{i:08d}"
        assert setai.encode() not in existing and mother.encode() not in existing
        application = f"KIL-{i:04d}-TEST"
        people += [f"{mother},{setai},試験　花子,シケン　ハナコ,{day.year - 35}-04-02,2,世帯主,272191061001,"
                   f"大阪府和泉市宮ノ上町{i + 1}番地,2010-04-01,,",
                   f"{child},{setai},試験　さくら,シケン　サクラ,{day.year - 8}-04-02,2,子,272191061001,"
                   f"大阪府和泉市宮ノ上町{i + 1}番地,{day.year - 8}-04-02,,"]
        applications.append(f"{application},{mother},kyufukin,物価高騰対策給付金の申請,{day.year - 1}-06-01 10:00:00")
        out[setai] = (mother, application)
    _append(folder / "juminhyo.csv", people)
    _append(folder / "online_shinsei.csv", applications)
    return out


def ok_invoke(runner, args: list[str]) -> str:
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def consented_city(line_stack, tmp_path, tiny_exports):
    """The tiny city and HOUSEHOLDS households of its own in the drop folder, imported by the evening
    run of D-1 (D: today, JST), the shipped rules and templates active, and each new household's mother
    linked and consented (notify; every other one also tax) through signed webhooks."""
    app, sim = line_stack.app, line_stack.sim
    register(app)
    day = clock.today_jst()
    folder = drop(tiny_exports, tmp_path / "drop")
    households = add_households(folder, HOUSEHOLDS, day)
    app.config.update(DAILY_DROP_DIR=str(folder), PUSH_RATE_PER_SECOND=None)
    runner = app.test_cli_runner()
    ok_invoke(runner, ["rules", "load", str(REPO_ROOT / "eligibility_rules"), "--activate"])
    ok_invoke(runner, ["templates", "load", str(REPO_ROOT / "templates" / "messages"), "--activate"])
    evening = json.loads(ok_invoke(runner, ["daily", "--as-of", (day - timedelta(days=1)).isoformat(), "--json"]))
    assert evening["steps"][0]["counts"]["imported"] == 17, evening
    users = {}
    for i, (setai, (_mother, application)) in enumerate(sorted(households.items())):
        user = sim.state.add_user(f"住民{i:02d}").user_id
        users[setai] = user
        assert sim.follow(user)["webhook_status"] == 200
        assert sim.send_text(user, application)["webhook_status"] == 200
        assert sim.postback(user, "consent=notify,tax" if i % 2 else "consent=notify",
                            "お知らせを希望する")["webhook_status"] == 200
        said = [c.message.get("text") for c in sim.state.messages_for(user, sender="bot")]
        assert messages.LINKED in said and {messages.CONSENT_RECORDED_TAX, messages.CONSENT_RECORDED_NOTIFY} & set(said)
    return SimpleNamespace(app=app, engine=app.extensions["db_engine"], sim=sim, sim_url=line_stack.sim_url,
                           drop=folder, day=day, users=users, runner=runner)


def daily_env(database_url: str, city, **extra) -> dict:
    """What an operator's `notifier daily` (or scheduler) sees: the database, the drop folder, the
    simulator as LINE, sending hours open and no rate limit; claims and leases of the dead expire fast."""
    return {"NOTIFIER_ENV": "test", "DATABASE_URL": database_url, "DAILY_DROP_DIR": str(city.drop),
            "LINE_API_BASE_URL": city.sim_url, "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN, "SECRET_KEY": TEST_SECRET,
            "QUIET_HOURS": "off", "PUSH_RATE_PER_SECOND": "0", "DISPATCH_CLAIM_STALE_SECONDS": "1",
            "DAILY_LEASE_SECONDS": "2", **{k: str(v) for k, v in extra.items()}}


# --- what the database and the simulator hold -----------------------------------------------------
def expected_notices(engine, day: date, households) -> set[tuple[str, str]]:
    """(household, rule) of the one eligibility run of `day` for the consented households."""
    with engine.connect() as conn:
        runs = conn.execute(select(EligibilityRun.id).where(EligibilityRun.as_of == day)).scalars().all()
        assert len(runs) == 1, runs
        return {(h, r) for h, r in conn.execute(select(EligibilityMatch.setai_no, EligibilityMatch.rule_id)
                                                .where(EligibilityMatch.run_id == runs[0])) if h in households}


def notices(engine, kind: str) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(select(Notice.id, Notice.setai_no, Notice.rule_id, Notice.as_of, Notice.reminder_of)
                            .where(Notice.kind == kind)).all()


def deliveries(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(Delivery.id, Delivery.notice_id, Delivery.status, Delivery.retry_key,
                                   LineAccount.line_user_id)
                            .join(LineAccount, LineAccount.id == Delivery.line_account_id)).all()


def pushes(sim) -> list:
    """Every push the simulator accepted (a repeated retry key is answered 409 and delivers nothing)."""
    with sim.state.lock:
        return [c for c in sim.state.chat if c.sender == "bot" and c.via == "push"]


def unsent(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Delivery).where(Delivery.status != "sent"))


def assert_each_delivery_reached_line_once(engine, sim, why: str) -> None:
    rows = deliveries(engine)
    seen = pushes(sim)
    assert Counter(r.status for r in rows) == Counter(sent=len(rows)), why
    # Each delivery's retry key reached the simulator exactly once, and nothing else did …
    assert Counter(c.retry_key for c in seen) == Counter({r.retry_key: 1 for r in rows}), why
    # … and each resident got exactly as many pushes as deliveries were made for them.
    assert Counter(c.user_id for c in seen) == Counter(r.line_user_id for r in rows), why


def latest_steps(engine, day: date) -> dict[str, str]:
    from notifier.models import JobRun
    with engine.connect() as conn:
        rows = conn.execute(select(JobRun.step, JobRun.status).where(JobRun.job == "daily", JobRun.business_date == day)
                            .order_by(JobRun.id)).all()
    return dict(rows)


# --- the kill points ------------------------------------------------------------------------------
STEPS = ("import", "link", "eligibility", "enqueue", "followup", "dispatch")
ENQUEUE = "notifier.outbox.enqueue:enqueue"
FOLLOWUP = "notifier.followup.run:run_followup"
REMINDERS = "notifier.outbox.enqueue:enqueue_reminders"


def enqueue_points(rng: random.Random) -> list[dict]:
    """Three random points inside enqueue's transaction, then one after it committed (before the step
    is recorded done): a rerun after that commit finds nothing to add, so it comes last."""
    inside = [dict(target=ENQUEUE, when="during", delay=round(rng.uniform(0.0, 0.15), 3)),
              dict(target="notifier.outbox.enqueue:notifiable_accounts", when="after"),
              dict(target="notifier.outbox.enqueue:_insert_notices", when="after"),       # notices, no deliveries
              dict(target="notifier.bulk:insert_frame", when="after", within=ENQUEUE, nth=2),   # both, no audit
              dict(target="notifier.audit:record", when="before", within=ENQUEUE),
              dict(target=ENQUEUE, when="after")]                                           # not committed
    return rng.sample(inside, 3) + [dict(target="notifier.jobs.daily:StepOutcome", when="before",
                                         within="notifier.jobs.daily:step_enqueue")]


def followup_points(rng: random.Random) -> list[dict]:
    """Three random points inside the follow-up's transaction (it makes the reminders), then one after
    it committed."""
    inside = [dict(target=FOLLOWUP, when="during", delay=round(rng.uniform(0.0, 0.3), 3)),
              dict(target="notifier.followup.run:responses", when="after"),
              dict(target="notifier.followup.run:decide", when="after"),
              dict(target="notifier.outbox.enqueue:_insert_notices", when="after", within=FOLLOWUP),
              dict(target="notifier.bulk:insert_frame", when="after", within=REMINDERS, nth=2),
              dict(target="notifier.audit:record", when="before", within=FOLLOWUP, nth=2),
              dict(target=FOLLOWUP, when="after")]
    return rng.sample(inside, 3) + [dict(target="notifier.jobs.daily:StepOutcome", when="before",
                                         within="notifier.jobs.daily:step_followup")]


def dispatch_point(rng: random.Random, left: int, *, in_flight: bool = False) -> dict:
    """A point inside dispatch with `left` deliveries to send, after some pushes and before all are
    marked sent: after the k-th send was answered (the rest of its batch in flight or waiting, none of
    it written), or just before / after the j-th batch's outcomes are written. `in_flight`: the first."""
    batches = -(-left // BATCH)
    choices = [dict(target="notifier.outbox.dispatch:_send_one", when="after", nth=rng.randint(1, left))]
    if not in_flight:
        choices.append(dict(target="notifier.outbox.dispatch:_write", when="before", nth=rng.randint(1, batches)))
        if batches > 1:
            choices.append(dict(target="notifier.outbox.dispatch:_write", when="after",
                                nth=rng.randint(1, batches - 1)))
    return rng.choice(choices)


def kill_daily(day: date, env: dict, point: dict, why: str) -> None:
    killed = run_killed(point["target"], ["daily", "--as-of", day.isoformat(), "--json"], env,
                        when=point["when"], nth=point.get("nth", 1), within=point.get("within"),
                        delay=point.get("delay", 0.0), set_attrs={"notifier.outbox.dispatch:BATCH": BATCH})
    assert killed.returncode == -signal.SIGKILL, f"{why}: not killed at {point}: {killed.stderr[-2000:]}"


def run_daily(day: date, env: dict, why: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "notifier", "daily", "--as-of", day.isoformat(), "--json"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{why}: {done.stderr[-2000:]}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(s["status"] in ("ok", "done") for s in out["steps"]), (why, out)
    return {s["step"]: s for s in out["steps"]}


def test_killed_inside_enqueue_and_dispatch_the_day_completes_once_and_each_notice_reaches_line_once(
        consented_city, database_url):
    city, engine, sim = consented_city, consented_city.engine, consented_city.sim
    rng = random.Random(SEED)
    env = daily_env(database_url, city)
    day, log = city.day, []

    def why() -> str:
        return f"seed {SEED} (DAILY_KILL_SEED), kills so far: {log}"

    # Killed inside enqueue: the notices and their deliveries are all there or none are, none sent.
    for point in enqueue_points(rng):
        kill_daily(day, env, point, why())
        log.append(("enqueue", point))
        made, rows = notices(engine, "notice"), deliveries(engine)
        assert len(made) == len(rows) and (not made or point["target"].endswith("StepOutcome")), why()
        assert not pushes(sim), why()
    expected = expected_notices(engine, day, city.users)
    # Each of the households made here matches (ひとり親: a mother and her daughter, no 児童扶養手当).
    assert {h for h, r in expected if r == "hitorioya"} == set(city.users), why()
    assert len(expected) >= HOUSEHOLDS, why()

    # Killed inside dispatch, after some pushes, before all are marked sent. (The next run starts
    # well over DISPATCH_CLAIM_STALE_SECONDS later, so it takes the dead run's claims back.)
    for i in range(3):
        point = dispatch_point(rng, unsent(engine), in_flight=i == 0)
        kill_daily(day, env, point, why())
        log.append(("dispatch", point))
        assert 0 < len(pushes(sim)) and unsent(engine) > 0, why()
    run_daily(day, env, why())
    made = notices(engine, "notice")
    assert Counter((n.setai_no, n.rule_id) for n in made) == Counter(dict.fromkeys(expected, 1)), why()
    assert Counter(d.notice_id for d in deliveries(engine)) == Counter({n.id: 1 for n in made}), why()
    assert_each_delivery_reached_line_once(engine, sim, why())
    assert sim.state.count_requests(PUSH, 409) >= 1, why()     # resent with the same key, and not delivered

    # Once more in full: nothing more is made or sent.
    before = len(pushes(sim))
    steps = run_daily(day, env, why())
    assert steps["dispatch"]["counts"]["sent"] == 0 and len(pushes(sim)) == before, why()
    assert len(notices(engine, "notice")) == len(made) and not notices(engine, "reminder"), why()
    assert_each_delivery_reached_line_once(engine, sim, why())
    with engine.connect() as conn:
        runs = Counter(conn.execute(select(EligibilityRun.as_of)).scalars())
        stored = dict(conn.execute(select(ImportRun.source, func.count()).where(ImportRun.status == "stored")
                                   .group_by(ImportRun.source)).all())
    assert runs[day] == 1, (why(), runs)
    assert len(stored) == 17 and set(stored.values()) == {1}, why()
    assert latest_steps(engine, day) == dict.fromkeys(STEPS, "ok"), why()


def test_killed_inside_followup_and_dispatch_each_reminder_is_made_once_and_reaches_line_once(
        consented_city, database_url):
    city, engine, sim = consented_city, consented_city.engine, consented_city.sim
    rng = random.Random(SEED)
    env = daily_env(database_url, city)
    day, later, log = city.day, city.day + timedelta(days=15), []

    def why() -> str:
        return f"seed {SEED} (DAILY_KILL_SEED), kills so far: {log}"

    # D, uninterrupted (in this process): the notices are sent.
    city.app.config.update(QUIET_HOURS=None)
    ok_invoke(city.runner, ["daily", "--as-of", day.isoformat()])
    made = notices(engine, "notice")
    assert len(made) >= HOUSEHOLDS and len(pushes(sim)) == len(made), why()
    assert_each_delivery_reached_line_once(engine, sim, why())

    # D+15: killed inside the follow-up (it makes the reminders): all of them there or none.
    for point in followup_points(rng):
        kill_daily(later, env, point, why())
        log.append(("followup", point))
        reminders = notices(engine, "reminder")
        assert len(reminders) in (0, len(made)), why()
        assert len(deliveries(engine)) == len(made) + len(reminders), why()
        assert len(pushes(sim)) == len(made), why()
    # Killed inside dispatch, after some reminders were pushed, before all are marked sent.
    for i in range(3):
        point = dispatch_point(rng, unsent(engine), in_flight=i == 0)
        kill_daily(later, env, point, why())
        log.append(("dispatch", point))
        assert len(pushes(sim)) > len(made) and unsent(engine) > 0, why()
    run_daily(later, env, why())
    assert len(notices(engine, "notice")) == len(made), why()      # no notice again within the cool-down
    reminders = notices(engine, "reminder")
    # One reminder for each notice (none of these households applied), one delivery each.
    assert Counter(r.reminder_of for r in reminders) == Counter({n.id: 1 for n in made}), why()
    assert {r.as_of for r in reminders} == {later}, why()
    assert Counter(d.notice_id for d in deliveries(engine)) == Counter({n.id: 1 for n in made + reminders}), why()
    assert_each_delivery_reached_line_once(engine, sim, why())
    assert sim.state.count_requests(PUSH, 409) >= 1, why()

    # Once more in full: nothing more is made or sent.
    before = len(pushes(sim))
    steps = run_daily(later, env, why())
    assert steps["dispatch"]["counts"]["sent"] == 0 and steps["followup"]["counts"]["reminders"] == 0, why()
    assert len(pushes(sim)) == before and len(notices(engine, "reminder")) == len(made), why()
    assert_each_delivery_reached_line_once(engine, sim, why())
    with engine.connect() as conn:
        runs = Counter(conn.execute(select(EligibilityRun.as_of)).scalars())
    assert runs[day] == 1 and runs[later] == 1, (why(), runs)
    assert latest_steps(engine, later) == dict.fromkeys(STEPS, "ok"), why()
