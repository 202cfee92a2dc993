"""`notifier data generate` and `notifier data import`."""
from __future__ import annotations

from pathlib import Path

import click

from notifier.cliutil import CommandError, as_of_option, emit, json_option, progress, with_app


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


@data_group.command("status", help="Each source: last snapshot, rows, age, quarantined rows, rules using it.")
@as_of_option
@json_option
@with_app
def data_status(as_of, as_json: bool) -> None:
    from flask import current_app

    from notifier import db
    from notifier.eligibility.dao import active_rules
    from notifier.ingest.status import source_statuses
    s = db.session()
    statuses = source_statuses(s, as_of, current_app.config["SOURCE_MAX_AGE_DAYS"])
    users: dict[str, list[str]] = {name: [] for name in statuses}
    for _version, rule in active_rules(s):
        for name in rule.sources:
            users[name].append(rule.id)
    payload = {"as_of": as_of.isoformat(), "sources": [
        {"source": st.name, "title": st.title, "state": st.state, "import_id": st.import_id,
         "imported_at": st.imported_at.isoformat() + "Z" if st.imported_at else None,
         "age_days": st.age_days, "max_age_days": st.max_age_days, "rows": st.rows,
         "rows_quarantined": st.rows_quarantined,
         "last_rejected_at": st.last_rejected_at.isoformat() + "Z" if st.last_rejected_at else None,
         "rules": users[st.name]} for st in statuses.values()]}
    state_labels = {"ok": "利用可", "missing": "未取込", "stale": "古い"}
    lines = [f"{as_of.isoformat()} 時点のデータの状態"]
    for st in statuses.values():
        when = f"最終取込 {st.imported_on}（{st.age_days}日前、上限 {st.max_age_days}日）、{st.rows:,} 行、隔離 " \
               f"{st.rows_quarantined:,} 行" if st.import_id else "取込なし"
        rejected = "、最後の取込は中止（前回のデータを使用中）" if st.last_rejected_at else ""
        rules = "、".join(users[st.name]) or "なし"
        lines.append(f"  {st.name}（{st.title}）: {state_labels[st.state]} — {when}{rejected}。使うルール: {rules}")
    emit(payload, as_json, lines)
