"""`notifier consent import FILE.csv`: consents taken at counters (窓口) or by CSWs.

All or nothing: any bad row rejects the file with every problem listed (file, line, field), so a
corrected file can simply be imported again. A file already imported (same content) is skipped whole,
so a re-run adds nothing twice. Validation is vectorised and the events go in one bulk insert.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier import audit, bulk, clock
from notifier.consent import service
from notifier.ingest.dates import parse_datetimes_jst
from notifier.ingest.decode import StructuralError, nfkc, read_export
from notifier.models import ConsentEvent
from notifier.models.sources import SOURCE_TABLES
from notifier.residents import current_condition
from notifier.vector import isin

HEADERS = ["宛名番号", "種別", "同意範囲", "取得日時", "チャネル", "職員ID"]
KINDS = {"同意": "grant", "撤回": "withdraw"}
SCOPES = {"notify": ["notify"], "notify;tax": ["notify", "tax"], "tax;notify": ["notify", "tax"], "tax": ["tax"]}
CHANNELS = ("窓口", "CSW")


class ConsentImportError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ConsentImportResult:
    file: str
    rows: int
    events_added: int
    skipped_already_imported: int
    problems: list[str] = field(default_factory=list)


def _problem(file: str, line: int, column: str, reason: str) -> str:
    return f"{file}:{line}: {column}: {reason}"


def validate(frame: pd.DataFrame, file: str, known_residents: set[str]) -> tuple[pd.DataFrame, list[str]]:
    missing = [h for h in HEADERS if h not in frame.columns]
    if missing:
        raise StructuralError(file, 1, missing[0], "必須の列がありません")
    f = frame[HEADERS].apply(nfkc).apply(lambda s: s.str.strip())
    # read_export's index is the physical line where each record starts (header = line 1).
    line = pd.Series(f.index.to_numpy(), index=f.index)
    when, bad_when = parse_datetimes_jst(f["取得日時"])
    checks = [
        ("宛名番号", ~f["宛名番号"].str.fullmatch(r"\d+"), "数字で入力してください"),
        ("宛名番号", f["宛名番号"].str.fullmatch(r"\d+") & ~isin(f["宛名番号"], known_residents),
         "住民記録にない宛名番号です"),
        ("種別", ~f["種別"].isin(KINDS), "「同意」または「撤回」を入力してください"),
        ("同意範囲", ~f["同意範囲"].str.replace(" ", "").isin(SCOPES), "notify または notify;tax を入力してください"),
        ("同意範囲", f["種別"].eq("同意") & f["同意範囲"].str.replace(" ", "").eq("tax"),
         "課税情報の確認への同意は notify;tax として、お知らせの送付と一緒にのみ受け付けます"),
        ("取得日時", bad_when | when.isna(), "日時として読めません（例：2026-04-01 10:30）"),
        ("チャネル", ~f["チャネル"].isin(CHANNELS), "「窓口」または「CSW」を入力してください"),
        ("職員ID", f["職員ID"].eq(""), "必須項目が空です"),
    ]
    problems = []
    for column, mask, reason in checks:
        for i in f.index[mask.fillna(True).astype(bool)]:
            problems.append((int(line[i]), column, reason))
    problems.sort()
    clean = f.assign(line=line, occurred_at=when).reset_index(drop=True)
    return clean, [_problem(file, ln, col, reason) for ln, col, reason in problems]


def _frame(result, columns: list[str]) -> pd.DataFrame:
    rows = result.all()
    return pd.DataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)) if rows else {c: [] for c in columns})


def import_consents(session: Session, path: Path, *, actor) -> ConsentImportResult:
    """Import one counter-consent file in the caller's transaction, with its `consent_change` audit row
    (who imported it, how many events it added, how many rows were already imported)."""
    result = _import(session, path)
    audit.record(session, "consent_change", actor=actor, target_type="consent_import", target_id=result.file,
                 detail={"events": result.events_added, "skipped": result.skipped_already_imported})
    return result


def _import(session: Session, path: Path) -> ConsentImportResult:
    """Validate the whole file, then write its events in one bulk insert in the caller's transaction.

    The same rules as `service.record`, applied to every row at once in time order: a grant writes a row
    per scope; withdrawing notify withdraws tax too; a withdrawal writes a row only for a scope that is
    active just before it (the resident's history in the database, then the file's earlier rows)."""
    name = Path(path).name
    raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    frame, _encoding = read_export(raw, name)
    t = SOURCE_TABLES["juminhyo"]
    # Every resident row once: who is known, and the household each lives in today (else their last).
    residents = _frame(session.execute(select(t.c.atena_no, t.c.setai_no, t.c.id,
                                              current_condition(t, clock.today_jst()).label("current"))),
                       ["atena_no", "setai_no", "id", "current"])
    clean, problems = validate(frame, name, residents["atena_no"])
    if problems:
        raise ConsentImportError(problems)
    prefix = f"{name}:{digest}:"
    # A file is imported whole in one transaction: one stored reference of this content means all of it
    # was (rows whose withdrawal changed nothing left no row, and must not count again later).
    done = session.scalar(select(ConsentEvent.id).where(ConsentEvent.reference.like(prefix + "%")).limit(1))
    rows = clean.assign(reference=prefix + clean["line"].astype(str))
    todo = (rows.iloc[0:0] if done is not None else rows).sort_values(["occurred_at", "line"], kind="stable")
    skipped = len(rows) - len(todo)
    if todo.empty:
        return ConsentImportResult(file=name, rows=len(clean), events_added=0, skipped_already_imported=skipped)

    # One row per (file row, scope): withdrawing notify withdraws tax too.
    action = todo["種別"].map(KINDS)
    written = {(text, kind): sorted(set(sc) | ({"tax"} if kind == "withdraw" and "notify" in sc else set()),
                                    key=("notify", "tax").index)
               for text, sc in SCOPES.items() for kind in ("grant", "withdraw")}
    scopes = pd.Series(list(zip(todo["同意範囲"].str.replace(" ", ""), action, strict=True)), index=todo.index).map(written)
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
    insert = pd.DataFrame({
        "atena_no": out["宛名番号"].to_numpy(), "setai_no": households.reindex(out["宛名番号"]).to_numpy(),
        "scope": out["scope"].to_numpy(), "action": out["action"].to_numpy(),
        "text_id": out["scope"].map(texts).to_numpy(), "channel": out["チャネル"].to_numpy(),
        "staff_id": out["職員ID"].to_numpy(), "line_account_id": pd.array([pd.NA] * len(out), dtype="Int64"),
        "occurred_at": pd.to_datetime(out["occurred_at"]).to_numpy(),      # naive UTC, as parsed
        "recorded_at": now, "reference": out["reference"].to_numpy()})
    bulk.insert_frame(session.connection(), ConsentEvent.__tablename__,
                      bulk.iso_dates(insert, {"occurred_at", "recorded_at"}))
    return ConsentImportResult(file=name, rows=len(clean), events_added=len(insert), skipped_already_imported=skipped)
