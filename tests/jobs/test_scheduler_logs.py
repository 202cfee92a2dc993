"""The scheduler's log: one line when a job starts and one when it ends, the end line with each step's
counts, and never personal data — no names, 宛名番号, LINE user ids or message bodies, not even when
the child failed with them in its error or on stderr (design: style.md practice 10)."""
from __future__ import annotations

import csv
import io
import json
import logging
import re
import subprocess

import pytest

from notifier.jobs import scheduler
from tests.jobs.test_daily import DAY, drop

ID_LIKE = re.compile(r"(?<!\d)\d{7,10}(?!\d)")          # 宛名番号 / 世帯番号-like numbers
EXTRA = ("job", "exit", "failure", "steps", "counts")


def job_lines(caplog) -> list[str]:
    """Each scheduler record as it could reach a log file: the message and its structured extra."""
    out = []
    for r in caplog.records:
        if r.name == scheduler.log.name:
            extra = {k: getattr(r, k) for k in EXTRA if hasattr(r, k)}
            out.append(r.getMessage() + " " + json.dumps(extra, ensure_ascii=False, default=str))
    return out


def personal_data(tiny_exports) -> set[str]:
    """Names, kana and 宛名番号 of the tiny city's residents (what must never be logged)."""
    raw = (tiny_exports / "juminhyo.csv").read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp932")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    values = set()
    for row in rows:
        values |= {row["宛名番号"], row["氏名"], row["氏名カナ"]}
        values |= set(row["氏名"].split("\u3000"))              # a family name alone is personal too
    return {v for v in values if v}


def assert_no_personal_data(lines, people) -> None:
    for line in lines:
        assert not ID_LIKE.search(line), line
        leaked = [p for p in people if p in line]
        assert not leaked, (leaked, line)


@pytest.fixture
def child_env(app, runner, monkeypatch, database_url, tmp_path, tiny_exports):
    """The environment the scheduler's children inherit: this test's database and drop folder."""
    assert runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"]).exit_code == 0
    folder = drop(tiny_exports, tmp_path / "drop")
    monkeypatch.setenv("NOTIFIER_ENV", "test")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DAILY_DROP_DIR", str(folder))
    monkeypatch.delenv("LINE_CHANNEL_ACCESS_TOKEN", raising=False)
    return folder


def test_a_daily_job_logs_one_start_and_one_end_line_with_each_steps_counts(child_env, caplog, tiny_exports):
    caplog.set_level(logging.INFO, logger=scheduler.log.name)
    assert scheduler._run_child(["daily", "--as-of", DAY], job="daily") == 0
    lines = job_lines(caplog)
    assert len(lines) == 2 and lines[0].startswith("job daily start") and lines[1].startswith("job daily end: exit 0")
    end = lines[1]
    for step in ("import", "link", "eligibility", "enqueue", "followup", "dispatch"):
        assert f"; {step} ok" in end, end
    assert re.search(r"; import ok imported=17 [^;]*rows_stored=[1-9]\d*", end), end
    assert re.search(r"; link ok roster=\d+ linked=\d+", end), end
    assert re.search(r"; eligibility ok run_id=\d+ households=[1-9]\d* matches=\d+ rules_evaluated=\d+", end), end
    assert "followup ok responded=0 reminders=0" in end
    end_record = [r for r in caplog.records if r.name == scheduler.log.name][-1]
    assert end_record.levelno == logging.INFO and end_record.steps["import"]["counts"]["imported"] == 17
    assert "failed" not in end
    assert_no_personal_data(lines, personal_data(tiny_exports))


def test_a_failed_step_is_logged_by_its_name_and_error_class_only(child_env, caplog, monkeypatch, tmp_path,
                                                                  tiny_exports):
    people = personal_data(tiny_exports)
    atena, name = sorted(p for p in people if p.isdigit())[0], sorted(p for p in people if not p.isdigit())[0]
    not_a_folder = tmp_path / f"{atena}_{name}.csv"        # the step's error (and stderr) names this path
    not_a_folder.write_text("x", encoding="utf-8")
    monkeypatch.setenv("DAILY_DROP_DIR", str(not_a_folder))
    caplog.set_level(logging.INFO, logger=scheduler.log.name)
    assert scheduler._run_child(["daily", "--as-of", DAY], job="daily") == 1
    lines = job_lines(caplog)
    assert len(lines) == 2 and lines[0].startswith("job daily start")
    end = lines[1]
    assert end.startswith("job daily end: exit 1; failed: import RuntimeError; import failed; link skipped"), end
    assert [r.levelno for r in caplog.records if r.name == scheduler.log.name][-1] == logging.WARNING
    assert_no_personal_data(lines, people)


def test_a_child_that_dies_with_personal_data_on_stderr_is_logged_by_its_error_class(caplog, monkeypatch,
                                                                                      tiny_exports):
    people = personal_data(tiny_exports)
    atena = sorted(p for p in people if p.isdigit())[0]
    name = sorted(p for p in people if not p.isdigit() and len(p) > 2)[0]

    class Died:
        returncode = 1

        def __init__(self, *_a, **_k):
            pass

        def communicate(self):
            return "", ("Traceback (most recent call last):\n  ...\n"
                        f"KeyError: '{atena}'\nsqlalchemy.exc.IntegrityError: 宛名番号 {atena} {name} U1234567890abcdef "
                        "「お知らせ本文」\n")

        def poll(self):
            return self.returncode
    monkeypatch.setattr(subprocess, "Popen", Died)
    caplog.set_level(logging.INFO, logger=scheduler.log.name)
    assert scheduler._run_child(["daily", "--as-of", DAY], job="daily") == 1
    lines = job_lines(caplog)
    assert len(lines) == 2 and lines[1].startswith("job daily end: exit 1; failed: sqlalchemy.exc.IntegrityError")
    assert "U1234567890abcdef" not in lines[1] and "お知らせ本文" not in lines[1]
    assert_no_personal_data(lines, people)

    # A child killed by a signal prints nothing: the line says which signal.
    Died.returncode = -9
    Died.communicate = lambda self: ("", "")
    caplog.clear()
    scheduler._run_child(["daily", "--as-of", DAY], job="daily")
    assert job_lines(caplog)[1].startswith("job daily end: exit -9; failed: signal 9")


def test_the_dispatch_job_logs_its_counts_or_its_short_reason(child_env, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger=scheduler.log.name)
    scheduler.dispatch_job()                   # a real child: no LINE token here, so the command refuses
    lines = job_lines(caplog)
    assert len(lines) == 2 and lines[0].startswith("job dispatch start")
    assert lines[1].startswith("job dispatch end: exit 1; failed: CommandError"), lines[1]
    assert "LINE_CHANNEL_ACCESS_TOKEN" not in lines[1]

    class Sent:
        returncode = 0

        def __init__(self, *_a, **_k):
            pass

        def communicate(self):
            return json.dumps({"sent": 12, "failed": 1, "retried": 0, "cancelled": 2, "unknown": 0,
                               "quiet_hours": False, "cancel_reasons": {"ブロック 住民1": 2}},
                              ensure_ascii=False) + "\n", ""

        def poll(self):
            return 0
    monkeypatch.setattr(subprocess, "Popen", Sent)
    caplog.clear()
    scheduler.dispatch_job()
    lines = job_lines(caplog)
    assert len(lines) == 2
    assert lines[1].startswith("job dispatch end: exit 0; sent=12 failed=1 retried=0 cancelled=2 unknown=0"), lines[1]
    assert "住民1" not in lines[1]                   # only the numbers leave the child
