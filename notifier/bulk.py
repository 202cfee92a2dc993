"""Bulk writes of a data frame into a table in the caller's transaction: executemany on the raw
SQLite connection, COPY on PostgreSQL. The ORM's per-row work would cost seconds at city scale.

The frame's columns are the table's column names; dates and timestamps must already be ISO text
(`iso_dates` does that), missing values are None/NaN/NA.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection


def iso_dates(frame: pd.DataFrame, datetime_columns: set[str] = frozenset()) -> pd.DataFrame:
    """datetime64 columns → ISO text (the form SQLAlchemy's SQLite Date/DateTime types read back):
    2026-04-01 for dates, 2026-04-01 10:30:00.000000 for the `datetime_columns`; NaT → None."""
    out = {}
    for name, col in frame.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            arr = col.to_numpy(dtype="datetime64[ns]")
            unit = "us" if name in datetime_columns else "D"
            text = np.datetime_as_string(arr, unit=unit)
            if unit != "D" and len(text):
                # (numpy 2.3's char.replace fails on an empty array: no maximum of nothing)
                text = np.char.replace(text, "T", " ")
            out[name] = pd.Series(text, index=col.index, dtype=object).where(~np.isnat(arr), None)
        else:
            out[name] = col
    return pd.DataFrame(out)


def insert_frame(conn: Connection, table: str, frame: pd.DataFrame) -> int:
    """Insert every row of `frame` into `table`; returns the number of rows."""
    if not len(frame):
        return 0
    if conn.dialect.name == "postgresql":
        _copy_postgres(conn, table, frame)
    else:
        _executemany(conn, table, frame)
    return len(frame)


def _names(columns) -> str:
    # Quoted: some column names are SQL keywords (quarantine_rows.column).
    return ", ".join(f'"{c}"' for c in columns)


def _executemany(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    arrays = []
    for _name, col in frame.items():
        if pd.api.types.is_bool_dtype(col.dtype):
            col = col.astype("Int8")
        values = col.astype(object).to_numpy()
        missing = col.isna().to_numpy()
        if missing.any():
            values = values.copy()
            values[missing] = None
        arrays.append(values)
    cols = list(frame.columns)
    sql = f'INSERT INTO {table} ({_names(cols)}) VALUES ({", ".join("?" * len(cols))})'
    conn.connection.driver_connection.executemany(sql, zip(*arrays))


def _copy_postgres(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    buf = io.StringIO()
    # Unquoted empty fields are NULL in COPY's CSV format; pandas writes missing values that way.
    frame.to_csv(buf, index=False, header=False)
    cols = _names(frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buf.getvalue())
