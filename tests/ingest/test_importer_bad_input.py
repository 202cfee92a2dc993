"""Every bad-input kind of the data contract: the error names file, line and field, and nothing
already stored changes (the previous snapshot stays whole). A killed import leaves it intact too."""
from __future__ import annotations

import signal

import pytest
from sqlalchemy import func, select

from notifier.models import AuditEvent, ImportRun, QuarantineRow
from notifier.models.sources import SOURCE_TABLES
from tests.factories import import_sources
from tests.faults import run_killed

GOOD = [{"宛名番号": "0000001", "世帯番号": "100001"}, {"宛名番号": "0000002", "世帯番号": "100001", "続柄": "子"}]
HEADER = "宛名番号,世帯番号,氏名,氏名カナ,生年月日,性別,続柄,住所コード,住所,住民となった日,消除日,消除事由\n"
ROW = "0000009,100009,和泉 次郎,イズミ ジロウ,{dob},{sex},{rel},272191000101,和泉市府中町1丁目,,{removed},{reason}\n"


def snapshot(session):
    t = SOURCE_TABLES["juminhyo"]
    return sorted(session.execute(select(t.c.atena_no, t.c.setai_no, t.c.birth_date)).all())


def row(**kw):
    values = {"dob": "1990-01-01", "sex": "1", "rel": "世帯主", "removed": "", "reason": ""} | kw
    return ROW.format(**values)


STRUCTURAL = {
    "missing required column": ("宛名番号,世帯番号\n0000009,100009\n".encode(), 1, "氏名"),
    "undecodable bytes": ((HEADER + row()).encode("utf-8") + b"\x82\xa0\xff\xfe\n", None, None),
}

ROW_LEVEL = {
    "impossible era date": (row(dob="R5.2.30"), "生年月日"),
    "date outside its era": (row(dob="H31.5.1"), "生年月日"),
    "unknown sex code": (row(sex="3"), "性別"),
    "unknown relation": (row(rel="友人"), "続柄"),
    "unknown removal reason": (row(removed="2026-01-01", reason="不明"), "消除事由"),
    "non-digit resident id": (row().replace("0000009", "00A0009", 1), "宛名番号"),
    "blank required value": (row(dob=""), "生年月日"),
    "garbled characters": (row().replace("和泉 次郎", "和泉\ufffd次郎"), "氏名"),
}


@pytest.mark.parametrize("kind", sorted(STRUCTURAL))
def test_a_structural_error_rejects_the_file_and_keeps_the_snapshot(app, db_session, tmp_path, runner, kind):
    import_sources(app, tmp_path / "a", {"juminhyo": GOOD})
    before = snapshot(db_session)
    content, line, field = STRUCTURAL[kind]
    bad = tmp_path / "b"
    bad.mkdir()
    (bad / "juminhyo.csv").write_bytes(content)
    result = runner.invoke(args=["data", "import", str(bad)])
    assert result.exit_code != 0
    assert "juminhyo.csv" in result.output and "前回のデータを維持" in result.output
    if line is not None:
        assert f"juminhyo.csv:{line}: {field}" in result.output, result.output
    db_session.expire_all()
    assert snapshot(db_session) == before
    assert db_session.scalars(select(ImportRun.status).order_by(ImportRun.id.desc())).first() == "rejected"


@pytest.mark.parametrize("kind", sorted(ROW_LEVEL))
def test_a_bad_row_is_quarantined_with_file_line_and_field(app, db_session, tmp_path, runner, kind):
    import_sources(app, tmp_path / "a", {"juminhyo": GOOD})
    text, field = ROW_LEVEL[kind]
    d = tmp_path / "b"
    d.mkdir()
    (d / "juminhyo.csv").write_text(HEADER + row().replace("0000009", "0000008", 1) + text, encoding="utf-8")
    result = runner.invoke(args=["data", "import", str(d)])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    q = db_session.scalars(select(QuarantineRow)).all()
    assert [(r.file, r.line, r.column) for r in q] == [("juminhyo.csv", 3, field)], [(r.line, r.column, r.reason) for r in q]
    assert q[0].reason
    # The good row of the new file replaced the snapshot; the bad row is not stored.
    assert [r[0] for r in snapshot(db_session)] == ["0000008"]


def test_a_killed_import_leaves_the_previous_snapshot_intact(app, database_url, db_session, tmp_path):
    import_sources(app, tmp_path / "a", {"juminhyo": GOOD})
    before = snapshot(db_session)
    new = tmp_path / "b"
    new.mkdir()
    (new / "juminhyo.csv").write_text(HEADER + "".join(row().replace("0000009", f"{n:07d}", 1) for n in range(10, 2010)),
                                      encoding="utf-8")
    # Killed right after the new rows are written, before the transaction commits.
    proc = run_killed("notifier.ingest.store:replace_rows", ["data", "import", str(new)],
                      {"NOTIFIER_ENV": "test", "DATABASE_URL": database_url})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    db_session.expire_all()
    assert snapshot(db_session) == before
    assert db_session.scalar(select(func.count()).select_from(ImportRun)) == 1
    # The audit row is part of the same transaction: the killed import left none.
    assert db_session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "import")) == 1
