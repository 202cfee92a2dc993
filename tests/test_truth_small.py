"""The whole data path on the generator's `small` city, judged by its truth files.

Import: exactly the rows the generator made invalid are quarantined. 名寄せ: precision ≥ 99.9% of
auto-links, ≥ 98.5% of linkable pupils linked automatically (the rest in review), pupils with no
current resident never linked. Eligibility: the engine agrees exactly with the naive reference
for the three default rules at three as-of dates, with tax consent for all, none and a seeded half.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from notifier.eligibility.engine import evaluate
from notifier.eligibility.rules import load_rules
from notifier.households import build_household_table
from notifier.ingest.importer import import_directory
from notifier.ingest.load import load_sources
from notifier.ingest.mapping import Mapping
from notifier.linkage.evaluate import confusion
from notifier.linkage.run import run_linkage
from notifier.synth import DEFAULT_TRUTH_DATES

SEED = 11
DEFAULTS = ("shugaku_enjo", "hitorioya", "home_helper")


@pytest.fixture(scope="module")
def city(small_city):
    return small_city[0]


def test_small_city_links_and_matches_the_truth(app, city):
    engine = app.extensions["db_engine"]
    summary = import_directory(engine, city, Mapping(), actor="test")
    assert not summary.failed
    # Exactly the rows the generator made invalid are quarantined, at the cell it names; no other.
    with engine.connect() as conn:
        held = pd.DataFrame(conn.execute(text('SELECT file, line, "column", value FROM quarantine_rows')).all(),
                            columns=["file", "line", "column", "value"])
    want = pd.read_csv(city / "_truth" / "quarantine.csv", dtype={"value": str}, keep_default_na=False)
    key = ["file", "line", "column", "value"]
    assert len(want) >= 15
    consent = want["file"] == "consent.csv"
    assert held.sort_values(key).reset_index(drop=True).equals(want[~consent].sort_values(key).reset_index(drop=True))
    assert sum(f.rows_quarantined for f in summary.files) == (~consent).sum()
    # The counter-consent file's invalid rows likewise, by `consent import`; the other rows are imported.
    from notifier.consent.importer import import_consents
    with app.extensions["db_sessionmaker"]() as s:
        result = import_consents(s, city / "consent.csv", actor="test")
        s.commit()
    with engine.connect() as conn:
        held = pd.DataFrame(conn.execute(text('SELECT file, line, "column", value FROM quarantine_rows '
                                              "WHERE source = 'consent'")).all(), columns=key)
    assert consent.any() and result.rows_quarantined == consent.sum() and result.events_added > 0
    assert held.sort_values(key).reset_index(drop=True).equals(want[consent].sort_values(key).reset_index(drop=True))

    result, _counts = run_linkage(engine, date(2026, 11, 1))
    truth_links = pd.read_csv(city / "_truth" / "roster_links.csv", dtype=str)
    c = confusion(result.links, truth_links)
    assert c["precision"] >= 0.999, c
    # 1% of roster birth dates are typed wrong and wait for a person (review), as do most blank ones
    # among namesakes: 98.5% of the linkable pupils link by themselves.
    assert c["recall_auto"] >= 0.985, c
    assert c["auto_linked_not_linkable"] == 0, c
    assert c["unlinked_linkable"] == 0, c        # the rest are in the review queue
    assert c["review"] == c["review_linkable"], c

    # A coordinator resolves the review queue (here: from the truth), as the pilots did by hand.
    links = result.links
    resolved = links[links["status"] == "linked"][["pupil_id", "atena_no"]]
    truth = truth_links.rename(columns={"児童生徒番号": "pupil_id", "宛名番号": "atena_no"})
    reviewed = truth[truth["pupil_id"].isin(links.loc[links["status"] == "review", "pupil_id"])
                     & truth["atena_no"].notna()][["pupil_id", "atena_no"]]
    all_links = pd.concat([resolved, reviewed], ignore_index=True)

    sources = load_sources(engine)
    rules = [r for r in load_rules("eligibility_rules") if r.id in DEFAULTS]
    expected = pd.read_csv(city / "_truth" / "rule_matches.csv", dtype={"世帯番号": str})
    rng = np.random.default_rng(SEED)
    for as_of in DEFAULT_TRUTH_DATES:
        table = build_household_table(sources, all_links, as_of)
        households = pd.Index(table.households.index.astype(str))
        half = pd.Series(rng.random(len(households)) < 0.5, index=households)
        for mode, tax in (("all", pd.Series(True, index=households)), ("none", pd.Series(False, index=households)),
                          ("half", half)):
            consents = pd.DataFrame({"setai_no": households, "notify": True, "tax": tax.to_numpy()})
            got = evaluate(rules, table, consents, breakdown=False, reasons=False).matches
            day = expected[expected["as_of"] == as_of.isoformat()]
            for rule_id in DEFAULTS:
                e = day[day["rule_id"] == rule_id].set_index("世帯番号")
                with_tax = set(e.index[e["match_with_tax"] == 1])
                without = set(e.index[e["match_without_tax"] == 1])
                holders = set(tax.index[tax.to_numpy()])
                want = (with_tax & holders) | (without - holders)
                have = set(got.loc[got["rule_id"] == rule_id, "setai_no"])
                assert have == want, (as_of, mode, rule_id, sorted(have - want)[:5], sorted(want - have)[:5])
                assert len(want) > 0 or mode != "all", (as_of, rule_id)
