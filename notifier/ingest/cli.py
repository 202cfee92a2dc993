"""`notifier data generate` and `notifier data import`."""
from __future__ import annotations

from pathlib import Path

import click

from notifier.cliutil import CommandError, emit, json_option, progress, with_app


@click.group("data", help="Synthetic city exports and CSV import.")
def data_group() -> None:
    pass


@data_group.command("generate", help="Write a synthetic city's exports (and _truth/ files for tests).")
@click.option("--scale", type=click.Choice(["tiny", "small", "izumi"]), default="tiny", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@json_option
def data_generate(scale: str, seed: int, out: Path, as_json: bool) -> None:
    from notifier.synth import generate
    summary = generate(scale, seed, out)
    emit(summary, as_json, [f"{out} に {scale} 規模の合成データを書き出しました（seed={seed}）。"] +
         [f"  {k}: {v}" for k, v in summary.get("rows", summary).items() if not isinstance(v, (dict, list))])


@data_group.command("import", help="Import every known file in DIR (each source replaced as a snapshot).")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@with_app
def data_import(directory: Path, mapping_file: Path | None, as_json: bool) -> None:
    from notifier import audit, db
    from notifier.ingest.importer import import_directory
    from notifier.ingest.mapping import MappingError, load_mapping
    try:
        mapping = load_mapping(mapping_file)
    except MappingError as exc:
        raise CommandError(str(exc)) from exc
    with progress(as_json, unit="file") as update:
        summary = import_directory(db.engine(), directory, mapping, actor=audit.Actor.operator(), progress=update)
    lines = []
    for f in summary.files:
        if f.status == "rejected":
            lines.append(f"✗ {f.file}: 取込を中止しました（前回のデータを維持）: {f.error}")
        else:
            extra = f"、無視した列: {', '.join(f.ignored_columns)}" if f.ignored_columns else ""
            lines.append(f"✓ {f.file}: 読込 {f.rows_read:,} 行、保存 {f.rows_stored:,} 行、隔離 {f.rows_quarantined:,} 行、"
                         f"重複除外 {f.duplicates_dropped:,} 行{extra}")
    for name in summary.unknown_files:
        lines.append(f"? {name}: 既知のファイルではないため読み込みませんでした")
    if not summary.files:
        lines.append("取り込めるファイルがありませんでした。")
    emit(summary.as_dict(), as_json, lines)
    if summary.failed:
        rejected = [f.file for f in summary.files if f.status == "rejected"]
        raise CommandError(f"rejected: {', '.join(rejected)}")
    if not summary.files:
        raise CommandError(f"no known files in {directory}")
