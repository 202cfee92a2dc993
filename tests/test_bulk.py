"""Bulk reads (`bulk.read_frame`) give back exactly what was stored, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, create_engine

from notifier import bulk

ROWS = [
    {"id": 1, "code": "0001", "note": "山田", "day": dt.date(2026, 4, 1), "n": 7},
    {"id": 2, "code": "0002", "note": None, "day": None, "n": None},
    {"id": 3, "code": "0003", "note": "", "day": dt.date(2025, 1, 31), "n": -3},
    {"id": 5, "code": "0005", "note": "a,b \"c\"", "day": dt.date(2024, 12, 1), "n": 0},
    {"id": 9, "code": "0009", "note": "改行\nあり", "day": dt.date(2026, 11, 1), "n": 12},
]


@pytest.fixture
def table(database_url):
    engine = create_engine(database_url)
    meta = MetaData()
    t = Table("tmp_bulk_read", meta, Column("id", Integer, primary_key=True), Column("code", String(8), nullable=False),
              Column("note", String(40)), Column("day", Date), Column("n", Integer))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), ROWS)
    yield engine, t
    meta.drop_all(engine)
    engine.dispose()


def _read(engine, **kw) -> pd.DataFrame:
    with engine.connect() as conn:
        return bulk.read_frame(conn, "tmp_bulk_read", ["id", "code", "note", "day", "n"], **kw)


def _expected(rows) -> list[tuple]:
    def text(v):
        return None if v is None else (v.isoformat() if isinstance(v, dt.date) else str(v))
    return [tuple(text(r[c]) for c in ("id", "code", "note", "day", "n")) for r in rows]


def _got(frame: pd.DataFrame) -> list[tuple]:
    out = frame.astype(object).where(frame.notna(), None)
    return sorted((tuple(r) for r in out.itertuples(index=False)), key=lambda r: int(r[0]))


def test_it_reads_every_column_as_text_and_tells_null_from_blank(table):
    engine, _t = table
    frame = _read(engine)
    assert list(frame.columns) == ["id", "code", "note", "day", "n"]
    assert all(pd.api.types.is_string_dtype(frame[c]) for c in frame.columns)
    assert _got(frame) == _expected(ROWS)


def test_a_condition_runs_in_the_database(table):
    engine, _t = table
    param = "2025-01-01" if engine.dialect.name == "sqlite" else dt.date(2025, 1, 1)
    frame = _read(engine, where="day >= ?", params=(param,))
    assert _got(frame) == _expected([r for r in ROWS if r["day"] and r["day"] >= dt.date(2025, 1, 1)])


def test_an_empty_result_has_the_columns(table):
    engine, _t = table
    frame = _read(engine, where="n > ?", params=(1000,))
    assert list(frame.columns) == ["id", "code", "note", "day", "n"] and len(frame) == 0


def test_sqlite_reads_in_chunks_of_rowids_with_gaps(table, monkeypatch):
    engine, _t = table
    if engine.dialect.name != "sqlite":
        pytest.skip("rowid chunks are SQLite's")
    monkeypatch.setattr(bulk, "_CHUNK_ROWS", 2)          # ids 1..9 with gaps: chunks [1,3) [3,5) [5,7) [7,9) [9,11)
    assert _got(_read(engine)) == _expected(ROWS)


def test_sqlite_a_value_holding_the_separator_is_still_read_exactly(table):
    engine, t = table
    if engine.dialect.name != "sqlite":
        pytest.skip("the separator is SQLite's column read")
    odd = {"id": 10, "code": "0010", "note": "x\x1fy", "day": None, "n": 1}
    with engine.begin() as conn:
        conn.execute(t.insert(), [odd])
    assert _got(_read(engine)) == _expected([*ROWS, odd])


def test_a_column_declared_not_null_is_read_without_its_mask(table):
    engine, _t = table
    with engine.connect() as conn:
        frame = bulk.read_frame(conn, "tmp_bulk_read", ["code"], nullable=set())
    assert sorted(frame["code"]) == sorted(r["code"] for r in ROWS)
