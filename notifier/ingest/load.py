"""Read stored source snapshots back as typed frames (the input of linkage and the household table).

Frames use the contract's field names: ids as str, dates as datetime64[ns] (NaT for none), fy/int as
Int64, sex/grade as Int8, flags as bool. Reading goes around the ORM's per-value type processing:
on PostgreSQL, ADBC (Apache Arrow's database connectivity driver) hands whole typed columns over as
Arrow arrays (`notifier.bulk.read_frame`'s COPY is the fallback); on SQLite `bulk.read_frame` reads
each column as one string that Arrow splits.
"""
from __future__ import annotations

import logging
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from notifier import bulk
from notifier.contract import SOURCES
from notifier.models.sources import SOURCE_TABLES, source_columns

log = logging.getLogger(__name__)
_DATE_KINDS = {"date", "month"}
_TRUE = {"t", "true", "1", 1, True}


def _fetch_adbc(engine: Engine, table: str, columns: list[str], where: str, params: tuple) -> pd.DataFrame | None:
    """The columns as Arrow arrays through ADBC, or None when ADBC cannot read this database."""
    url = engine.url
    sql = f"SELECT {', '.join(columns)} FROM {table}" + (f" WHERE {where}".replace("?", "$1") if where else "")
    if engine.dialect.name != "postgresql":
        return None
    try:
        import adbc_driver_postgresql.dbapi as adbc
        conn = adbc.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        with conn, conn.cursor() as cur:
            cur.execute(sql, params or None)
            arrow = cur.fetch_arrow_table()
    except Exception as exc:  # noqa: BLE001 - any trouble: the plain path below reads it instead
        log.warning("ADBC could not read %s (%s); reading it row by row", table, type(exc).__name__)
        return None
    return arrow.to_pandas()


def _fetch(engine: Engine, table: str, columns: list[str], where: str = "", params: tuple = (),
           nullable: set[str] | None = None) -> pd.DataFrame:
    """`where`: an SQL condition on the table's columns (with `?` placeholders, `params`);
    `nullable`: the columns that may hold NULL (default: all)."""
    fast = _fetch_adbc(engine, table, columns, where, params)
    if fast is not None:
        return fast
    with engine.connect() as conn:
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
            return pd.Series(pd.array(ints.to_pandas(types_mapper=lambda _t: pd.api.types.pandas_dtype(nullable))),
                             index=values.index)
    return pd.to_numeric(values, errors="coerce").astype(nullable)


def load_source(engine: Engine, name: str, columns: list[str] | None = None, *,
                since: tuple[str, date] | None = None) -> pd.DataFrame:
    """A source's stored rows as a typed frame; `since=(column, day)` reads only rows whose date
    column is on or after `day` (the filter runs in the database)."""
    source = SOURCES[name]
    wanted = columns or [c for c in source_columns(source) if c != "import_id"]
    where, params = "", ()
    if since is not None:
        column, day = since
        if column not in {c.field for c in source.columns}:
            raise ValueError(f"{name} has no column {column}")
        where, params = f"{column} >= ?", (day.isoformat() if engine.dialect.name == "sqlite" else day,)
    table = SOURCE_TABLES[name]
    frame = _fetch(engine, table.name, wanted, where, params, {c.name for c in table.columns if c.nullable})
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


def load_sources(engine: Engine, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    return {name: load_source(engine, name) for name in (names or list(SOURCES))}
