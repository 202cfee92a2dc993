"""Factories for household-table tests: source rows with the loader's dtypes."""
from __future__ import annotations

import pandas as pd
import pytest

from notifier.households import build_household_table, empty_sources, source_frame


@pytest.fixture
def build():
    """build(as_of, juminhyo=[...], shiminzei=[...], ..., links=[(pupil_id, atena_no)]) → table.

    juminhyo rows default setai_no 'H1', relation 世帯主, sex 1 and a plausible name/address.
    """
    def make(as_of, links=(), **rows):
        sources = empty_sources()
        for name, rs in rows.items():
            rs = [dict(r) for r in rs]
            if name == "juminhyo":
                for r in rs:
                    r.setdefault("setai_no", "H1")
                    r.setdefault("relation", "世帯主")
                    r.setdefault("sex", 1)
                    r.setdefault("name", "試験")
                    r.setdefault("name_kana", "シケン")
                    r.setdefault("address_code", "272190000001")
            sources[name] = source_frame(name, rs)
        link_df = pd.DataFrame(list(links), columns=["pupil_id", "atena_no"]).astype("str")
        return build_household_table(sources, link_df, as_of)
    return make
