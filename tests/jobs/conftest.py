"""A tiny generated city's exports, shared by the job tests (generated once per run)."""
from __future__ import annotations

from pathlib import Path

import pytest

from notifier.synth import generate


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_city")
    generate("tiny", 5, out)
    return out


