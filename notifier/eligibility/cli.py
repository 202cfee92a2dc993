"""`notifier rules load`, `notifier eligibility run`, `notifier eligibility export`."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import click

from notifier.cliutil import CommandError, as_of_option, emit, json_option, progress, with_app


@click.group("rules", help="The rules database (versioned, approved by a second person).")
def rules_group() -> None:
    pass


@rules_group.command("load", help="Load YAML rules as new versions (unchanged content → no new version).")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--activate", is_flag=True, help="Approve at once as an audited system action.")
@json_option
@with_app
def rules_load(directory: Path, activate: bool, as_json: bool) -> None:
    from flask import current_app

    from notifier import audit, db
    from notifier.eligibility.dao import load_directory
    from notifier.eligibility.rules import RuleError
    try:
        with db.transaction() as s:
            outcomes = load_directory(s, directory, actor=audit.Actor.operator(), activate=activate,
                                      url_hosts=current_app.config["APPLICATION_URL_HOSTS"])
    except RuleError as exc:
        raise CommandError("; ".join(exc.errors)) from exc
    emit({"rules": [o.__dict__ for o in outcomes]}, as_json,
         [f"{o.rule_id}: 第{o.version}版 {'新規' if o.status == 'new' else '変更なし'}"
          f"{'（有効）' if o.active else '（承認待ち）'}" for o in outcomes])


@click.group("eligibility", help="Evaluate the active rules over every household.")
def eligibility_group() -> None:
    pass


@eligibility_group.command("run", help="Evaluate active rules; prints per-rule counts.")
@as_of_option
@json_option
@with_app
def eligibility_run(as_of, as_json: bool) -> None:
    from flask import current_app

    from notifier import audit, db
    from notifier.eligibility.run import NoActiveRules, run_eligibility
    try:
        with progress(as_json) as update:
            outcome = run_eligibility(db.engine(), db.session(), as_of, actor=audit.Actor.operator(),
                                      max_age=current_app.config["SOURCE_MAX_AGE_DAYS"], progress=update)
    except NoActiveRules as exc:
        raise CommandError(str(exc)) from exc
    emit(outcome.as_dict(), as_json, outcome.lines())


@eligibility_group.command("export", help="rule_id, rule_version, 世帯番号, reasons of the latest run.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@json_option
@with_app
def eligibility_export(out: Path, as_json: bool) -> None:
    from sqlalchemy import select

    from notifier import audit, db
    from notifier.eligibility.dao import latest_run
    from notifier.eligibility.engine import reason_text
    from notifier.models import EligibilityMatch, RuleVersion
    with db.transaction() as s:
        run = latest_run(s)
        if run is None:
            raise CommandError("no eligibility run yet: run `notifier eligibility run` first")
        rows = s.execute(select(EligibilityMatch.rule_id, RuleVersion.version, EligibilityMatch.setai_no,
                                EligibilityMatch.reasons)
                         .join(RuleVersion, RuleVersion.id == EligibilityMatch.rule_version_id)
                         .where(EligibilityMatch.run_id == run.id)
                         .order_by(EligibilityMatch.rule_id, EligibilityMatch.setai_no)).all()
        with out.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["rule_id", "rule_version", "世帯番号", "reasons"])
            for rule_id, version, setai_no, reasons in rows:
                w.writerow([rule_id, version, setai_no, " / ".join(reason_text(r) for r in json.loads(reasons))])
        audit.record(s, "export", actor=audit.Actor.operator(), target_type="eligibility_export", target_id=out.name,
                     detail={"run_id": run.id, "rows": len(rows)})
    emit({"out": str(out), "rows": len(rows), "run_id": run.id}, as_json,
         [f"{out} に {len(rows):,} 件を書き出しました（{run.as_of} 時点の判定）。"])
