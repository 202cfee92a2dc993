"""build_household_table: residents, households and per-person facts on the as-of date."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from notifier.households import build_household_table, empty_sources
from notifier.households.frames import source_frame

D = dt.date
AS_OF = D(2026, 5, 10)


def person(atena_no: str, birth: dt.date, **kw) -> dict:
    return {"atena_no": atena_no, "birth_date": birth, **kw}


def hh(table, setai="H1"):
    return table.households.loc[setai]


def mem(table, atena):
    return table.members.set_index("atena_no").loc[atena]


def test_it_builds_an_empty_table_from_empty_sources():
    t = build_household_table(empty_sources(), None, AS_OF)
    assert len(t.members) == 0 and len(t.households) == 0
    assert t.households.index.name == "setai_no"
    assert {"size", "income", "tax_exempt", "single_parent_registry"} <= set(t.households.columns)


def test_it_accepts_missing_sources():
    t = build_household_table({"juminhyo": source_frame("juminhyo", [
        {"atena_no": "001", "setai_no": "H1", "birth_date": D(1990, 1, 1), "relation": "世帯主"}])},
        None, AS_OF)
    assert t.households["size"].tolist() == [1]


def test_a_resident_removed_on_the_as_of_date_is_gone(build):
    t = build(AS_OF, juminhyo=[
        person("001", D(1980, 1, 1)),
        person("002", D(2010, 1, 1), relation="長男", removed_on=AS_OF),
        person("003", D(2012, 1, 1), relation="長女", removed_on=D(2026, 5, 11)),
        person("004", D(1950, 1, 1), setai_no="H2", removed_on=D(2020, 1, 1)),
    ])
    assert sorted(t.members["atena_no"]) == ["001", "003"]
    assert t.households.index.tolist() == ["H1"]          # H2 has no current resident
    assert hh(t)["size"] == 2


def test_it_counts_children_jido_and_pupils(build):
    t = build(AS_OF, juminhyo=[
        person("001", D(1980, 1, 1)),
        person("002", D(2008, 4, 1), relation="長男"),    # 18, no longer 児童 (since 2026-03-31)
        person("003", D(2008, 4, 2), relation="二男"),    # 18, 児童 until 2027-03-31
        person("004", D(2015, 6, 1), relation="長女"),
        person("005", D(2016, 6, 1), relation="孫"),
    ], gakureibo=[
        {"pupil_id": "P1", "name_kana": "ア", "sex": 2, "school_code": "S1", "school_name": "一小", "grade": 5},
        {"pupil_id": "P2", "name_kana": "イ", "sex": 1, "school_code": "S1", "school_name": "一小", "grade": 4},
    ], links=[("P1", "004")])                             # P2 is not linked
    h = hh(t)
    assert h["size"] == 5
    assert h["n_jido"] == 3
    assert h["n_child_relation"] == 3                     # 長男・二男・長女 folded to 子
    assert h["n_minors"] == 2
    assert h["n_pupils"] == 1 and h["n_elementary"] == 1
    assert mem(t, "004")["grade"] == 5 and mem(t, "004")["school_name"] == "一小"
    assert pd.isna(mem(t, "005")["grade"])


def test_it_flags_registry_single_parents(build):
    t = build(AS_OF, juminhyo=[
        person("001", D(1985, 1, 1)), person("002", D(2015, 1, 1), relation="長女"),
        person("011", D(1985, 1, 1), setai_no="H2"),
        person("012", D(1986, 1, 1), setai_no="H2", relation="妻"),
        person("013", D(2015, 1, 1), setai_no="H2", relation="子"),
        person("021", D(1960, 1, 1), setai_no="H3"),
        person("022", D(2015, 1, 1), setai_no="H3", relation="孫"),
        person("031", D(1975, 1, 1), setai_no="H4"),
        person("032", D(2005, 1, 1), setai_no="H4", relation="長男"),   # 21: not a 児童
        person("041", D(2015, 1, 1), setai_no="H5", relation="子"),       # head moved out: the
        person("042", D(1985, 1, 1), setai_no="H5", removed_on=D(2026, 1, 1)),   # child stays a 子
        person("051", D(2015, 1, 1), setai_no="H6", relation="子"),       # head moved out, but a
        person("052", D(1986, 1, 1), setai_no="H6", relation="妻"),       # spouse remains
        person("053", D(1985, 1, 1), setai_no="H6", removed_on=D(2026, 1, 1)),
    ])
    assert t.households["single_parent_registry"].to_dict() == {
        "H1": True, "H2": False, "H3": False, "H4": False, "H5": True, "H6": False}


def test_it_uses_each_members_latest_tax_year_up_to_the_fiscal_year(build):
    people = [person("001", D(1980, 1, 1)), person("002", D(1982, 1, 1), relation="妻"),
              person("003", D(2000, 1, 1), relation="長男")]
    tax = [
        # 001: the 2026 assessment exists → 2026 counts
        {"atena_no": "001", "tax_year": 2025, "total_income": 5_000_000, "tax_class": "課税"},
        {"atena_no": "001", "tax_year": 2026, "total_income": 800_000, "tax_class": "非課税"},
        # 002: 2026 not assessed yet → 2025 counts; the 2027 row is beyond FY(D)
        {"atena_no": "002", "tax_year": 2025, "total_income": 300_000, "tax_class": "非課税",
         "hitorioya_deduction": True},
        {"atena_no": "002", "tax_year": 2027, "total_income": 9_000_000, "tax_class": "課税"},
        # 003: no tax row → 0, not counted for the exemption test
    ]
    t = build(AS_OF, juminhyo=people, shiminzei=tax)
    assert mem(t, "001")["tax_year"] == 2026 and mem(t, "002")["tax_year"] == 2025
    assert hh(t)["income"] == 1_100_000
    assert hh(t)["n_tax_rows"] == 2
    assert bool(hh(t)["tax_exempt"]) is True
    assert bool(hh(t)["single_parent_tax"]) is True
    # on 2026-03-31 (FY2025) the 2026 row does not count yet
    t0 = build(D(2026, 3, 31), juminhyo=people, shiminzei=tax)
    assert hh(t0)["income"] == 5_300_000
    assert bool(hh(t0)["tax_exempt"]) is False


def test_tax_exempt_needs_a_tax_row_and_every_row_hikazei(build):
    people = [person("001", D(1980, 1, 1)), person("002", D(1982, 1, 1), relation="妻")]
    none = build(AS_OF, juminhyo=people)
    assert bool(hh(none)["tax_exempt"]) is False and hh(none)["income"] == 0
    kintou = build(AS_OF, juminhyo=people, shiminzei=[
        {"atena_no": "001", "tax_year": 2026, "total_income": 0, "tax_class": "非課税"},
        {"atena_no": "002", "tax_year": 2026, "total_income": 400_000, "tax_class": "均等割のみ"}])
    assert bool(hh(kintou)["tax_exempt"]) is False


def test_it_flags_receipts_active_on_the_as_of_date(build):
    people = [person(f"00{i}", D(1980, 1, 1) if i == 1 else D(2018, 1, 1),
                     relation="世帯主" if i == 1 else "子") for i in range(1, 4)]
    t = build(AS_OF, juminhyo=people,
              seikatsu_hogo=[{"atena_no": "001", "start_on": D(2020, 1, 1), "end_on": AS_OF}],
              jido_fuyo_teate=[{"atena_no": "001", "payment_class": "全部停止",
                                "certified_on": D(2020, 1, 1), "lost_on": D(2026, 5, 11)}],
              jido_teate=[{"atena_no": "001", "child_atena_no": "002", "certified_on": D(2018, 2, 1)}],
              kodomo_iryo=[{"atena_no": "003", "start_on": AS_OF}],
              hoiku=[{"atena_no": "002", "facility": "園", "start_on": D(2026, 5, 11)}])
    m = t.members.set_index("atena_no")
    assert not m["seikatsu_hogo"].any()                   # ended on the as-of date
    assert m.loc["001", "jido_fuyo_teate"]                # ends tomorrow: still a recipient
    assert m.loc["001", "jido_teate_recipient"] and m.loc["002", "jido_teate_child"]
    assert not m.loc["003", "jido_teate_child"]
    assert m.loc["003", "kodomo_iryo"]                    # starts on the as-of date
    assert not m["hoiku"].any()                           # starts tomorrow


def test_it_flags_shugaku_enjo_certified_for_this_fiscal_year_only(build):
    people = [person("001", D(1980, 1, 1))] + [
        person(f"00{i}", D(2015, 1, 1), relation="子") for i in range(2, 6)]
    roster = [{"pupil_id": f"P{i}", "name_kana": "ア", "sex": 1, "school_code": "S", "school_name": "小",
               "grade": 5} for i in range(2, 6)]
    enjo = [
        {"pupil_id": "P2", "fiscal_year": 2026, "cert_class": "準要保護", "certified_on": D(2026, 4, 1)},
        {"pupil_id": "P3", "fiscal_year": 2025, "cert_class": "準要保護", "certified_on": D(2025, 4, 1)},
        {"pupil_id": "P4", "fiscal_year": 2026, "cert_class": "要保護", "certified_on": D(2026, 4, 1),
         "cancelled_on": D(2026, 4, 30)},
        {"pupil_id": "P5", "fiscal_year": 2026, "cert_class": "準要保護", "certified_on": D(2026, 4, 1)},
    ]
    t = build(AS_OF, juminhyo=people, gakureibo=roster, shugaku_enjo=enjo,
              links=[("P2", "002"), ("P3", "003"), ("P4", "004")])      # P5 is not linked
    m = t.members.set_index("atena_no")["shugaku_enjo"]
    assert m.to_dict() == {"001": False, "002": True, "003": False, "004": False, "005": False}


def test_it_keeps_handbooks_care_and_services_active_on_the_as_of_date(build):
    people = [person("001", D(1970, 1, 1)), person("002", D(1940, 1, 1), relation="母")]
    t = build(AS_OF, juminhyo=people,
              shogai_techo=[
                  {"atena_no": "001", "handbook_kind": "身体", "grade": "2級", "issued_on": D(2010, 1, 1)},
                  {"atena_no": "001", "handbook_kind": "身体", "grade": "1級", "issued_on": D(2020, 1, 1),
                   "returned_on": AS_OF},
                  {"atena_no": "001", "handbook_kind": "精神", "grade": "1級", "issued_on": D(2024, 1, 1),
                   "valid_until": AS_OF}],
              kaigo_nintei=[
                  {"atena_no": "002", "care_level": "要介護2", "start_on": D(2025, 1, 1), "end_on": AS_OF},
                  {"atena_no": "002", "care_level": "要介護4", "start_on": AS_OF, "end_on": D(2027, 1, 1)}],
              shogai_service=[{"atena_no": "001", "service_kind": "居宅介護", "start_on": D(2025, 1, 1),
                               "end_on": D(2026, 5, 11)}],
              kaigo_service=[{"atena_no": "002", "service_kind": "訪問介護", "service_month": D(m, 1, 1)}
                             for m in (2020, 2025, 2026)])
    m = t.members.set_index("atena_no")
    assert m.loc["001", "handbook_shintai"] == "2級"      # the 1級 was returned on the as-of date
    assert m.loc["001", "handbook_seishin"] == "1級"      # valid through its expiry day
    assert m.loc["002", "care_level"] == "要介護4" and m.loc["002", "care_rank"] == 6
    assert m.loc["001", "shogai_kyotaku_kaigo"]
    assert hh(t)["max_care_level"] == "要介護4"
    # claims older than the look-back window are dropped; the rest keep kind and month
    months = t.facts["care_services"]["service_month"].dt.year.tolist()
    assert sorted(months) == [2025, 2026]


def test_household_positions_line_up_across_frames(build):
    t = build(AS_OF, juminhyo=[
        person("001", D(1980, 1, 1), setai_no="B"), person("002", D(1981, 1, 1), setai_no="A"),
        person("003", D(2010, 1, 1), setai_no="B", relation="子")])
    assert t.households.index.tolist() == ["A", "B"]
    pos = dict(zip(t.members["atena_no"], t.members["hh"]))
    assert pos == {"001": 1, "002": 0, "003": 1}
    assert t.households["size"].tolist() == [1, 2]
    assert np.array_equal(t.any_member(t.members["is_jido"].to_numpy()), [False, True])


def test_it_is_pure_and_takes_as_of_from_the_caller(build):
    people = [person("001", D(2008, 4, 2)), person("002", D(1980, 1, 1), relation="母")]
    before = build(D(2027, 3, 31), juminhyo=people)
    after = build(D(2027, 4, 1), juminhyo=people)
    assert hh(before)["n_jido"] == 1 and hh(after)["n_jido"] == 0
