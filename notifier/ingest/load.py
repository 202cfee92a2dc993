"""Read stored source snapshots back as typed frames (the input of linkage and the household table).

Frames use the contract's field names: ids as str, dates as datetime64[ns] (NaT for none), fy/int as
Int64, sex/grade as Int8, flags as bool.
"""
from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from notifier.ingest.contract import SOURCES
from notifier.models.sources import SOURCE_TABLES, source_columns

_DATE_KINDS = {"date", "month"}


def load_source(engine: Engine, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    source = SOURCES[name]
    table = SOURCE_TABLES[name]
    wanted = columns or [c for c in source_columns(source) if c != "import_id"]
    with engine.connect() as conn:
        result = conn.execute(select(*[table.c[c] for c in wanted]))
        frame = pd.DataFrame(result.fetchall(), columns=wanted)
    kinds = {c.field: c.kind for c in source.columns}
    for col in wanted:
        kind = kinds.get(col)
        if kind in _DATE_KINDS or kind == "datetime":
            frame[col] = pd.to_datetime(frame[col], errors="coerce")
        elif kind in ("fy", "int"):
            frame[col] = pd.array(frame[col], dtype="Int64")
        elif kind in ("sex", "grade"):
            frame[col] = pd.array(frame[col], dtype="Int8")
        elif kind == "flag" or col == "gaiji":
            frame[col] = frame[col].fillna(False).astype(bool)
        elif col == "line_no":
            frame[col] = frame[col].astype("int64")
        else:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def load_sources(engine: Engine, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    return {name: load_source(engine, name) for name in (names or list(SOURCES))}
