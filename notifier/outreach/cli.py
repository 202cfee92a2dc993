"""`notifier outreach export` (design.md "Command line")."""
from __future__ import annotations

import click

from notifier.cliutil import CommandError, as_of_option, emit, json_option, with_app


@click.group("outreach", help="Outreach cases: exports for partners.")
def outreach_group() -> None:
    pass


@outreach_group.command("export", help="Open outreach cases as CSV (UTF-8 with BOM), pseudonymised per partner "
                                       "unless --identified; --key-table writes the pseudonym → 宛名番号 table.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The CSV file to write.")
@click.option("--organisation", default=None, help="Only cases assigned to this organisation (the receiving partner).")
@click.option("--identified", is_flag=True, help="With 世帯番号 and 宛名番号 (city staff only; not for partners).")
@click.option("--key-table", "key_table", is_flag=True, help="The separate key table: 仮名ID, 宛名番号, 氏名.")
@as_of_option
@json_option
@with_app
def outreach_export(out: str, organisation: str | None, identified: bool, key_table: bool, as_of, as_json: bool) -> None:
    from flask import current_app

    from notifier import audit, db
    from notifier.contract import OUTREACH_EXPORT_KINDS
    from notifier.outreach.export import ExportError, export
    if identified and key_table:
        raise CommandError("--identified と --key-table は同時に指定できません。")
    kind = "identified" if identified else "key_table" if key_table else "masked"
    try:
        with db.transaction() as s:
            result = export(s, kind, organisation=organisation, key=current_app.config.get("PSEUDONYM_KEY"),
                            as_of=as_of, actor=audit.Actor.operator(),
                            alert_limit=current_app.config["BULK_EXPORT_ALERT_HOUSEHOLDS"])
            # Written before the commit: a file that cannot be written leaves no audit row and no file.
            write_atomically(out, result.csv())
    except ExportError as exc:
        raise CommandError(str(exc)) from exc
    except OSError as exc:
        raise CommandError(f"ファイル {out} を書き込めません: {exc.strerror or exc}") from exc
    lines = [f"{OUTREACH_EXPORT_KINDS[kind]}を {out} に書き出しました（{len(result.rows)} 行、{result.households} 世帯）。"]
    if result.alert:
        lines.append(f"注意: 本日の書き出しが {result.day_total} 世帯になり、上限 {result.limit} 世帯を超えました"
                     "（大量書き出しとしてダッシュボードに表示されます）。")
    emit({**result.as_dict(), "out": out}, as_json, lines)


def write_atomically(path: str, text: str) -> None:
    """Write `text` (UTF-8) to a temporary file beside `path`, then rename it over `path`: a failure
    leaves no half-written file."""
    import os
    import tempfile
    target = os.path.abspath(path)
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
