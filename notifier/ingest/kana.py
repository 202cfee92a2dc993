"""Kana name keys for matching (名寄せ): a strict key and a loose key that lets spelling variants agree.

The steps and their order follow data-notes.md "Normalising for matching"; the original text is
never changed, these keys sit beside it.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import jaconv
import numpy as np
import pandas as pd
import pyarrow as pa

from .decode import PRIVATE_USE, map_distinct, private_use_mask

GAIJI_MARK = "〓"  # stands for a 外字 no city table maps; matching gives such a field less weight

_VARIATION_SELECTORS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
_PRIVATE_USE_RE, _VARIATION_SELECTORS_RE = f"[{PRIVATE_USE}]", f"[{_VARIATION_SELECTORS}]"
_RARE_RE = f"[{PRIVATE_USE}{_VARIATION_SELECTORS}]"  # either: most values have neither
# Values made only of these are already what NFKC would give, for the purpose of a key (U+3000 is
# dropped as a space anyway); only the others need the per-value Python step.
_NFKC_STABLE = "ぁ-ゖゝゞァ-ヺー・ヽヾ一-鿿 \u3000A-Za-z0-9"
_HIRAGANA_TO_KATAKANA = {chr(c): chr(c + 0x60) for c in range(0x3041, 0x3097)} | {"ゝ": "ヽ", "ゞ": "ヾ"}
# Spaces, the middle dot and every dash except the long-vowel mark ー (which is part of the name).
# After NFKC, full-width "－" and "﹣" are already "-"; U+2010–2015, U+2212 and U+2043 survive NFKC.
# The two common spaces go by plain replacement (RE2 replacement is slow); the rest only where present.
_SPACES = (" ", "\u3000")
_OTHER_DROP_RE = "[\t\n\r\f\v\u00a0・\\-\u2010-\u2015\u2212\u2043]"

# Spellings that older systems or hand entry write differently for the same sound.
_VU = {"ヴァ": "バ", "ヴィ": "ビ", "ヴェ": "ベ", "ヴォ": "ボ"}  # before the plain ヴ → ブ below
_FOLD = {
    "ヴ": "ブ", "ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヰ": "イ", "ヱ": "エ", "ヷ": "バ", "ヸ": "ビ", "ヹ": "ベ", "ヺ": "ボ",
    # small kana: many registry systems could not store them (ショウ is シヨウ there)
    "ァ": "ア", "ィ": "イ", "ゥ": "ウ", "ェ": "エ", "ォ": "オ", "ッ": "ツ",
    "ャ": "ヤ", "ュ": "ユ", "ョ": "ヨ", "ヮ": "ワ", "ヵ": "カ", "ヶ": "ケ"}
# Long vowels. A kana followed by a vowel that lengthens it (or by ー) becomes that kana plus one ー:
# オオノ, オウノ and オーノ all give オーノ, ユウコ and ユーコ give ユーコ, ケイコ and ケーコ give ケーコ.
# The length is kept, not deleted, so 大野 オオノ stays apart from 小野 オノ. One regex pass from
# the left, so ケイイチ gives ケーイチ (the second イ starts the next syllable), never ケーチ.
_ROWS = {
    "ア": "アカガサザタダナハバパマヤラワ",
    "イ": "イキギシジチニヒビピミリ",
    "ウ": "ウクグスズツヌフブプムユル",
    "エイ": "エケゲセゼテデネヘベペメレ",   # エイ is read as a long エ (ケイコ = ケーコ)
    "オウ": "オコゴソゾトドノホボポモヨロ",  # オウ and オオ are both a long オ (サトウ, オオノ)
}
_LONG_VOWEL_RE = "|".join(f"([{row}])[{vowels}ー]ー*" for vowels, row in _ROWS.items())
_LONG_VOWEL_REPL = "".join(f"\\{i}" for i in range(1, len(_ROWS) + 1)) + "ー"


def _kana_table(mapping: dict[str, str]) -> np.ndarray:
    """A lookup from the last two UTF-8 bytes of a character in U+3000–U+3FFF (all E3 xx yy) to new ones."""
    table = np.arange(1 << 16, dtype=np.uint16)
    for old, new in mapping.items():
        a, b = old.encode(), new.encode()
        assert len(a) == len(b) == 3 and a[0] == b[0] == 0xE3, (old, new)
        table[int.from_bytes(a[1:], "big")] = int.from_bytes(b[1:], "big")
    return table


_HIRAGANA_TABLE, _FOLD_TABLE = _kana_table(_HIRAGANA_TO_KATAKANA), _kana_table(_FOLD)


def _translate_kana(values: pd.Series, table: np.ndarray) -> pd.Series:
    """`str.translate` for kana over the whole Arrow buffer at once (Python's is ~1 µs a value).

    Every mapped character and its replacement are three UTF-8 bytes starting E3, and E3 is never a
    continuation byte, so the bytes after each E3 can be rewritten in place: no offsets move.
    """
    arr = pa.array(values.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    validity, offsets, data = arr.buffers()
    data = np.frombuffer(data, dtype=np.uint8).copy()
    lead = np.flatnonzero(data == 0xE3)
    code = table[(data[lead + 1].astype(np.uint16) << 8) | data[lead + 2]]
    data[lead + 1], data[lead + 2] = code >> 8, code & 0xFF
    out = pa.Array.from_buffers(arr.type, len(arr), [validity, offsets, pa.py_buffer(data)],
                                null_count=arr.null_count, offset=arr.offset)
    return pd.Series(pd.array(out, dtype="str"), index=values.index, name=values.name)


def has_gaiji(s: pd.Series) -> pd.Series:
    """True where a value holds 外字 (a private-use code point)."""
    return private_use_mask(s)


def _only_where(values: pd.Series, pattern: str, change) -> pd.Series:
    """Apply `change` only to the values matching `pattern`: a match test is cheaper than a rewrite."""
    hit = values.str.contains(pattern, regex=True).fillna(False).astype(bool)
    if not hit.any():
        return values
    values = values.copy()
    values[hit] = change(values[hit])
    return values


def _strict(values: pd.Series, gaiji_map: Mapping[str, str] | None) -> pd.Series:
    def unmark(v: pd.Series) -> pd.Series:
        if gaiji_map:
            v = v.str.translate(str.maketrans(dict(gaiji_map)))
        v = v.str.replace(_PRIVATE_USE_RE, GAIJI_MARK, regex=True)
        return v.str.replace(_VARIATION_SELECTORS_RE, "", regex=True)

    values = _only_where(values, _RARE_RE, unmark)
    # NFKC joins half-width voicing (ｶﾞ → ガ); only values that need it take the per-value Python
    # step (registry kana is mostly full-width already).
    values = _only_where(values, f"[^{_NFKC_STABLE}]",
                         lambda v: pd.Series([unicodedata.normalize("NFKC", x) for x in v], index=v.index, dtype="str"))
    values = _translate_kana(values, _HIRAGANA_TABLE)
    for space in _SPACES:
        values = values.str.replace(space, "", regex=False)
    values = _only_where(values, _OTHER_DROP_RE, lambda v: v.str.replace(_OTHER_DROP_RE, "", regex=True))
    # Upper case: romaji names (SMITH / Smith) differ only in case between systems.
    return values.str.upper()


def _loose(strict: pd.Series) -> pd.Series:
    if strict.str.contains("ヴ", regex=False).any():
        for vu, plain in _VU.items():
            strict = strict.str.replace(vu, plain, regex=False)
    folded = _translate_kana(strict, _FOLD_TABLE)
    return folded.str.replace(_LONG_VOWEL_RE, _LONG_VOWEL_REPL, regex=True)


def _empty_as_missing(s: pd.Series) -> pd.Series:
    # An empty key must never match another empty key.
    return s.mask(s.eq(""))


def kana_keys(s: pd.Series, gaiji_map: Mapping[str, str] | None = None) -> tuple[pd.Series, pd.Series]:
    """(strict key, loose key) for each value, computed once per distinct value; missing for blank."""
    def both(values: pd.Series) -> pd.DataFrame:
        strict = _strict(values, gaiji_map)
        return pd.DataFrame({"strict": strict, "loose": _loose(strict)}).apply(_empty_as_missing)

    keys = map_distinct(s, both)
    return keys["strict"].rename(s.name), keys["loose"].rename(s.name)


def strict_kana(s: pd.Series, gaiji_map: Mapping[str, str] | None = None) -> pd.Series:
    """Strict key: 外字 mapped or marked 〓, variation selectors dropped, NFKC, katakana, no spaces/・/dashes."""
    return kana_keys(s, gaiji_map)[0]


def loose_kana(s: pd.Series, gaiji_map: Mapping[str, str] | None = None) -> pd.Series:
    """Loose key: the strict key with ヂ/ヅ/ヲ/ヴ and small kana folded and long vowels made one ー."""
    return kana_keys(s, gaiji_map)[1]


def romaji(s: pd.Series) -> pd.Series:
    """Romaji of the loose key (jaconv), for character-level fuzzy comparison; ー is written "-"."""
    def convert(values: pd.Series) -> pd.Series:
        loose = _empty_as_missing(_loose(_strict(values, None)))
        return pd.Series([None if pd.isna(v) else jaconv.kata2alphabet(v) for v in loose],
                         index=values.index, dtype="str")

    return map_distinct(s, convert).rename(s.name)
