"""`notifier consent import FILE.csv`."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from notifier.cliutil import CommandError, emit, json_option, with_app

SHOWN_PROBLEMS = 20


@click.group("consent", help="Consents taken at counters and by CSWs.")
def consent_group() -> None:
    pass


@consent_group.command("import", help="Import consents taken at counters (窓口) or by CSWs; bad rows are "
                                      "quarantined, a file with a structural error is rejected whole.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@with_app
def consent_import(file: Path, as_json: bool) -> None:
    from notifier import audit, db
    from notifier.consent.importer import import_consents, record_rejection
    from notifier.ingest.decode import StructuralError
    actor = audit.Actor.operator()
    try:
        with db.transaction() as s:
            result = import_consents(s, file, actor=actor)
    except StructuralError as exc:
        with db.transaction() as s:
            run_id = record_rejection(s, file, exc, actor=actor)
        emit({"file": file.name, "status": "rejected", "import_id": run_id, "error": str(exc)}, as_json,
             [f"取込を中止しました（1件も保存していません）: {exc}"])
        raise CommandError(f"{exc} (nothing imported)") from exc
    lines = [f"{result.file}: {result.rows} 行を確認し、同意・撤回 {result.events_added} 件を記録しました"
             f"（取込済みのため省略 {result.skipped_already_imported} 行、ファイル内の重複 {result.duplicates_in_file} 行、"
             f"隔離 {result.rows_quarantined} 行）。"]
    if result.problems:
        lines.append("隔離した行（この行は保存していません。修正したファイルを取り込むと、その行だけが追加されます）:")
        lines += [f"  {p}" for p in result.problems[:SHOWN_PROBLEMS]]
        if len(result.problems) > SHOWN_PROBLEMS:
            lines.append(f"  他 {len(result.problems) - SHOWN_PROBLEMS} 件")
    emit({**asdict(result), "status": "stored"}, as_json, lines)
