"""Write a parsed source as the new snapshot of its table, in bulk, in the caller's transaction."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import delete
from sqlalchemy.engine import Connection

from notifier import bulk
from notifier.contract import Source
from notifier.models.sources import SOURCE_TABLES, source_columns


def storable_frame(source: Source, frame: pd.DataFrame, import_id: int) -> pd.DataFrame:
    """The parsed frame with exactly the stored columns, in table order."""
    out = frame.copy()
    out["import_id"] = import_id
    cols = source_columns(source)
    for col in cols:
        if col not in out.columns:
            out[col] = False if col == "gaiji" else None
    return out[cols]


def replace_rows(conn: Connection, source: Source, frame: pd.DataFrame) -> int:
    """DELETE the old snapshot and bulk-insert the new one (the caller owns the transaction)."""
    table = SOURCE_TABLES[source.name]
    # Building an index once after a bulk load is much faster than updating it row by row; both
    # databases run DDL inside the transaction, so a failure still leaves the old snapshot whole.
    # Only on SQLite: there a writer locks the whole database anyway, while on PostgreSQL DROP INDEX
    # would wait for every open reader of the table (staff pages) with an exclusive lock.
    rebuild = conn.dialect.name == "sqlite"
    for index in table.indexes if rebuild else ():
        index.drop(conn)
    conn.execute(delete(table))
    if len(frame):
        bulk.insert_frame(conn, table.name, _text_columns(source, frame))
    for index in table.indexes if rebuild else ():
        index.create(conn)
    return len(frame)


def _text_columns(source: Source, frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO text (the format SQLAlchemy's SQLite Date/DateTime types read back)."""
    return bulk.iso_dates(frame, {c.field for c in source.columns if c.kind == "datetime"})
