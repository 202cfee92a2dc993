"""rules load / eligibility run / eligibility export against the database, through the commands."""
from __future__ import annotations

import csv
import datetime as dt
import json

from sqlalchemy import select

from notifier import clock
from notifier.config import parse_source_max_age
from notifier.consent import service as consent
from notifier.models import AuditEvent, RuleVersion
from tests.factories import import_sources

CITY = {
    "juminhyo": [
        # Single parent with a pupil: low income.
        {"宛名番号": "0000011", "世帯番号": "700001", "続柄": "世帯主", "氏名カナ": "ヤマダ ミキ", "生年月日": "1988-02-02", "性別": "2"},
        {"宛名番号": "0000012", "世帯番号": "700001", "続柄": "長男", "氏名カナ": "ヤマダ ソウタ", "生年月日": "2016-05-05", "性別": "1"},
        # Couple with a pupil, high income.
        {"宛名番号": "0000021", "世帯番号": "700002", "続柄": "世帯主", "氏名カナ": "スズキ タロウ", "生年月日": "1980-01-01", "性別": "1"},
        {"宛名番号": "0000022", "世帯番号": "700002", "続柄": "妻", "氏名カナ": "スズキ ハナ", "生年月日": "1982-01-01", "性別": "2"},
        {"宛名番号": "0000023", "世帯番号": "700002", "続柄": "長女", "氏名カナ": "スズキ ユイ", "生年月日": "2015-07-07", "性別": "2"},
    ],
    "shiminzei": [
        {"宛名番号": "0000011", "課税年度": "2026", "合計所得金額": "1,200,000", "課税区分": "課税", "ひとり親控除": "有"},
        {"宛名番号": "0000021", "課税年度": "2026", "合計所得金額": "８，０００，０００", "課税区分": "課税"},
    ],
    "gakureibo": [
        {"児童生徒番号": "80001", "氏名カナ": "ヤマダ ソウタ", "生年月日": "2016-05-05", "性別": "1", "住所コード": "272191000101",
         "学校コード": "E01", "学校名": "和泉市立第一小学校", "学年": "小5"},
        {"児童生徒番号": "80002", "氏名カナ": "スズキ ユイ", "生年月日": "2015-07-07", "性別": "2", "住所コード": "272191000101",
         "学校コード": "E01", "学校名": "和泉市立第一小学校", "学年": "小5"},
    ],
}


def test_load_run_and_export(app, db_session, tmp_path, runner):
    import_sources(app, tmp_path / "city", CITY, complete=True)
    assert runner.invoke(args=["link", "run", "--as-of", "2026-11-01"]).exit_code == 0

    result = runner.invoke(args=["rules", "load", "eligibility_rules", "--activate", "--json"])
    assert result.exit_code == 0, result.output
    loaded = json.loads(result.output)["rules"]
    assert {"shugaku_enjo", "hitorioya", "home_helper"} <= {r["rule_id"] for r in loaded}
    assert all(r["status"] == "new" and r["active"] for r in loaded)
    again = json.loads(runner.invoke(args=["rules", "load", "eligibility_rules", "--json"]).output)["rules"]
    assert all(r["status"] == "unchanged" for r in again)
    assert db_session.scalars(select(AuditEvent).where(AuditEvent.action == "rule_approve")).first().detail == {"system": True}

    # No tax consent: the income test cannot be evaluated for the single parent.
    out = json.loads(runner.invoke(args=["eligibility", "run", "--as-of", "2026-11-01", "--json"]).output)
    assert out["households"] == 2
    assert out["rules"]["shugaku_enjo"]["matches"] == 0
    assert out["rules"]["shugaku_enjo"]["not_evaluated_no_tax_consent"] >= 1
    assert out["rules"]["hitorioya"]["matches"] == 1

    consent.record(db_session, "0000011", grant=["notify", "tax"], actor="test", channel="窓口", staff_id="staff01")
    db_session.commit()
    out = json.loads(runner.invoke(args=["eligibility", "run", "--as-of", "2026-11-01", "--json"]).output)
    assert out["rules"]["shugaku_enjo"]["matches"] == 1
    assert out["rules"]["shugaku_enjo"]["matches_with_notify"] == 1

    path = tmp_path / "matches.csv"
    assert runner.invoke(args=["eligibility", "export", "--out", str(path)]).exit_code == 0
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    shugaku = [r for r in rows if r["rule_id"] == "shugaku_enjo"]
    assert [r["世帯番号"] for r in shugaku] == ["700001"] and shugaku[0]["rule_version"] == "1"
    assert "所得" in shugaku[0]["reasons"] or "ひとり親" in shugaku[0]["reasons"]


