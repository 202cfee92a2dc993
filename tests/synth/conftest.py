"""Generated cities shared by the synth tests (`small_city` is the suite-wide one in tests/conftest.py)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from notifier.synth import generate


@pytest.fixture(scope="session")
def tiny_city(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth_tiny")
    return out, generate("tiny", 3, out)


def load_clean(out: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted((out / "_truth" / "clean").glob("*.parquet"))}


def load_links(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "_truth" / "roster_links.csv", dtype=str, keep_default_na=False)
