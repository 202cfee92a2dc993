"""One definition of "current resident on D" in two forms: over frames and as SQL (rules.md)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select

from notifier import residents
from notifier.models.sources import SOURCE_TABLES
from tests.factories import import_sources

D = dt.date(2026, 5, 10)
# (宛名番号, 住民となった日, 消除日, current on D)
ROWS = [
    ("0000000001", "", "", True),                      # no dates: current
    ("0000000002", "2026-05-10", "", True),            # arrived on D
    ("0000000003", "2026-05-11", "", False),           # arrives after D
    ("0000000004", "", "2026-05-10", False),           # removed on D
    ("0000000005", "", "2026-05-11", True),            # removed after D
    ("0000000006", "2020-01-01", "2026-05-09", False),  # removed before D
    ("0000000007", "2026-06-01", "2026-07-01", False),  # both after D (a past D)
]


def test_the_frame_form_follows_rules_md():
    frame = pd.DataFrame({
        "atena_no": [r[0] for r in ROWS],
        "resident_since": pd.to_datetime([r[1] or None for r in ROWS]),
        "removed_on": pd.to_datetime([r[2] or None for r in ROWS]),
    })
    assert residents.current_mask(frame, D).tolist() == [r[3] for r in ROWS]
    assert residents.current_rows(frame, D)["atena_no"].tolist() == [r[0] for r in ROWS if r[3]]


def test_the_sql_form_agrees_with_the_frame_form(app, db_session, tmp_path):
    import_sources(app, tmp_path, {"juminhyo": [
        {"宛名番号": no, "世帯番号": "1000000001", "住民となった日": since, "消除日": removed}
        for no, since, removed, _ in ROWS]})
    t = SOURCE_TABLES["juminhyo"]
    for day in (D, dt.date(2026, 6, 15), dt.date(2019, 1, 1)):
        sql = set(db_session.scalars(select(t.c.atena_no).where(residents.current_condition(t, day))))
        from notifier.ingest.load import load_source
        frame = load_source(app.extensions["db_engine"], "juminhyo")
        assert sql == set(frame.loc[residents.current_mask(frame, day), "atena_no"]), day
