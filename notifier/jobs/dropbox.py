"""The drop folder (取込フォルダ) the city's systems export into, as the daily job reads it.

Each known file is imported once: a file whose content (sha256) is already stored is never imported
again. An imported file moves to `archive/<date>/`, a rejected one to `rejected/<date>/` with the
reason in `<file>.reason.txt` beside it; the previous snapshot of a rejected source stays in use.
The database commit comes first and the move second, so a crash between the two leaves a file that
the next run recognises by its hash and archives.
"""
from __future__ import annotations

import hashlib
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from notifier.ingest.importer import FileResult, discover, import_file
from notifier.ingest.mapping import Mapping
from notifier.models import ImportRun

ARCHIVE, REJECTED = "archive", "rejected"


@dataclass
class DropResult:
    imported: list[FileResult] = field(default_factory=list)
    rejected: list[FileResult] = field(default_factory=list)
    already_imported: list[str] = field(default_factory=list)   # same content as a stored import
    unknown: list[str] = field(default_factory=list)            # not a file of the data contract

    @property
    def new_data(self) -> bool:
        return bool(self.imported)

    def counts(self) -> dict:
        return {"imported": len(self.imported), "rejected": len(self.rejected),
                "already_imported": len(self.already_imported), "unknown": len(self.unknown),
                "rows_stored": sum(f.rows_stored for f in self.imported),
                "rows_quarantined": sum(f.rows_quarantined for f in self.imported)}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():                 # the same name twice in one day: keep both
        target = folder / f"{path.stem}.{uuid.uuid4().hex[:6]}{path.suffix}"
    shutil.move(str(path), target)
    return target


def import_drop_folder(engine: Engine, folder: Path, mapping: Mapping, day: date, *, actor) -> DropResult:
    """Import every new known file in `folder`, one source at a time, and file it away."""
    folder = Path(folder)
    found, unknown = discover(folder, mapping)
    result = DropResult(unknown=unknown)
    with engine.connect() as conn:
        stored = set(conn.scalars(select(ImportRun.sha256).where(ImportRun.status == "stored",
                                                                 ImportRun.sha256.is_not(None))))
    batch = f"daily-{day.isoformat()}-{uuid.uuid4().hex[:6]}"
    for source, path in found.items():
        if _sha256(path) in stored:
            result.already_imported.append(path.name)
            _move(path, folder / ARCHIVE / day.isoformat())
            continue
        outcome = import_file(engine, source, path, mapping, batch=batch, actor=actor)
        if outcome.status == "stored":
            result.imported.append(outcome)
            _move(path, folder / ARCHIVE / day.isoformat())
        else:
            result.rejected.append(outcome)
            moved = _move(path, folder / REJECTED / day.isoformat())
            moved.with_name(moved.name + ".reason.txt").write_text(
                f"{path.name}: 取込を中止しました（前回のデータを使い続けます）\n{outcome.error}\n", encoding="utf-8")
    return result
