"""The matcher on small hand-made cases: exact, scored, review, unlinked, decisions."""
from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from notifier.linkage.match import fingerprints, link_roster

AS_OF = date(2026, 11, 1)


def residents(*rows):
    cols = ["atena_no", "setai_no", "name_kana_strict", "name_kana_loose", "birth_date", "sex", "address_code"]
    df = pd.DataFrame(rows, columns=cols)
    df["birth_date"] = pd.to_datetime(df["birth_date"])
    return df


def roster(*rows):
    cols = ["pupil_id", "name_kana_strict", "name_kana_loose", "birth_date", "sex", "address_code",
            "guardian_kana_strict", "guardian_kana_loose", "grade"]
    df = pd.DataFrame(rows, columns=cols)
    df["birth_date"] = pd.to_datetime(df["birth_date"])
    return df


PARENT = ("A1", "H1", "サトウハナコ", "サトハナコ", "1985-05-05", 2, "272191000101")
CHILD = ("A2", "H1", "サトウユウト", "サトユト", "2016-06-01", 1, "272191000101")


def status(result):
    return result.links.set_index("pupil_id")[["atena_no", "status", "method"]].to_dict("index")


def test_an_exact_unique_match_links():
    r = link_roster(roster(("P1", "サトウユウト", "サトユト", "2016-06-01", 1, "272191000101", None, None, 4)),
                    residents(PARENT, CHILD), as_of=AS_OF)
    assert status(r)["P1"] == {"atena_no": "A2", "status": "linked", "method": "exact"}


def test_twins_link_to_each_twin():
    twin = ("A3", "H1", "サトウユイ", "サトユイ", "2016-06-01", 2, "272191000101")
    r = link_roster(roster(("P1", "サトウユウト", "サトユト", "2016-06-01", 1, "272191000101", None, None, 4),
                           ("P2", "サトウユイ", "サトユイ", "2016-06-01", 2, "272191000101", None, None, 4)),
                    residents(PARENT, CHILD, twin), as_of=AS_OF)
    assert {k: v["atena_no"] for k, v in status(r).items()} == {"P1": "A2", "P2": "A3"}


def test_a_blank_birth_date_links_on_kana_address_and_guardian():
    r = link_roster(roster(("P1", "サトウユウト", "サトユト", None, 1, "272191000101", "サトウハナコ", "サトハナコ", 4)),
                    residents(PARENT, CHILD), as_of=AS_OF)
    assert status(r)["P1"] == {"atena_no": "A2", "status": "linked", "method": "scored"}


def test_a_kana_variant_after_a_move_in_the_city_links_with_the_guardian():
    r = link_roster(roster(("P1", "サトーユート", "サトユト", "2016-06-01", 1, "272191009999", "サトウハナコ", "サトハナコ", 4)),
                    residents(PARENT, CHILD), as_of=AS_OF)
    assert status(r)["P1"]["status"] == "linked"


def test_namesakes_in_two_households_go_to_review_without_guardian_or_address():
    other = ("B2", "H2", "サトウユウト", "サトユト", "2016-06-01", 1, "272191000555")
    r = link_roster(roster(("P1", "サトウユウト", "サトユト", "2016-06-01", 1, None, None, None, 4)),
                    residents(PARENT, CHILD, other), as_of=AS_OF)
    assert status(r)["P1"]["status"] == "review"
    assert set(r.candidates["atena_no"]) == {"A2", "B2"}


def test_a_pupil_who_moved_away_is_not_forced_onto_a_namesake():
    # The real pupil left the city; a namesake with the same kana and birth date lives elsewhere.
    namesake = ("B2", "H2", "サトウユウト", "サトユト", "2016-06-01", 1, "272191000555")
    r = link_roster(roster(("P1", "サトウユウト", "サトユト", "2016-06-01", 1, "272191000101", "サトウハナコ", "サトハナコ", 4)),
                    residents(("B1", "H2", "タナカミキ", "タナカミキ", "1980-01-01", 2, "272191000555"), namesake),
                    as_of=AS_OF)
    assert status(r)["P1"]["status"] in ("review", "unlinked")


def test_nothing_similar_stays_unlinked():
    r = link_roster(roster(("P1", "スズキケン", "スズキケン", "2015-01-01", 1, "272191000101", None, None, 6)),
                    residents(PARENT, CHILD), as_of=AS_OF)
    assert status(r)["P1"] == {"atena_no": None, "status": "unlinked", "method": "none"}


