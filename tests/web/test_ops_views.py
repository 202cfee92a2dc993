"""The operations page (運用状況): job runs step by step, the scheduler's heartbeat, data problems."""
from __future__ import annotations

from notifier.jobs import lease, scheduler
from tests.factories import create_staff, sign_in
from tests.jobs.test_daily import DAY, drop


def test_it_shows_the_runs_the_heartbeat_and_the_data_problems(app, client, db_session, runner, tmp_path,
                                                              tiny_exports):
    coordinator = create_staff(db_session, "coord", ["coordinator"])
    sign_in(client, db_session, coordinator)
    page = client.get("/ops/").get_data(as_text=True)
    assert 'data-heartbeat="none"' in page and "まだ実行記録はありません" in page
    assert "児童扶養手当のデータが取り込まれていません" in page          # nothing imported yet

    folder = drop(tiny_exports, tmp_path / "drop")
    (folder / "hoiku.csv").write_text("施設名\n和泉保育園\n", encoding="utf-8")   # a structural error
    app.config["DAILY_DROP_DIR"] = str(folder)
    runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"])
    assert runner.invoke(args=["daily", "--as-of", DAY]).exit_code == 0
    engine = app.extensions["db_engine"]
    assert lease.try_acquire(engine, scheduler.LEASE, "ops-host:4242:abcd", ttl=30)

    page = client.get("/ops/").get_data(as_text=True)
    assert 'data-heartbeat="alive"' in page and "ops-host:4242:abcd" in page
    assert f"{DAY} の日次処理" in page
    assert page.count('data-status="ok"') == 6 and 'data-step="eligibility"' in page
    assert "hoiku.csv の取込を中止しました" in page and "必須の列がありません" in page
    assert 'data-source-problem="hoiku"' in page             # never imported: rules using it are not evaluated

    other = create_staff(db_session, "author", ["rule_author"])
    c2 = app.test_client()
    sign_in(c2, db_session, other)
    assert c2.get("/ops/").status_code == 403


def test_it_shows_open_cases_by_age_and_the_review_queue(casework):
    from datetime import timedelta

    from sqlalchemy import update

    from notifier import clock
    from notifier.models import OutreachCase
    from tests.factories import sign_in
    from tests.outreach.casework import user
    app, ids, users = casework
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(OutreachCase).where(OutreachCase.id == ids["91003"])
                  .values(as_of=clock.today_jst() - timedelta(days=40)))
        s.commit()
        client = app.test_client()
        sign_in(client, s, user(s, users["coordinator"]))
    page = client.get("/ops/").get_data(as_text=True)
    assert 'data-age="0">2<' in page and 'data-age="3">1<' in page
    assert 'data-review="0"' in page