def test_eligibility_run_without_rules_fails_with_a_reason(app, runner):
    result = runner.invoke(args=["eligibility", "run"])
    assert result.exit_code != 0 and "no active rules" in result.output


def test_a_new_version_waits_for_approval(app, db_session, tmp_path, runner):
    runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"])
    src = (tmp_path / "r")
    src.mkdir()
    text = open("eligibility_rules/hitorioya.yaml", encoding="utf-8").read().replace("cooldown_days: 365", "cooldown_days: 180")
    (src / "hitorioya.yaml").write_text(text, encoding="utf-8")
    out = json.loads(runner.invoke(args=["rules", "load", str(src), "--json"]).output)["rules"]
    assert out == [{"rule_id": "hitorioya", "version": 2, "status": "new", "active": False}]
    versions = db_session.scalars(select(RuleVersion).where(RuleVersion.rule_id == "hitorioya")
                                  .order_by(RuleVersion.version)).all()
    assert [v.status for v in versions] == ["active", "pending"]


def test_a_rule_over_a_source_the_city_never_sent_is_not_evaluated(app, db_session, tmp_path, runner):
    # The city sent everything but 児童扶養手当: hitorioya and shugaku_enjo read it.
    sent = {name: rows for name, rows in CITY.items()}
    import_sources(app, tmp_path / "city", sent, complete=True)
    from notifier.models import ImportRun
    from notifier.models.sources import SOURCE_TABLES
    with app.extensions["db_engine"].begin() as conn:   # as if jido_fuyo_teate.csv had never come
        conn.execute(SOURCE_TABLES["jido_fuyo_teate"].delete())
        conn.execute(ImportRun.__table__.delete().where(ImportRun.source == "jido_fuyo_teate"))
    runner.invoke(args=["link", "run", "--as-of", "2026-11-01"])
    runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"])
    consent.record(db_session, "0000011", grant=["notify", "tax"], actor="test", channel="窓口", staff_id="staff01")
    db_session.commit()

    result = runner.invoke(args=["eligibility", "run", "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "hitorioya: 判定しません（児童扶養手当のデータが取り込まれていません）" in result.output
    assert "shugaku_enjo: 判定しません（児童扶養手当のデータが取り込まれていません）" in result.output
    assert "home_helper: 対象" in result.output
    out = json.loads(runner.invoke(args=["eligibility", "run", "--as-of", "2026-11-01", "--json"]).output)
    assert out["rules"]["hitorioya"]["evaluated"] is False
    assert out["rules"]["hitorioya"]["missing_sources"] == ["jido_fuyo_teate"]
    assert out["skipped"]["hitorioya"].startswith("判定しません")
    assert "matches" not in out["rules"]["hitorioya"] and out["rules"]["home_helper"]["evaluated"] is True
    from notifier.models import EligibilityMatch
    stored = {m.rule_id for m in db_session.scalars(select(EligibilityMatch).where(
        EligibilityMatch.run_id == out["run_id"]))}
    assert "hitorioya" not in stored and "shugaku_enjo" not in stored


def test_a_rule_over_a_stale_source_is_not_evaluated(app, db_session, tmp_path, runner):
    import_sources(app, tmp_path / "city", CITY, complete=True)
    runner.invoke(args=["link", "run", "--as-of", "2026-11-01"])
    runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"])
    # The snapshots were imported today: 41 days later the monthly exports (40 days) are too old,
    # the yearly tax roll (400 days) is not.
    day = (clock.today_jst() + dt.timedelta(days=41)).isoformat()
    out = json.loads(runner.invoke(args=["eligibility", "run", "--as-of", day, "--json"]).output)
    hitorioya = out["rules"]["hitorioya"]
    assert hitorioya["evaluated"] is False
    assert "児童扶養手当のデータが古くなっています" in hitorioya["reason"] and "41日前、上限 40日" in hitorioya["reason"]
    assert set(hitorioya["stale_sources"]) == {"juminhyo", "jido_fuyo_teate"}
    # An operator may allow older snapshots (SOURCE_MAX_AGE_DAYS="juminhyo=60,jido_fuyo_teate=60").
    app.config["SOURCE_MAX_AGE_DAYS"] = parse_source_max_age("juminhyo=60,jido_fuyo_teate=60")
    out = json.loads(runner.invoke(args=["eligibility", "run", "--as-of", day, "--json"]).output)
    assert out["rules"]["hitorioya"]["evaluated"] is True
