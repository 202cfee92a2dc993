"""Fixtures for household-table tests."""
from __future__ import annotations

import pytest

from tests.factories import household_table


@pytest.fixture
def build():
    """build(as_of, juminhyo=[...], shiminzei=[...], ..., links=[(pupil_id, atena_no)]) → table."""
    return household_table
