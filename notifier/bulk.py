"""Bulk writes of a data frame into a table in the caller's transaction (executemany on the raw
SQLite connection, COPY on PostgreSQL) and bulk reads of a table's columns as text (`read_frame`).
The ORM's per-row work would cost seconds at city scale.

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


# ── Reading ──────────────────────────────────────────────────────────────────────────────────────
_SEP = "\x1f"                # ASCII unit separator: between the values of one column
_CHUNK_ROWS = 1_000_000        # rows per statement, which keeps each column's string far below SQLite's limit


def read_frame(conn: Connection, table: str, columns: list[str], *, where: str = "", params: tuple = (),
               nullable: set[str] | None = None) -> pd.DataFrame:
    """The columns of `table` as text (str dtype; NaN for NULL), in the caller's transaction.

    `where`: an SQL condition with `?` placeholders for `params`; `nullable`: the columns that may
    hold NULL (default: all). Callers convert types. On PostgreSQL COPY to CSV; on SQLite each
    column comes over as one `group_concat` string that Arrow splits in C, so no Python object is
    made per value (Python's own sqlite3 only — never a second SQLite library in the process, whose
    file locks would break the first one's); a row cursor when a value holds the separator.
    """
    raw = conn.connection.driver_connection
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        buf = io.BytesIO()
        cond = f" WHERE {where}".replace("?", "%s") if where else ""
        with raw.cursor() as cur:
            # NULL as \N, so that '' stays ''. (A stored value that is exactly \N would read as NULL.)
            with cur.copy(f"COPY (SELECT {cols} FROM {table}{cond}) TO STDOUT WITH (FORMAT csv, NULL '\\N')",
                          params) as copy:
                for chunk in copy:
                    buf.write(chunk)
        buf.seek(0)
        if not buf.getbuffer().nbytes:
            return pd.DataFrame({c: pd.Series([], dtype="str") for c in columns})
        return pd.read_csv(buf, header=None, names=columns, dtype="str", keep_default_na=False,
                           na_values=["\\N"], encoding="utf-8")
    frame = _read_sqlite_columns(raw, table, columns, f" AND ({where})" if where else "", params,
                                 set(columns) if nullable is None else nullable)
    if frame is not None:
        return frame
    cur = raw.execute(f"SELECT {cols} FROM {table}" + (f" WHERE {where}" if where else ""), params)
    rows = cur.fetchall()
    cur.close()
    # Column by column from the values themselves (a frame from records would make 7 of an integer
    # column with NULLs into 7.0).
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pd.DataFrame({c: pd.Series([None if v is None else str(v) for v in col], dtype="str")
                         for c, col in zip(columns, values, strict=True)})


def _read_sqlite_columns(raw, table: str, columns: list[str], where: str, params: tuple,
                         nullable: set[str]) -> pd.DataFrame | None:
    """One `group_concat` per column and chunk of rowids; None when a value holds the separator.
    In a `nullable` column NULL is told apart from '' by a mask read beside it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    lo, hi = raw.execute(f"SELECT min(rowid), max(rowid) FROM {table}").fetchone()
    parts: dict[str, list] = {c: [] for c in columns}
    if lo is not None:
        aggs = ", ".join(f"group_concat(ifnull({c}, ''), char(31)), group_concat({c} IS NULL, '')" if c in nullable
                         else f"group_concat({c}, char(31)), NULL" for c in columns)
        for start in range(lo, hi + 1, _CHUNK_ROWS):
            row = raw.execute(f"SELECT count(*), {aggs} FROM {table} WHERE rowid >= ? AND rowid < ?{where}",
                              (start, start + _CHUNK_ROWS, *params)).fetchone()
            n = row[0]
            if not n:
                continue
            for i, c in enumerate(columns):
                values = pc.split_pattern(pa.array([str(row[1 + 2 * i])], pa.large_string()), _SEP).flatten()
                if len(values) != n:
                    return None
                mask = row[2 + 2 * i]
                nulls = None if mask is None else np.frombuffer(str(mask).encode("ascii"), dtype=np.uint8) == ord("1")
                parts[c].append(pc.if_else(pa.array(nulls), pa.scalar(None, pa.large_string()), values)
                                if nulls is not None and nulls.any() else values)
    # Left as large_string: the storage pandas' str dtype uses itself (a cast would copy twice).
    arrays = {c: pa.chunked_array(chunks, pa.large_string()) if chunks else pa.array([], pa.large_string())
              for c, chunks in parts.items()}
    return pa.table(arrays).to_pandas()
