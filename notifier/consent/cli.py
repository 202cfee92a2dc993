"""`notifier consent import FILE.csv`."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from notifier.cliutil import CommandError, emit, json_option, with_app


@click.group("consent", help="Consents taken at counters and by CSWs.")
def consent_group() -> None:
    pass


@consent_group.command("import", help="Import consents taken at counters (窓口) or by CSWs.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@with_app
def consent_import(file: Path, as_json: bool) -> None:
    from notifier import audit, db
    from notifier.consent.importer import ConsentImportError, import_consents
    from notifier.ingest.decode import StructuralError
    try:
        with db.transaction() as s:
            result = import_consents(s, file, actor=audit.Actor.operator())
    except ConsentImportError as exc:
        emit({"file": file.name, "status": "rejected", "problems": exc.problems}, as_json,
             ["取込を中止しました（1件も保存していません）:"] + [f"  {p}" for p in exc.problems])
        raise CommandError(f"{file.name}: {len(exc.problems)} problem(s); nothing imported") from exc
    except StructuralError as exc:
        raise CommandError(str(exc)) from exc
    emit({**asdict(result), "status": "stored"}, as_json,
         [f"{result.file}: {result.rows} 行を確認し、同意・撤回 {result.events_added} 件を記録しました"
          f"（取込済みのため省略 {result.skipped_already_imported} 行）。"])