def test_staff_decisions_hold_while_the_roster_row_is_unchanged():
    rows = roster(("P1", "サトウユウト", "サトユト", "2016-06-01", 1, None, None, None, 4))
    other = ("B2", "H2", "サトウユウト", "サトユト", "2016-06-01", 1, "272191000555")
    fp = fingerprints(rows).iloc[0]
    decisions = pd.DataFrame([{"pupil_id": "P1", "fingerprint": fp, "decision": "confirm", "atena_no": "B2",
                               "decided_at": datetime(2026, 11, 2)}])
    r = link_roster(rows, residents(PARENT, CHILD, other), decisions, as_of=AS_OF)
    assert status(r)["P1"] == {"atena_no": "B2", "status": "linked", "method": "manual"}
    # A changed roster row (new address) is matched afresh.
    changed = rows.assign(address_code="272191000101")
    r = link_roster(changed, residents(PARENT, CHILD, other), decisions, as_of=AS_OF)
    assert status(r)["P1"]["method"] != "manual"


def test_a_rejected_pair_is_never_proposed_again():
    rows = roster(("P1", "サトウユウト", "サトユト", "2016-06-01", 1, "272191000101", None, None, 4))
    fp = fingerprints(rows).iloc[0]
    decisions = pd.DataFrame([{"pupil_id": "P1", "fingerprint": fp, "decision": "reject", "atena_no": "A2",
                               "decided_at": datetime(2026, 11, 2)}])
    r = link_roster(rows, residents(PARENT, CHILD), decisions, as_of=AS_OF)
    assert status(r)["P1"]["atena_no"] is None


def test_one_resident_is_never_auto_linked_to_two_pupils():
    dup = ("P2", "サトウユウト", "サトユト", "2016-06-01", 1, "272191000101", "サトウハナコ", "サトハナコ", 4)
    r = link_roster(roster(("P1", *dup[1:]), dup), residents(PARENT, CHILD), as_of=AS_OF)
    s = status(r)
    assert [s["P1"]["status"], s["P2"]["status"]] == ["review", "review"]


def test_a_birth_date_typed_one_slip_wrong_goes_to_review_never_to_a_link():
    # Everything agrees but the day (17 → 18), the day and month swapped, or the year.
    for typed in ("2016-06-02", "2016-01-06", "2017-06-01"):
        r = link_roster(roster(("P1", "サトウユウト", "サトユト", typed, 1, "272191000101", "サトウハナコ", "サトハナコ", 4)),
                        residents(PARENT, CHILD), as_of=AS_OF)
        assert status(r)["P1"] == {"atena_no": None, "status": "review", "method": "scored"}, typed
        assert r.candidates["evidence"].iloc[0]["dob"] == -2.0


def test_a_birth_date_far_from_the_residents_is_a_full_disagreement():
    r = link_roster(roster(("P1", "サトウユウト", "サトユト", "2016-09-20", 1, "272191000101", "サトウハナコ", "サトハナコ", 4)),
                    residents(PARENT, CHILD), as_of=AS_OF)
    assert status(r)["P1"]["status"] == "review"     # 8 - 10 + 1 + 3 + 5 + 1 = 8: just worth a look
    assert r.candidates["evidence"].iloc[0]["dob"] == -10.0


def test_a_blocking_key_shared_by_too_many_residents_proposes_no_one():
    """BLOCK_CAP keeps the candidate pairs linear in the roster: a kana and sex held by more residents
    than the cap says nothing for a pupil without a birth date, so that block proposes no one."""
    from notifier.linkage.match import BLOCK_CAP
    n = BLOCK_CAP + 1
    many = [(f"A{i:04d}", f"H{i:04d}", "サトウユウト", "サトユト", f"2016-{i % 12 + 1:02d}-01", 1, f"27219100{i:04d}")
            for i in range(n)]
    pupils = [(f"P{i:04d}", "サトウユウト", "サトユト", None, 1, None, None, None, 4) for i in range(50)]
    r = link_roster(roster(*pupils), residents(*many), as_of=AS_OF)
    assert (r.links["status"] == "unlinked").all() and r.candidates.empty
    # One resident fewer and the block proposes them all: each pupil goes to review with five shown.
    r = link_roster(roster(*pupils), residents(*many[:BLOCK_CAP]), as_of=AS_OF)
    assert (r.links["status"] == "review").all()
    assert len(r.candidates) == 50 * 5
