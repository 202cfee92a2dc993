"""Stored snapshots read back as typed frames: the types the household table expects, and a date
window that runs in the database."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from notifier.households.members import CARE_SERVICE_LOOKBACK_MONTHS, read_since
from notifier.ingest.load import load_source
from tests.factories import import_sources

AS_OF = dt.date(2026, 11, 1)


def _claims(months):
    return [{"宛名番号": f"{i:010d}", "サービス種類": "訪問介護", "サービス提供年月": m} for i, m in enumerate(months)]


def test_a_since_window_reads_only_the_rows_from_that_day(app, tmp_path):
    months = ["2024-10", "2024-11", "2025-06", "2026-10", "2026-11"]
    import_sources(app, tmp_path, {"kaigo_service": _claims(months)})
    engine = app.extensions["db_engine"]
    window = read_since("kaigo_service", AS_OF)
    assert window == ("service_month", dt.date(2024, 11, 1)) and CARE_SERVICE_LOOKBACK_MONTHS == 24
    every = load_source(engine, "kaigo_service", ["atena_no", "service_month"])
    recent = load_source(engine, "kaigo_service", ["atena_no", "service_month"], since=window)
    assert len(every) == 5
    assert sorted(recent["service_month"].dt.strftime("%Y-%m")) == ["2024-11", "2025-06", "2026-10", "2026-11"]
    assert recent["service_month"].dtype == "datetime64[ns]"


def test_loaded_columns_have_the_contract_types_blanks_included(app, tmp_path):
    import_sources(app, tmp_path, {"juminhyo": [
        {"宛名番号": "0000000001", "世帯番号": "1000000001", "生年月日": "2015-04-02", "性別": "2", "消除日": ""},
        {"宛名番号": "0000000002", "世帯番号": "1000000001", "生年月日": "1980-12-31", "性別": "1",
         "消除日": "2026-03-31"},
    ]})
    frame = load_source(app.extensions["db_engine"], "juminhyo", ["atena_no", "sex", "birth_date", "removed_on"])
    frame = frame.sort_values("atena_no").reset_index(drop=True)
    assert frame["sex"].dtype == "Int8" and frame["sex"].tolist() == [2, 1]
    assert frame["birth_date"].tolist() == [pd.Timestamp("2015-04-02"), pd.Timestamp("1980-12-31")]
    assert frame["removed_on"].isna().tolist() == [True, False]
    assert pd.api.types.is_string_dtype(frame["atena_no"])


def test_a_since_window_on_a_column_the_source_does_not_have_is_refused(app):
    import pytest
    with pytest.raises(ValueError, match="no column"):
        load_source(app.extensions["db_engine"], "kaigo_service", since=("start_on", AS_OF))


def test_adbc_placeholders_are_numbered_in_order():
    from notifier.ingest.load import numbered_placeholders
    assert numbered_placeholders("service_month >= ?") == "service_month >= $1"
    assert numbered_placeholders("a >= ? AND b < ? AND c = ?") == "a >= $1 AND b < $2 AND c = $3"
    assert numbered_placeholders("") == ""
