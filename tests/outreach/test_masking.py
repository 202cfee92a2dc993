"""The pure masking helpers: 町字 from the address text or code, ages text, pseudonyms, CSV cells."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from notifier.outreach import masking


def test_the_address_is_reduced_to_choaza():
    assert masking.choaza("大阪府和泉市府中町一丁目１番２号　コーポ和泉１０１号室", None) == "和泉市府中町一丁目"
    assert masking.choaza("和泉市府中町1丁目1-1", None) == "和泉市府中町1丁目"
    assert masking.choaza("大阪府和泉市三林町１２３番地", None) == "和泉市三林町"
    assert masking.choaza("大阪府和泉市三林町１２３番地　５丁目ハイツ", None) == "和泉市三林町"
    assert masking.choaza("和泉市府中町1-2-3", None) == "和泉市府中町"
    assert masking.choaza("", "272191003004") == "272191-003004"
    assert masking.choaza(None, None) == ""
    assert masking.choaza("大阪府和泉市\ue000町二丁目３番", None) == "和泉市〓町二丁目"


def test_pseudonyms_depend_on_key_partner_and_person():
    a = masking.organisation_key(b"k", "A")
    b = masking.organisation_key(b"k", "B")
    assert masking.pseudonym(a, "1") == masking.pseudonym(masking.organisation_key(b"k", "A"), "1")
    assert len({masking.pseudonym(a, "1"), masking.pseudonym(b, "1"), masking.pseudonym(a, "2"),
                masking.pseudonym(masking.organisation_key(b"other", "A"), "1")}) == 4


def test_ages_months_and_cells():
    assert masking.ages_text([5, 8]) == "8歳、5歳" and masking.ages_text([]) == ""
    assert masking.month_text(dt.date(2026, 10, 1)) == "2026年10月"
    assert masking.csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and masking.csv_cell(None) == ""
    assert masking.to_csv(["a", "b"], [{"a": "x,y", "b": 1}]) == '\ufeffa,b\r\n"x,y",1\r\n'


def test_the_guardian_and_the_children():
    members = pd.DataFrame({
        "setai_no": ["H1", "H1", "H1", "H2"], "atena_no": ["11", "12", "13", "21"],
        "name": ["親", "祖母", "子", "一人"], "relation": ["母", "祖母", "孫", "世帯主"],
        "birth_date": pd.to_datetime(["1990-01-01", "1950-01-01", "2020-01-01", None]),
        "address": ["和泉市府中町一丁目1", None, None, "和泉市三林町1"], "address_code": ["272191001001"] * 4})
    out = masking.household_summaries(members, [True, True, True, True], dt.date(2026, 11, 2))
    # no 世帯主 in H1: the oldest current adult (the grandmother); a child born 2020 is 6
    assert out.loc["H1", "guardian_atena"] == "12" and out.loc["H1", "child_ages"] == "6歳"
    assert out.loc["H1", "choaza"] == "272191-001001"          # the guardian's row has no text address
    assert out.loc["H2", "guardian_atena"] == "21" and out.loc["H2", "child_ages"] == ""
