"""Consent texts are versioned; `notifier consent import` stores the good rows, names each quarantined one
(file:line: field: reason) and exits 0; a structural error rejects the file and exits non-zero."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from notifier.consent import service
from notifier.models import ConsentEvent, ConsentText, ImportRun, QuarantineRow
from tests.factories import import_sources

HEADER = "宛名番号,種別,同意範囲,取得日時,チャネル,職員ID\n"


def test_a_changed_text_is_a_new_version_and_old_grants_keep_theirs(app, db_session, tmp_path):
    import_sources(app, tmp_path, {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "1"}]})
    v1 = service.current_text(db_session, "notify")
    assert v1.version == 1 and v1.text.startswith("今後、ご希望の場合は")
    (old,) = service.record(db_session, "0000001", grant=["notify"], actor="test", channel="窓口", staff_id="staff01")
    v2 = service.publish_text(db_session, "notify", v1.text + "（改定）")
    assert v2.version == 2
    assert service.publish_text(db_session, "notify", v2.text).id == v2.id  # unchanged → same version
    (new,) = service.record(db_session, "0000001", grant=["notify"], actor="test", channel="窓口", staff_id="staff01")
    db_session.commit()
    assert (old.text_id, new.text_id) == (v1.id, v2.id)
    assert db_session.get(ConsentText, old.text_id).text == v1.text


def test_counter_consents_import_and_a_rerun_adds_nothing(app, db_session, tmp_path, runner):
    import_sources(app, tmp_path / "d", {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "1"},
                                                      {"宛名番号": "0000002", "世帯番号": "2"}]})
    f = tmp_path / "consent.csv"
    f.write_text(HEADER + "0000001,同意,notify;tax,2026-04-01 10:00,窓口,staff01\n"
                 "0000002,同意,notify,R8.4.2 9:30,CSW,csw07\n"
                 "0000002,撤回,notify,2026-05-01 09:00,窓口,staff02\n", encoding="cp932")
    result = runner.invoke(args=["consent", "import", str(f), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["events_added"] == 4
    assert service.resident_state(db_session, "0000001") == {"notify": True, "tax": True}
    assert service.resident_state(db_session, "0000002") == {"notify": False, "tax": False}
    again = runner.invoke(args=["consent", "import", str(f), "--json"])
    assert json.loads(again.output)["skipped_already_imported"] == 3
    assert db_session.scalar(select(func.count()).select_from(ConsentEvent)) == 4


def test_bad_counter_rows_are_quarantined_and_named_and_the_good_rows_imported(app, db_session, tmp_path, runner):
    import_sources(app, tmp_path / "d", {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "1"}]})
    f = tmp_path / "consent.csv"
    f.write_text(HEADER + "0000001,同意,notify,2026-04-01 10:00,窓口,staff01\n"
                 "0000009,同意,notify,2026-04-01 10:00,窓口,staff01\n"
                 "0000001,同意,tax,2026-04-01 10:00,窓口,staff01\n"
                 "0000001,賛成,notify,2026-13-01,電話,\n", encoding="utf-8")
    result = runner.invoke(args=["consent", "import", str(f)])
    assert result.exit_code == 0, result.output
    assert "同意・撤回 1 件を記録しました" in result.output and "隔離 3 行" in result.output
    for expected in ("consent.csv:3: 宛名番号: 住民記録にない宛名番号です",
                     "consent.csv:4: 同意範囲: 課税情報の確認への同意は",
                     "consent.csv:5: 種別:", "consent.csv:5: 取得日時:", "consent.csv:5: チャネル:",
                     "consent.csv:5: 職員ID: 必須項目が空です"):
        assert expected in result.output, expected
    assert db_session.scalar(select(func.count()).select_from(ConsentEvent)) == 1
    assert db_session.scalar(select(func.count()).select_from(QuarantineRow)
                             .where(QuarantineRow.source == "consent")) == 6


def test_the_first_20_problems_are_printed_and_json_carries_them_all(app, db_session, tmp_path, runner):
    import_sources(app, tmp_path / "d", {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "1"}]})
    f = tmp_path / "consent.csv"
    f.write_text(HEADER + "".join(f"00000{i:02d},同意,notify,2026-04-01 10:00,窓口,staff01\n" for i in range(2, 27)),
                 encoding="utf-8")
    text = runner.invoke(args=["consent", "import", str(f)])
    assert text.exit_code == 0, text.output
    assert text.output.count("住民記録にない宛名番号です") == 20 and "他 5 件" in text.output
    assert "consent.csv:21:" in text.output and "consent.csv:22:" not in text.output
    out = json.loads(runner.invoke(args=["consent", "import", str(f), "--json"]).output)
    assert out["status"] == "stored" and out["rows_quarantined"] == 25 and len(out["problems"]) == 25
    assert out["problems"][-1] == "consent.csv:26: 宛名番号: 住民記録にない宛名番号です"
    assert db_session.get(ImportRun, out["import_id"]).rows_quarantined == 25


def test_a_missing_column_is_a_structural_error(app, db_session, tmp_path, runner):
    f = tmp_path / "consent.csv"
    f.write_text("宛名番号,種別\n0000001,同意\n", encoding="utf-8")
    result = runner.invoke(args=["consent", "import", str(f)])
    assert result.exit_code != 0 and "consent.csv:1: 同意範囲: 必須の列がありません" in result.output
    assert "1件も保存していません" in result.output
    out = json.loads(runner.invoke(args=["consent", "import", str(f), "--json"]).output.splitlines()[0])
    assert out["status"] == "rejected" and "必須の列がありません" in out["error"]
    runs = db_session.scalars(select(ImportRun).where(ImportRun.source == "consent")).all()
    assert [(r.status, r.rows_stored) for r in runs] == [("rejected", 0), ("rejected", 0)]
    assert db_session.scalar(select(func.count()).select_from(ConsentEvent)) == 0
