"""Kana matching keys: the strict key, the loose key that lets spelling variants agree, 外字 and romaji."""
from __future__ import annotations

import pandas as pd
import pytest

from notifier.ingest.kana import GAIJI_MARK, has_gaiji, kana_keys, loose_kana, romaji, strict_kana


def strict(value, gaiji_map=None):
    return strict_kana(pd.Series([value]), gaiji_map).iloc[0]


def loose(value):
    return loose_kana(pd.Series([value])).iloc[0]


@pytest.mark.parametrize("text, expected", [
    ("ｶﾞｯｺｳ", "ガッコウ"),              # half-width, voicing mark joined
    ("ｲｽﾞﾐ ﾀﾛｳ", "イズミタロウ"),
    ("がっこう", "ガッコウ"),            # hiragana
    ("いずみ　たろう", "イズミタロウ"),
    ("ヤマダ　タロウ", "ヤマダタロウ"),    # ideographic space
    ("ヤマダ タロウ", "ヤマダタロウ"),
    ("ヤマダ・タロウ", "ヤマダタロウ"),
    ("ﾔﾏﾀﾞ･ﾀﾛｳ", "ヤマダタロウ"),        # half-width middle dot
    ("ヤマダ-タロウ", "ヤマダタロウ"),
    ("ヤマダ－タロウ", "ヤマダタロウ"),    # full-width hyphen-minus
    ("ヤマダ‐タロウ", "ヤマダタロウ"),     # U+2010
    ("ヤマダ−タロウ", "ヤマダタロウ"),     # U+2212
    ("オーノ", "オーノ"),                # the long-vowel mark is part of the name
    ("ｵｰﾉ", "オーノ"),
    ("ヴァイオリン", "ヴァイオリン"),      # strict keeps ヴ
    ("ゔ", "ヴ"),
    ("Smith John", "SMITHJOHN"),
    ("ＳＭＩＴＨ", "SMITH"),
])
def test_strict_key(text, expected):
    assert strict(text) == expected


@pytest.mark.parametrize("variants", [
    ("オーノ", "オオノ", "オウノ", "ｵｰﾉ", "おおの"),
    ("サトウ", "サトー", "サトオ", "さとう"),
    ("ユウコ", "ユーコ"),
    ("ケイコ", "ケーコ", "ケエコ"),
    ("ニイミ", "ニーミ"),
    ("ショウタ", "シヨウタ", "ショータ", "しょうた", "ｼｮｳﾀ"),
    ("ガッコウ", "ガツコウ", "ｶﾞｯｺｳ"),
    ("ヴァイオリン", "バイオリン"),
    ("ヴィヴィ", "ビビ"),
    ("ヴ", "ブ"),
    ("ヴェ", "ベ"),
    ("ヴォ", "ボ"),
    ("チヂミ", "チジミ"),
    ("ツヅキ", "ツズキ"),
    ("ヲノ", "オノ"),
    ("キョーコ", "キョウコ", "キヨウコ"),
    ("カー", "カーー", "カア"),
])
def test_spelling_variants_share_the_loose_key(variants):
    keys = {loose(v) for v in variants}
    assert len(keys) == 1, keys


@pytest.mark.parametrize("a, b", [
    ("オオノ", "オノ"),          # 大野 and 小野 are different names: the length is kept, not deleted
    ("サトウ", "サト"),
    ("ユウコ", "ユコ"),
    ("ケイイチ", "ケイチ"),      # the second イ starts 一 (ケー・イチ), it does not lengthen
    ("オオウチ", "オウチ"),      # 大内 vs 王地
    ("カトウ", "カトオウ"),
    ("ヤマダ", "ヤマモト"),
])
def test_different_names_keep_different_loose_keys(a, b):
    assert loose(a) != loose(b)


def test_loose_key_examples():
    assert loose("オオノ") == "オーノ"
    assert loose("ケイイチ") == "ケーイチ"
    assert loose("ショウ") == "シヨー"
    assert loose("ガッコウ") == "ガツコー"


def test_loose_key_is_idempotent():
    s = pd.Series(["オウノ", "ショウタ", "ヴァイオリン", "ケイイチ", "ｶﾞｯｺｳ"])
    once = loose_kana(s)
    assert loose_kana(once).tolist() == once.tolist()


def test_gaiji_becomes_the_marker_without_a_city_table():
    assert GAIJI_MARK == "〓"
    assert strict("\ue001ヤマ") == "〓ヤマ"
    assert loose("\ue001ヤマ") == "〓ヤマ"


def test_a_city_table_maps_gaiji_before_anything_else():
    # The table's text then goes through NFKC and kana folding like the rest.
    assert strict("\ue001ヤマ", {"\ue001": "ﾀｶ"}) == "タカヤマ"
    assert strict("\ue001\ue002", {"\ue001": "タ"}) == "タ〓"


def test_variation_selectors_are_stripped():
    assert strict("葛\U000e0100城") == "葛城"
    assert strict("ヤ\ufe0fマ") == "ヤマ"


def test_blank_gives_a_missing_key_so_two_blanks_never_match():
    s, lo = kana_keys(pd.Series(["", "  ", "\u3000", None, "・"], dtype="str"))
    assert s.isna().all() and lo.isna().all()


def test_keys_keep_the_index_and_name():
    s = pd.Series(["ア", "イ", "ア"], index=[4, 5, 6], name="name_kana")
    st, lo = kana_keys(s)
    assert st.index.tolist() == [4, 5, 6] and st.name == lo.name == "name_kana"


def test_has_gaiji():
    s = pd.Series(["\ue000田", "山田", "", "\uf8f0"])
    assert has_gaiji(s).tolist() == [True, False, False, True]


def test_romaji_of_the_loose_key():
    s = pd.Series(["オオノ", "オノ", "ｼｮｳﾀ", "", "\ue000ヤマ"])
    assert romaji(s).tolist()[:3] == ["o-no", "ono", "shiyo-ta"]
    assert pd.isna(romaji(s).iloc[3])
    assert romaji(s).iloc[4] == "〓yama"
    assert romaji(pd.Series(["オーノ"])).iloc[0] == romaji(pd.Series(["オウノ"])).iloc[0]


def test_an_empty_series_gives_empty_keys():
    st, lo = kana_keys(pd.Series([], dtype="str"))
    assert len(st) == len(lo) == 0 and len(romaji(pd.Series([], dtype="str"))) == 0
