"""Read stored source snapshots back as typed frames (the input of linkage and the household table).

Frames use the contract's field names: ids as str, dates as datetime64[ns] (NaT for none), fy/int as
Int64, sex/grade as Int8, flags as bool. Reading goes around the ORM's per-value type processing:
on PostgreSQL, ADBC (Apache Arrow's database connectivity driver) hands whole typed columns over as
Arrow arrays (COPY into pandas is the fallback); on SQLite a raw cursor of Python's own sqlite3 —
never a second SQLite library in the same process, whose file locks would break the first one's
(SQLite's "multiple copies of SQLite in one process" hazard: seen here as disk I/O errors).
"""
from __future__ import annotations

import io
import logging

import pandas as pd
from sqlalchemy.engine import Engine

from notifier.contract import SOURCES
from notifier.models.sources import SOURCE_TABLES, source_columns

log = logging.getLogger(__name__)
_DATE_KINDS = {"date", "month"}
_TRUE = {"t", "true", "1", 1, True}


def _fetch_adbc(engine: Engine, table: str, columns: list[str]) -> pd.DataFrame | None:
    """The columns as Arrow arrays through ADBC, or None when ADBC cannot read this database."""
    url = engine.url
    sql = f"SELECT {', '.join(columns)} FROM {table}"
    if engine.dialect.name != "postgresql":
        return None
    try:
        import adbc_driver_postgresql.dbapi as adbc
        conn = adbc.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            arrow = cur.fetch_arrow_table()
    except Exception as exc:  # noqa: BLE001 - any trouble: the plain path below reads it instead
        log.warning("ADBC could not read %s (%s); reading it row by row", table, type(exc).__name__)
        return None
    return arrow.to_pandas()


def _fetch(engine: Engine, table: str, columns: list[str]) -> pd.DataFrame:
    fast = _fetch_adbc(engine, table, columns)
    if fast is not None:
        return fast
    cols = ", ".join(columns)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "postgresql":
            buf = io.BytesIO()
            with raw.cursor() as cur:
                with cur.copy(f"COPY (SELECT {cols} FROM {table}) TO STDOUT WITH (FORMAT csv)") as copy:
                    for chunk in copy:
                        buf.write(chunk)
            buf.seek(0)
            if not buf.getbuffer().nbytes:
                return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
            # Every column as text; unquoted empty fields (NULL) become NaN.
            return pd.read_csv(buf, header=None, names=columns, dtype=str, keep_default_na=False,
                               na_values=[""], encoding="utf-8")
        cur = raw.execute(f"SELECT {cols} FROM {table}")
        rows = cur.fetchall()
        cur.close()
        return pd.DataFrame.from_records(rows, columns=columns)


def load_source(engine: Engine, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    source = SOURCES[name]
    wanted = columns or [c for c in source_columns(source) if c != "import_id"]
    frame = _fetch(engine, SOURCE_TABLES[name].name, wanted)
    kinds = {c.field: c.kind for c in source.columns}
    for col in wanted:
        kind = kinds.get(col)
        values = frame[col]
        if kind in _DATE_KINDS:
            # ISO text from SQLite; date objects or timestamps from PostgreSQL's typed columns.
            text = values.dtype == object and values.map(type).eq(str).all() or pd.api.types.is_string_dtype(values)
            frame[col] = (pd.to_datetime(values, format="%Y-%m-%d", errors="coerce") if text
                          else pd.to_datetime(values, errors="coerce")).astype("datetime64[ns]")
        elif kind == "datetime":
            frame[col] = pd.to_datetime(values, format="ISO8601", errors="coerce").astype("datetime64[ns]")
        elif kind in ("fy", "int"):
            frame[col] = pd.to_numeric(values, errors="coerce").astype("Int64")
        elif kind in ("sex", "grade"):
            frame[col] = pd.to_numeric(values, errors="coerce").astype("Int8")
        elif kind == "flag" or col == "gaiji":
            frame[col] = values.isin(_TRUE).to_numpy(dtype=bool) if values.dtype == object or \
                pd.api.types.is_string_dtype(values) else values.fillna(0).astype(bool)
        elif col == "line_no":
            frame[col] = pd.to_numeric(values).astype("int64")
        else:
            # The same string dtype the parser produces, so a loaded frame equals the parsed one.
            frame[col] = values.astype("str")
    return frame


def load_sources(engine: Engine, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    return {name: load_source(engine, name) for name in (names or list(SOURCES))}
