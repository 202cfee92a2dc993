"""Source tables (one per file of the data contract), built from notifier.contract.

Each table holds the latest snapshot of its source: an import replaces all its rows in one transaction.
Originals are kept for display; kana fields also store their matching keys (`*_strict`, `*_loose`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from notifier import clock
from notifier.contract import SOURCES, Source
from notifier.models.base import Base

_TYPES = {
    "id": lambda: String(32), "key": lambda: String(32), "text": lambda: Text(), "kana": lambda: String(128),
    "date": Date, "month": Date, "fy": Integer, "int": BigInteger, "code": lambda: String(32),
    "relation": lambda: String(32), "handbook_grade": lambda: String(8), "sex": SmallInteger,
    "grade": SmallInteger, "flag": Boolean, "datetime": DateTime,
}


class ImportRun(Base):
    """One file's import: what was read, stored and quarantined (取込履歴)."""
    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(40))         # one `data import` call
    source: Mapped[str] = mapped_column(String(32))
    file: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))
    encoding: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))        # stored | rejected
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_stored: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    duplicates_dropped: Mapped[int] = mapped_column(Integer, default=0)
    ignored_columns: Mapped[list | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    started_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class QuarantineRow(Base):
    """A row that could not be stored, with file, line, column, value and reason (隔離)."""
    __tablename__ = "quarantine_rows"
    __table_args__ = (Index("ix_quarantine_rows_import", "import_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    file: Mapped[str] = mapped_column(String(255))
    line: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


def source_columns(source: Source) -> list[str]:
    """Stored column names of a source table, in order (without the surrogate id)."""
    names = ["import_id", "line_no"]
    for col in source.columns:
        names.append(col.field)
        if col.kind == "kana":
            names += [f"{col.field}_strict", f"{col.field}_loose"]
        if col.kind == "relation":
            names.append(f"{col.field}_norm")
    if any(c.kind in ("text", "kana") for c in source.columns):
        names.append("gaiji")
    return names


def _build_table(source: Source) -> Table:
    cols = [Column("id", Integer, primary_key=True),
            Column("import_id", ForeignKey("import_runs.id"), nullable=False),
            Column("line_no", Integer, nullable=False)]
    for col in source.columns:
        cols.append(Column(col.field, _TYPES[col.kind](), nullable=not col.required))
        if col.kind == "kana":
            cols += [Column(f"{col.field}_strict", String(128)), Column(f"{col.field}_loose", String(128))]
        if col.kind == "relation":
            cols.append(Column(f"{col.field}_norm", String(32)))
    if any(c.kind in ("text", "kana") for c in source.columns):
        cols.append(Column("gaiji", Boolean, nullable=False, default=False))
    name = f"src_{source.name}"
    indexes = [Index(f"ix_{name}_{source.key}", source.key)]
    if source.name == "juminhyo":
        indexes.append(Index("ix_src_juminhyo_setai_no", "setai_no"))
    if source.name == "jido_teate":
        indexes.append(Index("ix_src_jido_teate_child", "child_atena_no"))
    return Table(name, Base.metadata, *cols, *indexes)


SOURCE_TABLES: dict[str, Table] = {name: _build_table(src) for name, src in SOURCES.items()}
