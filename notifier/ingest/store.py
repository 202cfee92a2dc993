"""Write a parsed source as the new snapshot of its table, in bulk, in the caller's transaction."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
from sqlalchemy import delete
from sqlalchemy.engine import Connection

from notifier.ingest.contract import Source
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
    conn.execute(delete(table))
    if frame.empty:
        return 0
    if conn.dialect.name == "postgresql":
        _copy_postgres(conn, table.name, frame)
    else:
        _executemany(conn, table.name, frame)
    return len(frame)


def _text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO text (the format SQLAlchemy's SQLite Date/DateTime types read back)."""
    out = {}
    for name, col in frame.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            is_date = (col.dropna().dt.normalize() == col.dropna()).all() and name not in ("applied_at",)
            fmt = "%Y-%m-%d" if is_date else "%Y-%m-%d %H:%M:%S.%f"
            out[name] = col.dt.strftime(fmt)
        else:
            out[name] = col
    return pd.DataFrame(out)


def _executemany(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    frame = _text_columns(frame)
    cols = list(frame.columns)
    arrays = []
    for name in cols:
        col = frame[name]
        values = col.astype(object).to_numpy()
        mask = col.isna().to_numpy()
        if mask.any():
            values = values.copy()
            values[mask] = None
        if pd.api.types.is_bool_dtype(col.dtype):
            values = np.where(mask, None, col.fillna(False).astype(bool).astype(int).to_numpy()).astype(object)
        arrays.append(values)
    rows = list(zip(*arrays))
    sql = f'INSERT INTO {table} ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})'
    conn.connection.driver_connection.executemany(sql, rows)


def _copy_postgres(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    frame = _text_columns(frame)
    buf = io.StringIO()
    # Unquoted empty fields are NULL in COPY's CSV format; pandas writes missing values that way.
    frame.to_csv(buf, index=False, header=False)
    cols = ", ".join(frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buf.getvalue())
