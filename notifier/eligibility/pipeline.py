"""Assemble the engine's inputs from the database (sources, links, consents) and run it."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from notifier.consent.state import household_state, person_state
from notifier.households import build_household_table
from notifier.linkage.run import confirmed_links
from notifier.residents import current_mask


def household_consents(engine: Engine, residents: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """setai_no, notify, tax for households whose current members hold the scopes."""
    from notifier.consent.service import load_events
    with engine.connect() as conn:
        persons = person_state(load_events(conn))
    return household_state(persons, residents[current_mask(residents, as_of)]).reset_index()


def build_inputs(engine: Engine, as_of: date, sources: dict[str, pd.DataFrame] | None = None,
                 names: Iterable[str] | None = None):
    """Sources (read from the database unless a batch passes the frames it just imported), confirmed
    links, the household table and household consents.

    `names`: only these sources are read (juminhyo always), and of each only the columns the
    household table uses; the others read as empty. Default: every source.
    """
    from notifier.contract import SOURCES
    from notifier.households.members import SOURCE_COLUMNS, read_since
    from notifier.ingest.load import load_sources
    given = sources or {}
    wanted = list(SOURCES) if names is None else ["juminhyo", *[n for n in SOURCES if n in set(names) - {"juminhyo"}]]
    read = [n for n in wanted if n not in given]
    loaded = load_sources(engine, read, columns={n: SOURCE_COLUMNS[n] for n in read},
                          since={n: read_since(n, as_of) for n in read}) if read else {}
    sources = {name: given[name] if name in given else loaded[name] for name in wanted}
    links = confirmed_links(engine)
    table = build_household_table(sources, links, as_of)
    consents = household_consents(engine, sources["juminhyo"], as_of)
    return sources, links, table, consents
