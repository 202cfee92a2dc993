"""`notifier link run` and `notifier link export`."""
from __future__ import annotations

import csv
from pathlib import Path

import click

from notifier.cliutil import CommandError, as_of_option, emit, json_option, progress, with_app


@click.group("link", help="名寄せ: link the school roster to residents.")
def link_group() -> None:
    pass


@link_group.command("run", help="Link every roster row; prints matched / review / unmatched counts.")
@as_of_option
@json_option
@with_app
def link_run(as_of, as_json: bool) -> None:
    from notifier import db
    from notifier.linkage.run import run_linkage
    with progress(as_json, unit="段階") as update:
        _result, counts = run_linkage(db.engine(), as_of, progress=update)
    methods = "、".join(f"{k} {v:,}" for k, v in sorted(counts.by_method.items())) or "なし"
    emit(counts.as_dict(), as_json, [
        f"学齢簿 {counts.roster:,} 件: 照合済み {counts.linked:,}（{methods}）、"
        f"要確認 {counts.review:,}、照合なし {counts.unlinked:,}"])


@link_group.command("export", help="Write 児童生徒番号, 宛名番号, method, score for every roster row.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@json_option
@with_app
def link_export(out: Path, as_json: bool) -> None:

    from sqlalchemy import select

    from notifier import audit, db
    from notifier.models import PupilLink
    with db.transaction() as s:
        rows = s.execute(select(PupilLink.pupil_id, PupilLink.atena_no, PupilLink.method, PupilLink.score,
                                PupilLink.status).order_by(PupilLink.pupil_id)).all()
        if not rows:
            raise CommandError("no link results: run `notifier link run` first")
        with out.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["児童生徒番号", "宛名番号", "method", "score"])
            for pupil_id, atena_no, method, score, status in rows:
                w.writerow([pupil_id, atena_no if status == "linked" else "",
                            method if status == "linked" else status,
                            "" if score is None else f"{score:.1f}"])
        audit.record(s, "export", actor=audit.Actor.operator(), target_type="link_export", target_id=out.name,
                     detail={"rows": len(rows)})
    emit({"out": str(out), "rows": len(rows)}, as_json, [f"{out} に {len(rows):,} 行を書き出しました。"])
