"""The suggested route of an outreach case follows the household's members."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from notifier.outreach.routes import suggest_routes
from tests.factories import household_table

AS_OF = dt.date(2026, 11, 1)


def test_a_pupil_goes_to_the_youngest_pupils_school_a_small_child_to_the_nurse_else_the_csw():
    t = household_table(AS_OF, juminhyo=[
        {"atena_no": "01", "birth_date": dt.date(1985, 1, 1), "setai_no": "H1"},
        {"atena_no": "02", "birth_date": dt.date(2013, 5, 1), "setai_no": "H1", "relation": "子"},
        {"atena_no": "03", "birth_date": dt.date(2016, 5, 1), "setai_no": "H1", "relation": "子"},
        {"atena_no": "11", "birth_date": dt.date(1990, 1, 1), "setai_no": "H2"},
        {"atena_no": "12", "birth_date": dt.date(2022, 3, 1), "setai_no": "H2", "relation": "子"},   # age 4
        {"atena_no": "21", "birth_date": dt.date(1960, 1, 1), "setai_no": "H3"},
        {"atena_no": "22", "birth_date": dt.date(2008, 1, 1), "setai_no": "H3", "relation": "孫"},   # 18, no roster
        {"atena_no": "31", "birth_date": dt.date(1988, 1, 1), "setai_no": "H4"},
        {"atena_no": "32", "birth_date": dt.date(2020, 11, 2), "setai_no": "H4", "relation": "子"},  # turns 6 on 11-01
    ], gakureibo=[
        {"pupil_id": "P1", "grade": 7, "school_code": "J01", "school_name": "和泉中学校"},
        {"pupil_id": "P2", "grade": 4, "school_code": "E02", "school_name": "和泉第二小学校"},
    ], links=[("P1", "02"), ("P2", "03")])
    got = suggest_routes(t, ["H1", "H2", "H3", "H4", "H9"]).set_index("setai_no")
    assert got.loc["H1", "route"] == "school_ssw" and got.loc["H1", "school_name"] == "和泉第二小学校"
    assert got.loc["H2", "route"] == "health_nurse" and pd.isna(got.loc["H2", "school_name"])
    assert got.loc["H3", "route"] == "csw"
    assert got.loc["H4", "route"] == "csw"          # the youngest child is 6 on the date: not "under 6"
    assert pd.isna(got.loc["H9", "route"])          # not a household on the date
