"""Write a parsed source as the new snapshot of its table, in bulk, in the caller's transaction."""
from __future__ import annotations

import logging

import pandas as pd
from sqlalchemy import delete
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from notifier import bulk
from notifier.contract import Source
from notifier.models.sources import SOURCE_TABLES, source_columns

log = logging.getLogger(__name__)


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
    """Replace the old snapshot with the new one in bulk (the caller owns the transaction); a failure
    anywhere leaves the old snapshot whole, since both databases run DDL inside the transaction.

    Updating indexes row by row costs far more than building them once after the load, so:
    * SQLite (a writer locks the whole database anyway): drop the indexes, DELETE, insert, rebuild;
    * PostgreSQL: load a new table without indexes, build its indexes, then swap it in (DROP and
      RENAME, which take the table's exclusive lock for a moment at the end). That lock waits at most
      SWAP_LOCK_TIMEOUT for readers (a staff page mid-query); if they hold on, the snapshot is written
      into the old table instead (DELETE + COPY), slower but never stuck.
    """
    table = SOURCE_TABLES[source.name]
    rows = _text_columns(source, frame)
    if conn.dialect.name == "postgresql":
        try:
            with conn.begin_nested():
                _swap_postgres(conn, table, rows)
            return len(frame)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":     # lock_not_available
                raise
            log.warning("import: %s is in use; writing the snapshot in place", table.name)
        conn.execute(delete(table))
        bulk.insert_frame(conn, table.name, rows)
        return len(frame)
    for index in table.indexes:
        index.drop(conn)
    conn.execute(delete(table))
    bulk.insert_frame(conn, table.name, rows)
    for index in table.indexes:
        index.create(conn)
    return len(frame)


SWAP_LOCK_TIMEOUT = "15s"


def _swap_postgres(conn: Connection, table, rows: pd.DataFrame) -> None:
    name, new = table.name, f"{table.name}__new"
    run = conn.exec_driver_sql
    run(f"CREATE TABLE {new} (LIKE {name} INCLUDING DEFAULTS)")
    bulk.insert_frame(conn, new, rows)
    run(f"ALTER TABLE {new} ADD CONSTRAINT {new}_pk PRIMARY KEY (id)")
    for index in table.indexes:
        cols = ", ".join(c.name for c in index.columns)
        run(f"CREATE INDEX {index.name}__new ON {new} ({cols})")
    # The id sequence belongs to the old table and would go with it: hand it over first.
    seq = conn.exec_driver_sql(f"SELECT pg_get_serial_sequence('{name}', 'id')").scalar()
    if seq:
        run(f"ALTER SEQUENCE {seq} OWNED BY {new}.id")
    run(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
    run(f"DROP TABLE {name}")
    run("SET LOCAL lock_timeout = 0")
    run(f"ALTER TABLE {new} RENAME TO {name}")
    run(f"ALTER TABLE {name} RENAME CONSTRAINT {new}_pk TO pk_{name}")
    for index in table.indexes:
        run(f"ALTER INDEX {index.name}__new RENAME TO {index.name}")
    for fk in table.foreign_key_constraints:
        cols = ", ".join(c.name for c in fk.columns)
        ref = fk.referred_table.name
        ref_cols = ", ".join(e.column.name for e in fk.elements)
        run(f"ALTER TABLE {name} ADD CONSTRAINT {fk.name} FOREIGN KEY ({cols}) REFERENCES {ref} ({ref_cols})")


def _text_columns(source: Source, frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO text (the format SQLAlchemy's SQLite Date/DateTime types read back)."""
    return bulk.iso_dates(frame, {c.field for c in source.columns if c.kind == "datetime"})
