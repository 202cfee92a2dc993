"""`notifier outreach export`: writes the CSV (UTF-8 with BOM) atomically, audits it as the operator,
and fails with a one-line Japanese reason and no file for a bad --organisation or an unwritable --out."""
from __future__ import annotations

import json

from sqlalchemy import select

from notifier.models import AuditEvent
from tests.outreach.test_export import SHAKYO, _city


def _exports(db_session):
    return db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)).all()


def test_the_command_writes_the_masked_file_and_audits_it(app, runner, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    out = tmp_path / "shakyo.csv"
    result = runner.invoke(args=["outreach", "export", "--out", str(out), "--organisation", SHAKYO,
                                 "--as-of", "2026-11-02", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report == {"kind": "masked", "organisation": SHAKYO, "rows": 3, "households": 2, "day_total": 2,
                      "bulk_alert": False, "out": str(out)}
    data = out.read_bytes()
    assert data.startswith("\ufeff仮名ID,町字,子どもの年齢,経路,対象サービス,状況,開始日,担当機関\r\n".encode())
    assert len(data.decode("utf-8-sig").splitlines()) == 4
    assert list(tmp_path.glob(".export-*")) == []                     # no temporary file left
    [row] = _exports(db_session)
    assert row.actor.startswith("cli:") and row.detail["kind"] == "masked" and row.detail["organisation"] == SHAKYO

    again = runner.invoke(args=["outreach", "export", "--out", str(out), "--organisation", SHAKYO,
                                "--as-of", "2026-11-02"])
    assert again.exit_code == 0 and "3 行、2 世帯" in again.output
    assert out.read_bytes() == data                                   # the same pseudonyms on a second export

    ident = tmp_path / "identified.csv"
    assert runner.invoke(args=["outreach", "export", "--out", str(ident), "--identified"]).exit_code == 0
    assert ident.read_text(encoding="utf-8-sig").startswith("case_id,世帯番号,宛名番号,")
    keys = tmp_path / "keys.csv"
    assert runner.invoke(args=["outreach", "export", "--out", str(keys), "--key-table",
                               "--organisation", SHAKYO]).exit_code == 0
    assert keys.read_bytes().decode("utf-8-sig").startswith("仮名ID,宛名番号,氏名\r\n")
    assert [r.detail["kind"] for r in _exports(db_session)] == ["masked", "masked", "identified", "key_table"]


def test_bad_input_fails_cleanly_with_no_file_and_no_audit_row(app, runner, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    out = tmp_path / "x.csv"
    bad_org = runner.invoke(args=["outreach", "export", "--out", str(out), "--organisation", "存在しない団体"])
    assert bad_org.exit_code != 0 and "組織「存在しない団体」は見つかりません" in bad_org.output
    assert len(bad_org.output.strip().splitlines()) == 1
    both = runner.invoke(args=["outreach", "export", "--out", str(out), "--identified", "--key-table"])
    assert both.exit_code != 0 and "同時に指定できません" in both.output
    unwritable = tmp_path / "no-such-dir" / "x.csv"
    failed = runner.invoke(args=["outreach", "export", "--out", str(unwritable)])
    assert failed.exit_code != 0 and "書き込めません" in failed.output and "Traceback" not in failed.output
    assert not out.exists() and not unwritable.exists() and not unwritable.parent.exists()
    assert list(tmp_path.rglob(".export-*")) == []
    assert _exports(db_session) == []                                 # the failed write rolled the audit row back


def test_a_failure_while_writing_leaves_the_previous_file_whole(app, runner, db_session, tmp_path, monkeypatch):
    _city(app, db_session, tmp_path)
    out = tmp_path / "x.csv"
    out.write_text("previous\n", encoding="utf-8")
    import os

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken_replace)
    failed = runner.invoke(args=["outreach", "export", "--out", str(out)])
    assert failed.exit_code != 0 and "No space left on device" in failed.output
    assert out.read_text(encoding="utf-8") == "previous\n" and list(tmp_path.glob(".export-*")) == []
    assert _exports(db_session) == []
