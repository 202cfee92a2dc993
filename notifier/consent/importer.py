"""`notifier consent import FILE.csv`: consents taken at counters (窓口) or by CSWs.

A file with a structural error (undecodable, a required column missing) is rejected whole and nothing
is stored. Otherwise each bad row is quarantined with file, line, field, value and reason, every good
row is imported, and the import is recorded in the import history (source "consent") like a data
import. Rows are skipped by content: a row already imported from any consent file (the same 宛名番号,
種別, scopes, 取得日時, チャネル and 職員ID) is not imported again, so a corrected file adds only the
rows that were fixed and the same file twice adds nothing. Validation is vectorised and every table
is written in bulk.
"""
from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert
from sqlalchemy.orm import Session

from notifier import audit, bulk, clock
from notifier.consent import service
from notifier.contract import CONSENT_IMPORT_SOURCE
from notifier.ingest import importer as ingest_importer
from notifier.ingest.dates import parse_datetimes_jst
from notifier.ingest.decode import StructuralError, map_distinct, nfkc, read_export
from notifier.models import ConsentEvent, ConsentImportRow, ImportRun, QuarantineRow
from notifier.models.sources import SOURCE_TABLES
from notifier.residents import PERIOD_COLUMNS, current_mask
from notifier.vector import isin

HEADERS = ["宛名番号", "種別", "同意範囲", "取得日時", "チャネル", "職員ID"]
KINDS = {"同意": "grant", "撤回": "withdraw"}
SCOPES = {"notify": ["notify"], "notify;tax": ["notify", "tax"], "tax;notify": ["notify", "tax"], "tax": ["tax"]}
CHANNELS = ("窓口", "CSW")
STAFF_ID_MAX = 64                                  # consent_events.staff_id
# (同意範囲, action) → the scopes the row covers: withdrawing notify withdraws tax too.
WRITTEN = {(text, kind): sorted(set(sc) | ({"tax"} if kind == "withdraw" and "notify" in sc else set()),
                                key=("notify", "tax").index)
           for text, sc in SCOPES.items() for kind in ("grant", "withdraw")}


@dataclass
class ConsentImportResult:
    file: str
    rows: int                                       # data rows read
    events_added: int
    skipped_already_imported: int                   # rows imported before, from any consent file
    duplicates_in_file: int = 0                     # repeats of an earlier row of the same file
    rows_quarantined: int = 0                       # rows with at least one problem
    import_id: int | None = None                    # the import history row (ImportRun)
    problems: list[str] = field(default_factory=list)   # "file:line: field: reason", one per problem


# An imported event's reference: `<file>:<sha256[:16]>:<line>` (the file's content names it as well as its name).
_REFERENCE = re.compile(r"^(?P<file>.+):[0-9a-f]{16}:(?P<line>\d+)$")


def import_references(file: str, sha256: str, lines: pd.Series) -> pd.Series:
    """The reference each imported row's events carry (vectorised over the file's line numbers)."""
    return f"{file}:{sha256[:16]}:" + lines.astype(str)


def parse_import_reference(reference: str | None) -> tuple[str, int] | None:
    """(file, line) of an imported event's reference, or None for any other reference."""
    found = _REFERENCE.match(reference or "")
    return (found["file"], int(found["line"])) if found else None


def _problem(file: str, line: int, column: str, reason: str) -> str:
    return f"{file}:{line}: {column}: {reason}"


