"""The parsing layer at Izumi scale: 住民基本台帳, 185,000 rows, must decode and parse well under 2 s (2 cores)."""
from __future__ import annotations

import time

import pytest

from notifier.contract import SOURCES
from notifier.ingest.decode import read_export
from notifier.ingest.parse import parse_source


@pytest.mark.slow
def test_juminhyo_185k_rows_read_and_parse_in_under_2_seconds(juminhyo_185k_cp932):
    # The bound is on this process's CPU time, best of three: wall time on a shared 2-core machine
    # measures the neighbours too (measured: 1.2 s wall / 1.2 s CPU at load 1; 1.8–2.4 s wall /
    # 1.4–1.5 s CPU beside other test runs at load 5).
    cpu, wall = [], []
    for _ in range(3):
        c, w = time.process_time(), time.perf_counter()
        frame, encoding = read_export(juminhyo_185k_cp932, "juminhyo.csv")
        parsed = parse_source(SOURCES["juminhyo"], frame, "juminhyo.csv")
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    assert encoding == "cp932"
    assert (len(parsed.frame), len(parsed.quarantine), parsed.rows_read) == (185_000, 0, 185_000)
    print(f"juminhyo 185,000 rows: cpu {[round(t, 2) for t in cpu]} s, wall {[round(t, 2) for t in wall]} s")
    assert min(cpu) < 2.0
