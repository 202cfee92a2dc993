"""`notifier daily`: the chain for one business day from the drop folder, recorded step by step,
safe to re-run and to kill at any point."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from notifier.jobs import daily, lease
from notifier.models import EligibilityRun, ImportRun, JobRun
from tests.faults import run_killed

DAY = "2026-11-01"


def drop(tiny_exports: Path, folder: Path, names: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for p in tiny_exports.glob("*.csv"):
        if p.name != "consent.csv" and (names is None or p.stem in names):
            shutil.copy(p, folder / p.name)
    return folder


@pytest.fixture
def city(app, runner, tmp_path, tiny_exports):
    folder = drop(tiny_exports, tmp_path / "drop")
    app.config["DAILY_DROP_DIR"] = str(folder)
    assert runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"]).exit_code == 0
    return folder


def steps_of(db_session, day=DAY) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in db_session.scalars(select(JobRun).where(JobRun.business_date == dt.date.fromisoformat(day))
                                .order_by(JobRun.id)):
        out.setdefault(r.step, []).append(r.status)
    return out


def test_it_imports_the_drop_folder_links_and_evaluates_and_records_each_step(app, runner, db_session, city):
    result = runner.invoke(args=["daily", "--as-of", DAY, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [s["status"] for s in payload["steps"]] == ["ok"] * 6
    assert payload["steps"][0]["counts"]["imported"] == 17
    assert not list(city.glob("*.csv")) and len(list((city / "archive" / DAY).glob("*.csv"))) == 17
    assert db_session.scalar(select(func.count()).select_from(EligibilityRun)) == 1
    rows = db_session.scalars(select(JobRun)).all()
    assert {r.step for r in rows} == {"import", "link", "eligibility", "enqueue", "followup", "dispatch"}
    assert all(r.status == "ok" and r.finished_at >= r.started_at and r.host for r in rows)

    # Again for the same day: nothing new arrived, so nothing is done twice.
    again = json.loads(runner.invoke(args=["daily", "--as-of", DAY, "--json"]).output)
    # (follow-up and dispatch run on every invocation: they are idempotent and time moves on)
    assert [s["status"] for s in again["steps"]] == ["ok", "done", "done", "done", "ok", "ok"]
    assert again["steps"][0]["counts"]["imported"] == 0
    assert db_session.scalar(select(func.count()).select_from(EligibilityRun)) == 1
    text = runner.invoke(args=["daily", "--as-of", DAY]).output
    assert "名寄せ: 完了済み（再実行なし）" in text


def test_a_file_already_imported_is_never_imported_again(app, runner, db_session, city, tiny_exports):
    runner.invoke(args=["daily", "--as-of", DAY])
    drop(tiny_exports, city, ["juminhyo"])                  # the same export dropped again
    out = json.loads(runner.invoke(args=["daily", "--as-of", DAY, "--json"]).output)
    assert out["steps"][0]["counts"] == {**out["steps"][0]["counts"], "imported": 0, "already_imported": 1}
    assert db_session.scalar(select(func.count()).select_from(ImportRun)
                             .where(ImportRun.source == "juminhyo")) == 1
    assert not (city / "juminhyo.csv").exists()


def test_a_rejected_file_is_set_aside_with_its_reason_and_the_day_runs_on_the_previous_snapshot(
        app, runner, db_session, city):
    runner.invoke(args=["daily", "--as-of", DAY])
    (city / "juminhyo.csv").write_text("宛名番号,世帯番号\n0000009,100009\n", encoding="utf-8")
    next_day = "2026-11-02"
    out = json.loads(runner.invoke(args=["daily", "--as-of", next_day, "--json"]).output)
    assert [s["status"] for s in out["steps"]] == ["ok"] * 6        # link, eligibility and the rest ran
    assert out["steps"][0]["counts"]["rejected"] == 1 and "juminhyo.csv" in out["steps"][0]["note"]
    reason = (city / "rejected" / next_day / "juminhyo.csv.reason.txt").read_text(encoding="utf-8")
    assert "必須の列がありません" in reason and "氏名" in reason
    assert db_session.scalar(select(func.count()).select_from(ImportRun).where(
        ImportRun.source == "juminhyo", ImportRun.status == "stored")) == 1   # the previous snapshot stands


def test_a_rule_skipped_for_missing_data_is_reported_and_the_step_is_ok(app, runner, db_session, tmp_path,
                                                                         tiny_exports):
    # The city sends everything but the nursery roster (hoiku): 未就園児 reads it, so it is not evaluated.
    sent = [p.stem for p in tiny_exports.glob("*.csv") if p.stem not in ("consent", "hoiku")]
    app.config["DAILY_DROP_DIR"] = str(drop(tiny_exports, tmp_path / "drop", sent))
    assert runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"]).exit_code == 0
    result = runner.invoke(args=["daily", "--as-of", DAY, "--json"])
    assert result.exit_code == 0, result.output
    steps = {s["step"]: s for s in json.loads(result.output)["steps"]}
    elig = steps["eligibility"]
    assert elig["status"] == "ok" and "error" not in elig
    assert elig["counts"]["rules_skipped"] == 1 and elig["counts"]["rules_evaluated"] >= 1
    assert elig["note"].startswith("mishuenji: 判定しません（") and "保育のデータが取り込まれていません" in elig["note"]
    assert "；" not in elig["note"]                                          # the only rule skipped
    assert all(s["status"] == "ok" for s in steps.values())                 # reported, not failed
    row = db_session.scalars(select(JobRun).where(JobRun.step == "eligibility")).one()
    assert (row.status, row.counts["rules_skipped"], row.note, row.error) == ("ok", 1, elig["note"], None)


def test_a_failed_step_stops_the_steps_that_depend_on_it(app, db_session):
    calls = []

    def ok(name):
        return lambda ctx: calls.append(name) or daily.StepOutcome({"n": 1})

    def boom(ctx):
        raise RuntimeError("the roster table is locked")
    steps = [daily.Step("import", "データ取込", ok("import"), always=True),
             daily.Step("link", "名寄せ", boom, ("import",)),
             daily.Step("eligibility", "該当判定", ok("eligibility"), ("link",)),
             daily.Step("other", "独立した手順", ok("other"), ("import",)),
             daily.Step("enqueue", "お知らせの作成", ok("enqueue"), ("eligibility",))]   # two steps downstream
    result = daily.run_daily(app.extensions["db_engine"], dt.date(2026, 11, 1), config={}, steps=steps)
    assert [s["status"] for s in result.steps] == ["ok", "failed", "skipped", "ok", "skipped"]
    assert calls == ["import", "other"] and result.failed == ["link"]
    assert "名寄せ" in result.steps[2]["note"] and "the roster table is locked" in result.steps[1]["error"]
    assert "該当判定" in result.steps[4]["note"]
    assert steps_of(db_session) == {"import": ["ok"], "link": ["failed"], "eligibility": ["skipped"],
                                    "other": ["ok"], "enqueue": ["skipped"]}


def test_only_one_daily_runs_at_a_time(app, runner, city):
    engine = app.extensions["db_engine"]
    app.config["DAILY_LEASE_SECONDS"] = 1.0
    alive = lease.Held(engine, daily.LEASE, ttl=1.0, renew_every=0.2, holder="someone-else")
    assert alive.acquire()                       # a run that is alive keeps renewing its lease
    try:
        result = runner.invoke(args=["daily", "--as-of", DAY])
    finally:
        alive.release()
    assert result.exit_code != 0 and "another `notifier daily` is running" in result.output


def test_the_lease_of_a_dead_run_is_taken_over_once_it_expires(app, runner, city):
    engine = app.extensions["db_engine"]
    app.config["DAILY_LEASE_SECONDS"] = 1.0
    assert lease.try_acquire(engine, daily.LEASE, "a-killed-run", ttl=1.0)   # never renewed again
    result = runner.invoke(args=["daily", "--as-of", DAY])
    assert result.exit_code == 0, result.output


KILL_POINTS = [("notifier.jobs.dropbox:import_file", "after"), ("notifier.jobs.dropbox:_move", "before"),
               ("notifier.linkage.run:run_linkage", "after"), ("notifier.eligibility.run:run_eligibility", "before"),
               ("notifier.eligibility.run:run_eligibility", "after"), ("notifier.outbox.enqueue:enqueue", "after"),
               ("notifier.followup.run:run_followup", "before")]


@pytest.mark.parametrize("target, when", KILL_POINTS)
def test_killed_at_any_step_and_run_again_the_day_completes_once(app, runner, db_session, city, database_url,
                                                                 target, when):
    env = {"NOTIFIER_ENV": "test", "DATABASE_URL": database_url, "DAILY_DROP_DIR": str(city)}
    killed = run_killed(target, ["daily", "--as-of", DAY], env, when=when)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    # The lease of the killed run must expire before the next run may start.
    engine = app.extensions["db_engine"]
    with engine.begin() as conn:
        conn.execute(lease.Lease.__table__.update().values(expires_at=dt.datetime(2000, 1, 1)))
    result = runner.invoke(args=["daily", "--as-of", DAY, "--json"])
    assert result.exit_code == 0, result.output
    statuses = [s["status"] for s in json.loads(result.output)["steps"]]
    assert all(s in ("ok", "done") for s in statuses), statuses
    stored = dict(db_session.execute(select(ImportRun.source, func.count()).where(ImportRun.status == "stored")
                                     .group_by(ImportRun.source)).all())
    assert len(stored) == 17 and set(stored.values()) == {1}          # each export imported exactly once
    assert not list(city.glob("*.csv")) and len(list((city / "archive" / DAY).glob("*.csv"))) == 17
    assert db_session.scalar(select(func.count()).select_from(EligibilityRun)) >= 1
    last = {step: runs[-1] for step, runs in steps_of(db_session).items()}
    assert last == dict.fromkeys(("import", "link", "eligibility", "enqueue", "followup", "dispatch"), "ok")


def test_sigterm_stops_after_the_current_step(app, db_session, city, database_url):
    env = {"NOTIFIER_ENV": "test", "DATABASE_URL": database_url, "DAILY_DROP_DIR": str(city)}
    proc = run_killed("notifier.linkage.run:run_linkage", ["daily", "--as-of", DAY, "--json"], env,
                      when="before", signal_name="SIGTERM")
    assert proc.returncode == 1 and "stopped by SIGTERM" in proc.stderr
    steps = steps_of(db_session)
    assert steps == {"import": ["ok"], "link": ["ok"], "eligibility": ["stopped"], "enqueue": ["stopped"],
                     "followup": ["stopped"], "dispatch": ["stopped"]}