def validate(frame: pd.DataFrame, file: str, known_residents) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The file's rows normalised (with `line` and `occurred_at`, naive UTC), and its problems: one row
    per bad cell (file, line, column, value as written, reason) in line order. A missing required column
    is a StructuralError."""
    missing = [h for h in HEADERS if h not in frame.columns]
    if missing:
        raise StructuralError(file, 1, missing[0], "必須の列がありません")
    written = frame[HEADERS].astype("str").fillna("")
    f = written.apply(lambda s: map_distinct(s, lambda u: nfkc(u).str.strip()))   # once per distinct value
    # read_export's index is the physical line where each record starts (header = line 1).
    line = pd.Series(f.index.to_numpy(), index=f.index)
    when, bad_when = parse_datetimes_jst(f["取得日時"])
    digits = f["宛名番号"].str.fullmatch(r"\d+").fillna(False).astype(bool)
    scope = f["同意範囲"].str.replace(" ", "")
    checks = [
        ("宛名番号", ~digits, "数字で入力してください"),
        ("宛名番号", digits & ~isin(f["宛名番号"], known_residents), "住民記録にない宛名番号です"),
        ("種別", ~f["種別"].isin(KINDS), "「同意」または「撤回」を入力してください"),
        ("同意範囲", ~scope.isin(SCOPES), "notify または notify;tax を入力してください"),
        ("同意範囲", f["種別"].eq("同意") & scope.eq("tax"),
         "課税情報の確認への同意は notify;tax として、お知らせの送付と一緒にのみ受け付けます"),
        ("取得日時", bad_when | when.isna(), "日時として読めません（例：2026-04-01 10:30）"),
        ("チャネル", ~f["チャネル"].isin(CHANNELS), "「窓口」または「CSW」を入力してください"),
        ("職員ID", f["職員ID"].eq(""), "必須項目が空です"),
        ("職員ID", f["職員ID"].str.len() > STAFF_ID_MAX, f"{STAFF_ID_MAX}文字以内で入力してください"),
    ]
    parts = []
    for order, (column, mask, reason) in enumerate(checks):          # one pass per check, not per row
        bad = np.asarray(pd.Series(mask, index=f.index).fillna(True), dtype=bool)
        parts.append(pd.DataFrame({"line": line.to_numpy()[bad], "order": order, "column": column,
                                   "value": written[column].to_numpy()[bad], "reason": reason}))
    problems = (pd.concat(parts, ignore_index=True).sort_values(["line", "order"], kind="stable")
                .drop(columns="order").reset_index(drop=True))
    problems.insert(0, "file", file)
    clean = f.assign(line=line, occurred_at=when).reset_index(drop=True)
    return clean, problems


_WRITTEN_BY_TEXT = {f"{text}|{kind}": scopes for (text, kind), scopes in WRITTEN.items()}


def _written(scope_text: pd.Series, action: pd.Series) -> pd.Series:
    """Per valid row, the list of scopes it writes (WRITTEN), looked up in one pass."""
    return (scope_text.str.replace(" ", "") + "|" + action).astype(object).map(_WRITTEN_BY_TEXT)


def row_keys(rows: pd.DataFrame) -> pd.Series:
    """Each valid row's content as one text: 宛名番号|action|scopes|取得日時 (UTC, µs)|チャネル|職員ID.
    Migration 0011 keys the rows of earlier imports the same way."""
    action = rows["種別"].map(KINDS)
    scopes = _written(rows["同意範囲"], action).str.join(";")
    when = pd.Series(np.datetime_as_string(pd.to_datetime(rows["occurred_at"]).to_numpy("datetime64[us]"),
                                           unit="us"), index=rows.index)
    return (rows["宛名番号"].astype(str) + "|" + action + "|" + scopes + "|" + when + "|"
            + rows["チャネル"].astype(str) + "|" + rows["職員ID"].astype(str))


def _residents(session: Session) -> pd.DataFrame:
    """Every resident row once (atena_no, setai_no, id, current today): who is known, and the
    household each lives in today (else their last). One bulk read in the caller's transaction."""
    rows = bulk.read_frame(session.connection(), SOURCE_TABLES["juminhyo"].name,
                           ["atena_no", "setai_no", "id", *PERIOD_COLUMNS])
    dates = {c: pd.to_datetime(rows[c], format="%Y-%m-%d", errors="coerce") for c in PERIOD_COLUMNS}
    current = current_mask(pd.DataFrame(dates), clock.today_jst())
    return pd.DataFrame({"atena_no": rows["atena_no"], "setai_no": rows["setai_no"],
                         "id": rows["id"].astype("int64"), "current": current})


def import_consents(session: Session, path: Path, *, actor) -> ConsentImportResult:
    """Import one counter-consent file in the caller's transaction, with its import history row and
    its `consent_change` audit row (who imported it, how many events it added, how many rows were
    already imported or quarantined, and the import run). A StructuralError stores nothing."""
    result = _import(session, path, actor=actor)
    audit.record(session, "consent_change", actor=actor, target_type="consent_import", target_id=result.file,
                 detail={"events": result.events_added, "skipped": result.skipped_already_imported,
                         "quarantined": result.rows_quarantined, "import_run": result.import_id})
    return result


def record_rejection(session: Session, path: Path, error: StructuralError, *, actor) -> int:
    """Record a rejected file in the import history (nothing of it was stored), audited like a rejected
    data import; for the caller to commit in a transaction of its own."""
    return ingest_importer.record_rejection(
        session, source=CONSENT_IMPORT_SOURCE, file=Path(path).name,
        sha256=hashlib.sha256(Path(path).read_bytes()).hexdigest(), encoding=None, error=str(error),
        batch=uuid.uuid4().hex[:12], actor=actor)


