"""Job-run rows of a job run on its own: every `notify dispatch` (the scheduler's, or an operator's)
leaves one, and 運用状況 lists the recent ones with their counts (issue 12: "last runs of each job")."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from notifier.cli import register
from notifier.jobs import runs
from notifier.models import JobRun
from tests.factories import create_staff, sign_in
from tests.outbox.builders import queue, residents


def test_a_dispatch_run_leaves_one_job_run_row_with_its_counts_and_the_page_lists_it(line_stack, tmp_path):
    app = line_stack.app
    app.config.update(QUIET_HOURS=None, PUSH_RATE_PER_SECOND=0)
    engine = app.extensions["db_engine"]
    atena = residents(app, tmp_path / "city", 3)
    users = [line_stack.sim.state.add_user(f"住民{i}", friend=True).user_id for i in range(3)]
    queue(engine, atena, users)
    register(app)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["notify", "dispatch", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output.strip().splitlines()[-1])["sent"] == 3
    assert runner.invoke(args=["notify", "dispatch", "--json"]).exit_code == 0     # nothing due: still a run
    with engine.connect() as conn:
        rows = conn.execute(select(JobRun.job, JobRun.step, JobRun.status, JobRun.counts, JobRun.finished_at,
                                   JobRun.started_at).order_by(JobRun.id)).all()
    assert [(r.job, r.step, r.status) for r in rows] == [("dispatch", "dispatch", "ok")] * 2
    assert rows[0].counts == {"sent": 3, "retried": 0, "failed": 0, "cancelled": 0, "unknown_deliveries": 0}
    assert rows[1].counts["sent"] == 0 and all(r.finished_at >= r.started_at for r in rows)

    with app.extensions["db_sessionmaker"]() as s:
        coordinator = create_staff(s, "coord", ["coordinator"])
        s.commit()
        client = sign_in(app.test_client(), s, coordinator)
    page = client.get("/ops/").get_data(as_text=True)
    section = page.split("<h2>定期の送信処理</h2>", 1)[1]
    assert section.count("data-dispatch-run=") == 2
    assert "送信済み 3" in section, section[:2000]
    assert "まだ実行記録はありません" in page.split("<h2>定期の送信処理</h2>", 1)[0]   # no daily run yet


def test_a_run_that_raises_is_recorded_failed_with_the_error_class(app):
    engine = app.extensions["db_engine"]
    with pytest.raises(RuntimeError), runs.recorded(engine, "dispatch", host="h:1") as run:
        run.counts = {"sent": 1}
        raise RuntimeError("LINE said no")
    with engine.connect() as conn:
        row = conn.execute(select(JobRun.status, JobRun.counts, JobRun.error, JobRun.finished_at)).one()
    assert row.status == "failed" and row.counts == {"sent": 1} and row.finished_at is not None
    assert row.error == "RuntimeError: LINE said no"


def test_the_page_says_a_failure_in_words_and_keeps_the_technical_error_folded(app, db_session):
    engine = app.extensions["db_engine"]
    with pytest.raises(RuntimeError), runs.recorded(engine, "dispatch", host="h:1"):
        raise RuntimeError("LINE_CHANNEL_ACCESS_TOKEN is not set")
    client = sign_in(app.test_client(), db_session, create_staff(db_session, "coord", ["coordinator"]))
    section = client.get("/ops/").get_data(as_text=True).split("<h2>定期の送信処理</h2>", 1)[1]
    assert 'data-status="failed"' in section and "この手順は失敗しました。運用担当者に連絡してください。" in section
    folded = section.split("<details", 1)[1].split("</details>", 1)[0]
    assert "技術的な詳細（運用担当者向け）" in folded and "RuntimeError: LINE_CHANNEL_ACCESS_TOKEN is not set" in folded
