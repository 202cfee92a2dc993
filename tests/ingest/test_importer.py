"""The importer against the database: snapshots, quarantine, rejection, mapping, CLI summary."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from notifier.models import AuditEvent, ImportRun, QuarantineRow
from notifier.models.sources import SOURCE_TABLES
from tests.factories import import_sources


def count(session, source):
    return session.scalar(select(func.count()).select_from(SOURCE_TABLES[source]))


def test_it_stores_a_snapshot_and_replaces_it(app, db_session, tmp_path):
    import_sources(app, tmp_path / "a", {"juminhyo": [
        {"宛名番号": "0000001", "世帯番号": "100001"},
        {"宛名番号": "0000002", "世帯番号": "100001", "続柄": "長男", "氏名カナ": "ｲｽﾞﾐ ﾀﾛｳ", "生年月日": "R2.4.1"},
    ]})
    assert count(db_session, "juminhyo") == 2
    t = SOURCE_TABLES["juminhyo"]
    row = db_session.execute(select(t).where(t.c.atena_no == "0000002")).mappings().one()
    assert row["relation"] == "長男" and row["relation_norm"] == "子"
    assert str(row["birth_date"]) == "2020-04-01"
    assert row["name_kana"] == "ｲｽﾞﾐ ﾀﾛｳ" and row["name_kana_strict"] == "イズミタロウ"
    import_sources(app, tmp_path / "b", {"juminhyo": [{"宛名番号": "0000003", "世帯番号": "100002"}]})
    assert count(db_session, "juminhyo") == 1


def test_it_quarantines_bad_rows_and_keeps_the_rest(app, db_session, tmp_path):
    summary = import_sources(app, tmp_path, {"juminhyo": [
        {"宛名番号": "0000001", "世帯番号": "100001"},
        {"宛名番号": "0000002", "世帯番号": "100001", "生年月日": "R5.2.30"},
    ]})
    (result,) = summary.files
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (2, 1, 1)
    q = db_session.scalars(select(QuarantineRow)).one()
    assert (q.file, q.line, q.column, q.value) == ("juminhyo.csv", 3, "生年月日", "R5.2.30")


def test_a_structural_error_rejects_the_file_and_keeps_the_previous_snapshot(app, db_session, tmp_path, runner):
    import_sources(app, tmp_path / "a", {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "100001"}]})
    bad = tmp_path / "b"
    bad.mkdir()
    (bad / "juminhyo.csv").write_text("宛名番号,世帯番号\n0000009,100009\n", encoding="utf-8")
    result = runner.invoke(args=["data", "import", str(bad), "--json"])
    assert result.exit_code != 0
    payload = json.loads(result.output.splitlines()[0])
    (f,) = payload["files"]
    assert f["status"] == "rejected" and "juminhyo.csv:1" in f["error"] and "氏名" in f["error"]
    assert count(db_session, "juminhyo") == 1
    runs = db_session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
    assert [r.status for r in runs] == ["stored", "rejected"]
    # One audit row per file, written with the import itself; the command records its operator.
    rows = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "import").order_by(AuditEvent.id)).all()
    assert [(r.target_id, r.detail["status"]) for r in rows] == [(str(runs[0].id), "stored"), (str(runs[1].id), "rejected")]
    assert rows[0].actor == "test" and rows[1].actor.startswith("cli:")


def test_a_mapping_file_renames_files_and_columns(app, db_session, tmp_path, runner):
    d = tmp_path / "city"
    d.mkdir()
    (d / "SEIHO.CSV").write_text("ATENA,KAISHI,HAISHI\n0000001,2024-04-01,\n", encoding="cp932")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("files:\n  seikatsu_hogo:\n    file: SEIHO.CSV\n    columns:\n"
                       "      宛名番号: ATENA\n      保護開始日: KAISHI\n      保護廃止日: HAISHI\n", encoding="utf-8")
    result = runner.invoke(args=["data", "import", str(d), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    assert "SEIHO.CSV: 読込 1 行、保存 1 行" in result.output
    assert count(db_session, "seikatsu_hogo") == 1


def test_the_shipped_example_mapping_works(app, db_session, tmp_path, runner):
    from notifier.config import REPO_ROOT
    d = tmp_path / "city"
    d.mkdir()
    (d / "JUMIN_KIHON.CSV").write_text(
        "ATENA_NO,SETAI_NO,SHIMEI,SHIMEI_KANA,SEINENGAPPI,SEIBETSU,ZOKUGARA,JUSHO_CD,JUSHO,SHOJO_YMD,SHOJO_JIYU,EXTRA\n"
        "0000001,100001,和泉 花子,ｲｽﾞﾐ ﾊﾅｺ,S60.1.1,女,世帯主,272191000101,和泉市府中町,,,x\n", encoding="cp932")
    (d / "SEIHO.CSV").write_text("ATENA,KAISHI,HAISHI\n0000001,令和元年5月1日,\n", encoding="utf-8-sig")
    result = runner.invoke(args=["data", "import", str(d), "--mapping", str(REPO_ROOT / "docs" / "mapping-example.yaml"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert {f["file"]: f["rows_stored"] for f in payload["files"]} == {"JUMIN_KIHON.CSV": 1, "SEIHO.CSV": 1}
    assert [f["ignored_columns"] for f in payload["files"] if f["file"] == "JUMIN_KIHON.CSV"] == [["EXTRA"]]
    assert count(db_session, "juminhyo") == 1 and count(db_session, "seikatsu_hogo") == 1


def test_data_status_lists_each_source_with_its_snapshot_age_and_rules(app, db_session, tmp_path, runner):
    import_sources(app, tmp_path / "a", {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "100001"},
                                                      {"宛名番号": "0000002", "世帯番号": "100001", "生年月日": "R5.2.30"}]})
    runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"])
    out = json.loads(runner.invoke(args=["data", "status", "--json"]).output)
    by = {s["source"]: s for s in out["sources"]}
    assert (by["juminhyo"]["state"], by["juminhyo"]["rows"], by["juminhyo"]["rows_quarantined"]) == ("ok", 1, 1)
    assert by["juminhyo"]["age_days"] == 0 and by["juminhyo"]["max_age_days"] == 40
    assert by["jido_fuyo_teate"]["state"] == "missing" and by["jido_fuyo_teate"]["rows"] == 0
    assert set(by["jido_fuyo_teate"]["rules"]) == {"hitorioya", "shugaku_enjo"}
    text = runner.invoke(args=["data", "status"]).output
    assert "jido_fuyo_teate（児童扶養手当）: 未取込 — 取込なし。使うルール: hitorioya、shugaku_enjo" in text


def test_on_postgresql_a_reader_holding_the_table_makes_the_import_write_in_place(app, db_session, tmp_path,
                                                                                   monkeypatch, caplog):
    """The swap of a new snapshot waits only briefly for readers; then it writes in place instead."""
    import pytest
    if app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("the table swap is PostgreSQL's")
    from notifier.ingest import store
    import_sources(app, tmp_path / "a", {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "100001"}]})
    monkeypatch.setattr(store, "SWAP_LOCK_TIMEOUT", "500ms")
    reader = app.extensions["db_engine"].connect()
    reader.execute(select(func.count()).select_from(SOURCE_TABLES["juminhyo"]))   # holds its lock until commit
    try:
        import_sources(app, tmp_path / "b", {"juminhyo": [{"宛名番号": "0000002", "世帯番号": "100002"},
                                                          {"宛名番号": "0000003", "世帯番号": "100002"}]})
    finally:
        reader.rollback()
        reader.close()
    assert count(db_session, "juminhyo") == 2
    assert "src_juminhyo is in use; writing the snapshot in place" in caplog.text
    import_sources(app, tmp_path / "c", {"juminhyo": [{"宛名番号": "0000004", "世帯番号": "100003"}]})  # swap again
    assert count(db_session, "juminhyo") == 1