def _import(session: Session, path: Path, *, actor) -> ConsentImportResult:
    """Validate the whole file, then write its history row, quarantined rows, row keys and events in
    bulk in the caller's transaction.

    The same rules as `service.record`, applied to every new row at once in time order: a grant writes a
    row per scope; withdrawing notify withdraws tax too; a withdrawal writes a row only for a scope that
    is active just before it (the resident's history in the database, then the file's earlier rows)."""
    name = Path(path).name
    raw = Path(path).read_bytes()
    sha256 = hashlib.sha256(raw).hexdigest()
    frame, encoding = read_export(raw, name)
    started = clock.now()
    residents = _residents(session)
    clean, problems = validate(frame, name, residents["atena_no"])
    good = clean[~isin(clean["line"], problems["line"].unique())] if len(problems) else clean
    keys = row_keys(good) if len(good) else pd.Series([], dtype=object)
    repeated = keys.duplicated(keep="first").to_numpy(dtype=bool)
    done = bulk.read_frame(session.connection(), ConsentImportRow.__tablename__, ["row_key"], nullable=set())["row_key"]
    before = isin(keys, done) & ~repeated if len(done) else np.zeros(len(keys), dtype=bool)
    new = ~repeated & ~before
    todo = good[new].assign(row_key=keys[new]).sort_values(["occurred_at", "line"], kind="stable")
    # The reference names the row for staff (consent history: 「一括取込（file の N 行目）」).
    todo["reference"] = import_references(name, sha256, todo["line"])
    insert_events = _events(session, todo, residents)

    quarantined = int(problems["line"].nunique())
    run_id = session.execute(insert(ImportRun).values(
        batch=uuid.uuid4().hex[:12], source=CONSENT_IMPORT_SOURCE, file=name, sha256=sha256, encoding=encoding,
        status="stored", rows_read=len(clean), rows_stored=len(insert_events), rows_quarantined=quarantined,
        duplicates_dropped=int(repeated.sum() + before.sum()), ignored_columns=[],
        actor=audit.actor_label(actor), started_at=started, finished_at=clock.now())
        .returning(ImportRun.id)).scalar_one()
    conn = session.connection()
    bulk.insert_frame(conn, QuarantineRow.__tablename__, problems.assign(
        import_id=run_id, source=CONSENT_IMPORT_SOURCE)[["import_id", "source", "file", "line", "column", "value",
                                                          "reason"]])
    bulk.insert_frame(conn, ConsentImportRow.__tablename__, pd.DataFrame({
        "import_id": run_id, "line": todo["line"].to_numpy(), "row_key": todo["row_key"].to_numpy()}))
    bulk.insert_frame(conn, ConsentEvent.__tablename__, insert_events)
    return ConsentImportResult(
        file=name, rows=len(clean), events_added=len(insert_events), skipped_already_imported=int(before.sum()),
        duplicates_in_file=int(repeated.sum()), rows_quarantined=quarantined, import_id=run_id,
        problems=[_problem(name, ln, col, reason) for ln, col, reason in
                  zip(problems["line"], problems["column"], problems["reason"], strict=True)])


def _events(session: Session, todo: pd.DataFrame, residents: pd.DataFrame) -> pd.DataFrame:
    """The consent events the new rows write (time order; see _import), as stored columns."""
    if todo.empty:
        return pd.DataFrame()
    # One row per (file row, scope): withdrawing notify withdraws tax too.
    action = todo["種別"].map(KINDS)
    scopes = _written(todo["同意範囲"], action)
    events = todo.assign(action=action.to_numpy(), scope=scopes, order=range(len(todo))).explode("scope")

    # The state just before each event: the previous event of the file for that resident and scope, unless
    # the database holds a later one (the database's rows were recorded first, so they win ties).
    # (All of the history: one plain read beats an IN list of tens of thousands of 宛名番号.)
    from notifier.consent.service import load_events
    history = load_events(session)
    history = history[isin(history["atena_no"], events["宛名番号"].unique())]
    latest = (history.sort_values(["occurred_at", "id"]).drop_duplicates(["atena_no", "scope"], keep="last")
              .set_index(["atena_no", "scope"]))
    events = events.sort_values(["order", "scope"], kind="stable")
    group = events.groupby(["宛名番号", "scope"], sort=False)
    prev_action, prev_when = group["action"].shift(1), group["occurred_at"].shift(1)
    key = pd.MultiIndex.from_arrays([events["宛名番号"], events["scope"]])
    db_action = pd.Series(latest["action"].reindex(key).to_numpy(), index=events.index) if len(latest) else None
    db_when = (pd.Series(pd.to_datetime(latest["occurred_at"].reindex(key).to_numpy()), index=events.index)
               if len(latest) else None)
    before = prev_action
    if db_action is not None:
        db_wins = db_action.notna() & (prev_when.isna() | (db_when > prev_when))
        before = prev_action.where(~db_wins, db_action)
    emit = events["action"].eq("grant") | before.eq("grant")
    out = events[emit.to_numpy(dtype=bool)]

    households = (residents.sort_values(["current", "id"], ascending=[False, False])
                  .drop_duplicates("atena_no").set_index("atena_no")["setai_no"])
    texts = {scope: service.current_text(session, scope).id for scope in ("notify", "tax")}
    now = pd.Timestamp(clock.now())
    rows = pd.DataFrame({
        "atena_no": out["宛名番号"].to_numpy(), "setai_no": households.reindex(out["宛名番号"]).to_numpy(),
        "scope": out["scope"].to_numpy(), "action": out["action"].to_numpy(),
        "text_id": out["scope"].map(texts).to_numpy(), "channel": out["チャネル"].to_numpy(),
        "staff_id": out["職員ID"].to_numpy(), "line_account_id": pd.array([pd.NA] * len(out), dtype="Int64"),
        "occurred_at": pd.to_datetime(out["occurred_at"]).to_numpy(),      # naive UTC, as parsed
        "recorded_at": now, "reference": out["reference"].to_numpy()})
    return bulk.iso_dates(rows, {"occurred_at", "recorded_at"})
