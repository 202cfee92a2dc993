"""`notifier consent import FILE.csv`: consents taken at counters (窓口) or by CSWs.

All or nothing: any bad row rejects the file with every problem listed (file, line, field), so a
corrected file can simply be imported again. Rows already imported (same file content and line)
are skipped, so a re-run adds nothing twice.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.consent import service
from notifier.ingest.dates import parse_datetimes_jst
from notifier.ingest.decode import StructuralError, nfkc, read_export
from notifier.models import ConsentEvent
from notifier.models.sources import SOURCE_TABLES

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
        ("宛名番号", f["宛名番号"].str.fullmatch(r"\d+") & ~f["宛名番号"].isin(known_residents),
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


def import_consents(session: Session, path: Path) -> ConsentImportResult:
    raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    frame, _encoding = read_export(raw, Path(path).name)
    t = SOURCE_TABLES["juminhyo"]
    known = set(session.scalars(select(t.c.atena_no)).all())
    clean, problems = validate(frame, Path(path).name, known)
    if problems:
        raise ConsentImportError(problems)
    prefix = f"{Path(path).name}:{digest}:"
    done = set(session.scalars(select(ConsentEvent.reference).where(ConsentEvent.reference.like(prefix + "%"))).all())
    added = skipped = 0
    for row in clean.sort_values(["occurred_at", "line"]).itertuples(index=False):
        reference = f"{prefix}{row.line}"
        if reference in done:
            skipped += 1
            continue
        scopes = SCOPES[row.同意範囲.replace(" ", "")]
        kw = {"grant": scopes} if KINDS[row.種別] == "grant" else {"withdraw": scopes}
        try:
            events = service.record(session, row.宛名番号, channel=row.チャネル, staff_id=row.職員ID,
                                    occurred_at=row.occurred_at.to_pydatetime(), reference=reference, **kw)
        except service.ConsentError as exc:
            raise ConsentImportError([_problem(Path(path).name, row.line, "同意範囲", str(exc))]) from exc
        added += len(events)
    return ConsentImportResult(file=Path(path).name, rows=len(clean), events_added=added,
                               skipped_already_imported=skipped)
