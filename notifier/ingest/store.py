"""Write a parsed source as the new snapshot of its table, in bulk, in the caller's transaction."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
from sqlalchemy import delete
from sqlalchemy.engine import Connection

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
        if conn.dialect.name == "postgresql":
            _copy_postgres(conn, table.name, _text_columns(source, frame))
        else:
            _executemany(conn, table.name, _text_columns(source, frame))
    for index in table.indexes if rebuild else ():
        index.create(conn)
    return len(frame)


def _iso(col: pd.Series, unit: str) -> pd.Series:
    """datetime64 → ISO text in C (numpy), NaT → None. `unit` D: 2026-04-01; us: 2026-04-01T10:30:00.000000."""
    arr = col.to_numpy(dtype="datetime64[ns]")
    text = np.datetime_as_string(arr, unit=unit)
    if unit != "D":
        text = np.char.replace(text, "T", " ")
    out = pd.Series(text, index=col.index, dtype=object)
    return out.where(~np.isnat(arr), None)


def _text_columns(source: Source, frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO text (the format SQLAlchemy's SQLite Date/DateTime types read back)."""
    kinds = {c.field: c.kind for c in source.columns}
    out = {}
    for name, col in frame.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            out[name] = _iso(col, "us" if kinds.get(name) == "datetime" else "D")
        else:
            out[name] = col
    return pd.DataFrame(out)


def _executemany(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    arrays = []
    for name, col in frame.items():
        if pd.api.types.is_bool_dtype(col.dtype):
            col = col.astype("Int8")
        values = col.astype(object).to_numpy()
        missing = col.isna().to_numpy()
        if missing.any():
            values = values.copy()
            values[missing] = None
        arrays.append(values)
    cols = list(frame.columns)
    sql = f'INSERT INTO {table} ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})'
    conn.connection.driver_connection.executemany(sql, zip(*arrays))


def _copy_postgres(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    buf = io.StringIO()
    # Unquoted empty fields are NULL in COPY's CSV format; pandas writes missing values that way.
    frame.to_csv(buf, index=False, header=False)
    cols = ", ".join(frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buf.getvalue())
