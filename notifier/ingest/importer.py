"""`notifier data import DIR`: every known file in DIR becomes the new snapshot of its source.

A file with a structural error is rejected whole (its previous snapshot stays); bad rows go to
quarantine and the rest is stored; each source is replaced in its own transaction.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from notifier import audit, clock
from notifier.contract import SOURCES
from notifier.ingest import store
from notifier.ingest.decode import StructuralError, read_export
from notifier.ingest.mapping import Mapping
from notifier.ingest.parse import parse_source
from notifier.models import ImportRun, QuarantineRow

log = logging.getLogger(__name__)


@dataclass
class FileResult:
    source: str
    file: str
    status: str                 # stored | rejected
    rows_read: int = 0
    rows_stored: int = 0
    rows_quarantined: int = 0
    duplicates_dropped: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str | None = None
    error: str | None = None


@dataclass
class ImportSummary:
    batch: str
    files: list[FileResult]
    unknown_files: list[str]
    # With keep_frames: each stored source's new snapshot as typed frames (equal to what
    # notifier.ingest.load reads back), so a batch need not read it back from the database.
    frames: dict = field(default_factory=dict, repr=False)

    @property
    def failed(self) -> bool:
        return any(f.status == "rejected" for f in self.files)

    def as_dict(self) -> dict:
        return {"batch": self.batch, "failed": self.failed, "unknown_files": self.unknown_files,
                "files": [asdict(f) for f in self.files]}


def discover(directory: Path, mapping: Mapping) -> tuple[dict[str, Path], list[str]]:
    """Known sources present in `directory` (by default name or mapping), and the other CSV files."""
    present = {p.name: p for p in directory.iterdir() if p.is_file()}
    lower = {name.lower(): p for name, p in present.items()}
    found = {}
    for source in SOURCES:
        wanted = mapping.file_for(source)
        path = present.get(wanted) or lower.get(wanted.lower())
        if path is not None:
            found[source] = path
    used = {p.name for p in found.values()}
    # consent.csv is imported by `notifier consent import`, not as a source snapshot.
    unknown = sorted(n for n in present if n not in used and n.lower().endswith((".csv", ".txt"))
                     and n.lower() != "consent.csv")
    return found, unknown


def import_directory(engine: Engine, directory: Path, mapping: Mapping, *, actor="system",
                     progress: Callable[[str, int, int], None] | None = None,
                     keep_frames: bool = False) -> ImportSummary:
    directory = Path(directory)
    found, unknown = discover(directory, mapping)
    batch = uuid.uuid4().hex[:12]
    results, frames = [], {}
    for i, (source, path) in enumerate(found.items()):
        if progress:
            progress(source, i, len(found))
        result, frame = _import_file(engine, source, path, mapping, batch=batch, actor=actor)
        results.append(result)
        if keep_frames and frame is not None:
            frames[source] = frame
    if progress:
        progress("", len(found), len(found))
    return ImportSummary(batch=batch, files=results, unknown_files=unknown, frames=frames)


def import_file(engine: Engine, source_name: str, path: Path, mapping: Mapping, *, batch: str,
                actor) -> FileResult:
    return _import_file(engine, source_name, path, mapping, batch=batch, actor=actor)[0]


def _import_file(engine: Engine, source_name: str, path: Path, mapping: Mapping, *, batch: str,
                 actor):
    source = SOURCES[source_name]
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    result = FileResult(source=source_name, file=path.name, status="rejected")
    try:
        frame, encoding = read_export(raw, path.name)
        result.encoding = encoding
        renames = mapping.rename(source_name)
        if renames:
            frame = frame.rename(columns=renames)
        parsed = parse_source(source, frame, path.name)
    except StructuralError as exc:
        result.error = str(exc)
        _record_rejection(engine, result, batch=batch, digest=digest, actor=actor)
        log.warning("import rejected", extra={"source": source_name, "file": path.name})
        return result, None

    result.rows_read = parsed.rows_read
    result.duplicates_dropped = parsed.duplicates_dropped
    result.ignored_columns = list(parsed.ignored_columns)
    result.rows_quarantined = parsed.rows_quarantined
    with engine.begin() as conn:
        run_id = conn.execute(insert(ImportRun).values(
            batch=batch, source=source_name, file=path.name, sha256=digest, encoding=encoding,
            status="stored", rows_read=parsed.rows_read, rows_stored=len(parsed.frame),
            rows_quarantined=parsed.rows_quarantined, duplicates_dropped=parsed.duplicates_dropped,
            ignored_columns=list(parsed.ignored_columns), actor=audit.actor_label(actor), started_at=clock.now(),
            finished_at=clock.now()).returning(ImportRun.id)).scalar_one()
        result.rows_stored = store.replace_rows(conn, source, store.storable_frame(source, parsed.frame, run_id))
        if len(parsed.quarantine):
            q = parsed.quarantine.assign(import_id=run_id, source=source_name)
            conn.execute(insert(QuarantineRow), [
                {"import_id": run_id, "source": source_name, "file": r.file, "line": int(r.line),
                 "column": r.column, "value": r.value, "reason": r.reason}
                for r in q.itertuples(index=False)])
        audit.record(conn, "import", actor=actor, target_type="import_run", target_id=run_id,
                     detail={"source": source_name, "file": path.name, "status": "stored", "batch": batch,
                             "rows_stored": result.rows_stored, "rows_quarantined": result.rows_quarantined})
    result.status = "stored"
    return result, parsed.frame


def _record_rejection(engine: Engine, result: FileResult, *, batch: str, digest: str, actor) -> None:
    with engine.begin() as conn:
        record_rejection(conn, source=result.source, file=result.file, sha256=digest, encoding=result.encoding,
                         error=result.error, batch=batch, actor=actor)


def record_rejection(conn, *, source: str, file: str, sha256: str, encoding: str | None, error: str,
                     batch: str, actor) -> int:
    """Record a rejected file (nothing of it stored) in the import history, with its `import` audit row,
    in the caller's transaction (a Connection or a Session); returns the ImportRun's id. Data imports
    and counter-consent imports both record their rejections here."""
    run_id = conn.execute(insert(ImportRun).values(
        batch=batch, source=source, file=file, sha256=sha256, encoding=encoding, status="rejected", error=error,
        actor=audit.actor_label(actor), started_at=clock.now(), finished_at=clock.now())
        .returning(ImportRun.id)).scalar_one()
    audit.record(conn, "import", actor=actor, target_type="import_run", target_id=run_id,
                 detail={"source": source, "file": file, "status": "rejected", "batch": batch})
    return run_id
