"""Read stored source snapshots back as typed frames (the input of linkage and the household table).

Frames use the contract's field names: ids as str, dates as datetime64[ns] (NaT for none), fy/int as
Int64, sex/grade as Int8, flags as bool. Reading goes around the ORM's per-value type processing:
on PostgreSQL, ADBC (Apache Arrow's database connectivity driver) hands whole typed columns over as
Arrow arrays (`notifier.bulk.read_frame`'s COPY is the fallback); on SQLite `bulk.read_frame` reads
each column as one string that Arrow splits.
"""
from __future__ import annotations

import logging
import re
from datetime import date

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from notifier import bulk
from notifier.contract import SOURCES
from notifier.models.sources import SOURCE_TABLES, source_columns

log = logging.getLogger(__name__)
_DATE_KINDS = {"date", "month"}
_TRUE = {"t", "true", "1", 1, True}


def _adbc_connect(engine: Engine):
    """An ADBC connection to the engine's PostgreSQL database, or None (SQLite, ADBC not installed,
    or it cannot connect: the COPY path reads instead)."""
    if engine.dialect.name != "postgresql":
        return None
    try:
        import adbc_driver_postgresql.dbapi as adbc
        return adbc.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    except Exception as exc:  # noqa: BLE001 - any trouble: the plain path reads instead
        log.warning("ADBC could not connect (%s); reading through COPY", type(exc).__name__)
        return None


def numbered_placeholders(where: str) -> str:
    """`?` placeholders as ADBC's PostgreSQL driver wants them: $1, $2, … in order."""
    count = iter(range(1, where.count("?") + 1))
    return re.sub(r"\?", lambda _m: f"${next(count)}", where)


def _fetch_adbc(adbc_conn, table: str, columns: list[str], where: str, params: tuple) -> pd.DataFrame | None:
    """The columns as Arrow arrays through ADBC, or None when ADBC cannot read this table."""
    sql = f"SELECT {', '.join(columns)} FROM {table}" + (f" WHERE {numbered_placeholders(where)}" if where else "")
    try:
        with adbc_conn.cursor() as cur:
            cur.execute(sql, params or None)
            arrow = cur.fetch_arrow_table()
    except Exception as exc:  # noqa: BLE001 - any trouble: the plain path below reads it instead
        log.warning("ADBC could not read %s (%s); reading it through COPY", table, type(exc).__name__)
        return None
    return arrow.to_pandas(date_as_object=False)


def _fetch(conn: Connection, adbc_conn, table: str, columns: list[str], where: str, params: tuple,
           nullable: set[str]) -> pd.DataFrame:
    """`where`: an SQL condition on the table's columns (with `?` placeholders, `params`);
    `nullable`: the columns that may hold NULL. Through `adbc_conn` when there is one, else `conn`."""
    fast = _fetch_adbc(adbc_conn, table, columns, where, params) if adbc_conn is not None else None
    if fast is not None:
        return fast
    return bulk.read_frame(conn, table, columns, where=where, params=params, nullable=nullable)


def _arrow_text(values: pd.Series):
    """The Arrow array behind a text column (no copy), or None when the column is not text."""
    if values.dtype == object or not pd.api.types.is_string_dtype(values):
        return None
    import pyarrow as pa
    return pa.array(values)


def _dates(values: pd.Series) -> pd.Series:
    """ISO text (SQLite, COPY) or date objects/timestamps (ADBC) → datetime64[ns]; bad or blank → NaT."""
    text = _arrow_text(values)
    if text is not None:
        import pyarrow as pa
        import pyarrow.compute as pc
        parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True).cast(pa.timestamp("ns"))
        return pd.Series(parsed.to_numpy(zero_copy_only=False), index=values.index)
    if values.dtype == object and values.map(type).eq(str).all():
        return pd.to_datetime(values, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
    return pd.to_datetime(values, errors="coerce").astype("datetime64[ns]")


def _integers(values: pd.Series, width: str) -> pd.Series:
    """Integers as pandas' nullable Int64/Int8; text that is not an integer → NA."""
    nullable = "Int64" if width == "int64" else "Int8"
    text = _arrow_text(values)
    if text is not None:
        import pyarrow as pa
        try:
            ints = text.cast(getattr(pa, width)())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass                            # a value that is not a plain integer: pandas coerces it
        else:
            return ints.to_pandas(types_mapper=lambda _t: pd.api.types.pandas_dtype(nullable)).set_axis(values.index)
    return pd.to_numeric(values, errors="coerce").astype(nullable)


def load_source(engine: Engine, name: str, columns: list[str] | None = None, *,
                since: tuple[str, date] | None = None) -> pd.DataFrame:
    """A source's stored rows as a typed frame; `since=(column, day)` reads only rows whose date
    column is on or after `day` (the filter runs in the database)."""
    return load_sources(engine, [name], columns={name: columns} if columns else None,
                        since={name: since} if since else None)[name]


def _load(conn: Connection, adbc_conn, name: str, columns: list[str] | None,
          since: tuple[str, date] | None) -> pd.DataFrame:
    source = SOURCES[name]
    wanted = columns or [c for c in source_columns(source) if c != "import_id"]
    where, params = "", ()
    if since is not None:
        column, day = since
        if column not in {c.field for c in source.columns}:
            raise ValueError(f"{name} has no column {column}")
        where, params = f"{column} >= ?", (day.isoformat() if conn.dialect.name == "sqlite" else day,)
    table = SOURCE_TABLES[name]
    frame = _fetch(conn, adbc_conn, table.name, wanted, where, params, {c.name for c in table.columns if c.nullable})
    kinds = {c.field: c.kind for c in source.columns}
    for col in wanted:
        kind = kinds.get(col)
        values = frame[col]
        if kind in _DATE_KINDS:
            frame[col] = _dates(values)
        elif kind == "datetime":
            frame[col] = pd.to_datetime(values, format="ISO8601", errors="coerce").astype("datetime64[ns]")
        elif kind in ("fy", "int"):
            frame[col] = _integers(values, "int64")
        elif kind in ("sex", "grade"):
            frame[col] = _integers(values, "int8")
        elif kind == "flag" or col == "gaiji":
            frame[col] = values.isin(_TRUE).to_numpy(dtype=bool) if values.dtype == object or \
                pd.api.types.is_string_dtype(values) else values.fillna(0).astype(bool)
        elif col == "line_no":
            frame[col] = pd.to_numeric(values).astype("int64")
        else:
            # The same string dtype the parser produces, so a loaded frame equals the parsed one.
            frame[col] = values.astype("str")
    return frame


def load_sources(engine: Engine, names: list[str] | None = None, *, columns: dict[str, list[str]] | None = None,
                 since: dict[str, tuple[str, date] | None] | None = None) -> dict[str, pd.DataFrame]:
    """Several sources (default: all) as typed frames, over one connection (ADBC's when it can
    connect); `columns` and `since` per source as in `load_source` (a source not named there: every
    column, every row)."""
    columns, since = columns or {}, since or {}
    adbc_conn = _adbc_connect(engine)
    try:
        with engine.connect() as conn:
            return {name: _load(conn, adbc_conn, name, columns.get(name), since.get(name))
                    for name in (names or list(SOURCES))}
    finally:
        if adbc_conn is not None:
            adbc_conn.close()
