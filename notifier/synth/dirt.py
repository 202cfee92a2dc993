"""Realistic dirt for the synthetic exports, each kind at a stated rate.

Two layers:
* **content dirt** is what the city's systems actually hold (kana typed differently, 外字, blank birth
  dates, an old address code). It is already in the clean frames, because the importer must keep
  such values as written.
* **rendering dirt** only changes how a value is written in the CSV (era dates, commas, full-width
  digits, 男/女, 長男, bare grade numbers, 「５年」, exact duplicate rows, the file's encoding). Parsing
  the CSV must give back the clean value.

A third kind is not dirt but damage: **invalid rows** (impossible dates, unknown codes; invalid.py)
that the importer must quarantine. They are in the CSV only, never in the clean frames, and
``_truth/quarantine.csv`` lists each one (file, line, column).

Every rate is in ``DIRT_RATES``; ``_truth/dirt.json`` repeats them with the counts actually applied.
"""
from __future__ import annotations

import re

import jaconv
import numpy as np
import pandas as pd

DIRT_RATES: dict[str, float] = {
    # --- content dirt (clean frames hold it too) ---
    "juminhyo.name_kana.halfwidth": 0.02,      # ｻﾄｳ ﾊﾅｺ (whole field)
    "juminhyo.name_kana.hiragana": 0.01,       # さとう　はなこ
    "juminhyo.name.gaiji": 0.25,               # of households whose surname has 辺 崎 辻 吉 浜 高
    "juminhyo.address.gaiji": 0.60,            # of households in 葛の葉町 / 槇尾川町
    "gakureibo.name_kana.halfwidth": 0.04,
    "gakureibo.name_kana.hiragana": 0.03,
    "gakureibo.name_kana.space": 0.05,         # no space, half-width space or two spaces
    "gakureibo.name_kana.long_vowel": 0.03,    # オオノ→オーノ, サトウ→サトー, ユウト→ユート
    "gakureibo.name_kana.small_kana": 0.02,    # ショウタ→シヨウタ (small kana typed large)
    "gakureibo.birth_date.blank": 0.03,
    "gakureibo.birth_date.wrong": 0.01,        # a valid but wrong date: day ±1–3, day/month swapped, year ±1
    "gakureibo.address_code.moved": 0.01,      # moved within the city; roster keeps the old address
    "gakureibo.guardian_kana.blank": 0.05,
    "gakureibo.namesake_pairs": 0.004,         # pairs of pupils (per enrolled pupil) made namesakes
    "gakureibo.household_namesake_pairs": 0.003,  # same-name cousins in one household (pairs per enrolled pupil)
    "gakureibo.past_pupil": 0.96,              # past pupils kept, with no juminhyo row (per enrolled pupil)
    "gakureibo.past_pupil.graduated": 0.50,    # of past pupils: left after 中3 (the rest moved away earlier)
    "gakureibo.past_pupil.sibling": 0.25,      # of past pupils: an older sibling of a current pupil
    "gakureibo.moved_away_kept": 0.70,         # pupils of moved-out households still on the roster
    "gakureibo.private_school": 0.03,          # school-age residents not on the municipal roster
    "consent.rows_per_resident": 0.238,        # counter/CSW consent rows per current resident (izumi ≈ 44,000)
    # --- rendering dirt (CSV only) ---
    "date.alt_format": 0.15,                   # non-blank date cells in another contract form
    "month.alt_format": 0.20,                  # 202504 or R7.4 instead of 2025-04
    "fy.era": 0.20,                            # 令和7 / R7 instead of 2025
    "number.comma": 0.25,                      # 1,234,567 (amounts of 1,000 or more)
    "number.fullwidth": 0.03,                  # １,２３４,５６７ / ３
    "id.fullwidth": 0.01,                      # ０１２３… in hoiku, kajiso, kodomo_iryo
    "sex.kanji": 0.30,                         # 男/女 instead of 1/2 (gakureibo only)
    "relation.ordinal": 0.15,                  # 長男/長女/二男… instead of 子
    "grade.numeric": 0.10,                     # 1–9 instead of 小1–中3
    "grade.school_year": 0.10,                 # 「5年」/「５年」: the year within the school (中学校 2年 = 中2)
    "handbook_grade.fullwidth": 0.05,          # １級, Ａ
    "flag.blank_for_no": 0.50,                 # 無 left blank
    "duplicate_rows": 0.002,                   # exact repeats, only in DUPLICATE_FILES
    # --- damage (CSV only; the importer must quarantine these rows) ---
    "invalid_rows": 0.001,                     # per file with ≥ INVALID_MIN_ROWS rows, at least one
}
# A file this short gets no invalid row (a tiny city's 家庭児童相談 has a handful of rows).
INVALID_MIN_ROWS = 20

# Files with exact duplicate rows (a repeated line in an export; harmless to every rule).
DUPLICATE_FILES = ("kaigo_service", "shusseki", "boshi_kenshin", "jido_teate")
# Files whose 宛名番号 is sometimes typed with full-width digits.
FULLWIDTH_ID_FILES = ("hoiku", "kajiso", "kodomo_iryo")

# Encoding of each file: CP932 for the two mainframe exports, UTF-8 with BOM for the education
# board's Excel-made files, plain UTF-8 for the rest. CP932 files use CRLF line ends.
FILE_ENCODINGS: dict[str, str] = {
    "juminhyo": "cp932", "shiminzei": "cp932",
    "gakureibo": "utf-8-sig", "shusseki": "utf-8-sig", "shugaku_enjo": "utf-8-sig",
    "consent": "utf-8-sig",
}
DEFAULT_ENCODING = "utf-8"

ERAS = (  # (kanji, letter, first day, year offset)
    ("令和", "R", np.datetime64("2019-05-01"), 2018),
    ("平成", "H", np.datetime64("1989-01-08"), 1988),
    ("昭和", "S", np.datetime64("1926-12-25"), 1925),
    ("大正", "T", np.datetime64("1912-07-30"), 1911),
    ("明治", "M", np.datetime64("1868-01-25"), 1867),
)
DATE_FORMS = ("slash", "compact", "era_kanji", "era_letter", "era_letter_pad")

_FW = str.maketrans("0123456789", "０１２３４５６７８９")
_LONG = [
    (re.compile("オオ"), "オー"),
    (re.compile("(?<=[オコソトノホモヨロゴゾドボポョ])ウ"), "ー"),
    (re.compile("(?<=[ウクスツヌフムユルグズブプュ])ウ"), "ー"),
]
_SMALL = str.maketrans("ャュョッァィゥェォ", "ヤユヨツアイウエオ")


def rate(key: str) -> float:
    return DIRT_RATES[key]


def pick(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """Boolean mask choosing about p·n of n items."""
    return rng.random(n) < p


# ---------------------------------------------------------------- kana (content dirt)
def halfwidth_kana(s: str) -> str:
    return jaconv.z2h(s.replace("\u3000", " "), kana=True, ascii=False, digit=False)


def hiragana(s: str) -> str:
    return jaconv.kata2hira(s)


def long_vowel(s: str) -> str:
    for pat, rep in _LONG:
        s = pat.sub(rep, s)
    return s


def small_kana_large(s: str) -> str:
    return s.translate(_SMALL)


def space_variant(s: str, k: int) -> str:
    return s.replace("\u3000", ("", " ", "\u3000\u3000")[k % 3])


def has_long_vowel(s: str) -> bool:
    return long_vowel(s) != s


def has_small_kana(s: str) -> bool:
    return small_kana_large(s) != s


# ---------------------------------------------------------------- rendering
def iso_dates(values: pd.Series) -> pd.Series:
    """datetime64 → 'YYYY-MM-DD' ('' for NaT)."""
    out = values.dt.strftime("%Y-%m-%d")
    return out.fillna("")


def _ymd(d: np.ndarray):
    d = np.asarray(d).astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, dd


def _era(d: np.ndarray):
    d = np.asarray(d).astype("datetime64[D]")
    kanji = np.empty(len(d), dtype=object)
    letter = np.empty(len(d), dtype=object)
    eyear = np.zeros(len(d), dtype=np.int64)
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    done = np.zeros(len(d), dtype=bool)
    for k, l, start, off in ERAS:
        sel = ~done & (d >= start)
        kanji[sel], letter[sel], eyear[sel] = k, l, y[sel] - off
        done |= sel
    return kanji, letter, eyear


def zfill(values, width: int) -> np.ndarray:
    """np.char.zfill that also takes an empty array (numpy 2.3+ fails on one: no maximum of nothing)."""
    text = np.asarray(values).astype(str)
    return np.char.zfill(text, width) if text.size else text


def _join(*parts) -> np.ndarray:
    """Element-wise string concatenation of arrays and scalars."""
    n = max(len(p) for p in parts if isinstance(p, (np.ndarray, pd.Series)))
    out = None
    for p in parts:
        col = pd.Series(np.broadcast_to(np.asarray(p, dtype=object), (n,))).astype(str)
        out = col if out is None else out + col
    return out.to_numpy(dtype=object)


def format_dates(d: np.ndarray, forms: np.ndarray) -> np.ndarray:
    """Write each date (datetime64[D]) in the named contract form (one of DATE_FORMS)."""
    y, m, dd = _ymd(d)
    kanji, letter, ey = _era(d)
    out = np.empty(len(d), dtype=object)
    for form in DATE_FORMS:
        s = forms == form
        if not s.any():
            continue
        if form == "slash":
            out[s] = _join(y[s], "/", m[s], "/", dd[s])
        elif form == "compact":
            out[s] = _join(pd.Series(y[s] * 10000 + m[s] * 100 + dd[s]))
        elif form == "era_kanji":
            eys = np.where(ey[s] == 1, "元", ey[s].astype(str))
            out[s] = _join(kanji[s], eys, "年", m[s], "月", dd[s], "日")
        elif form == "era_letter":
            out[s] = _join(letter[s], ey[s], ".", m[s], ".", dd[s])
        else:
            out[s] = _join(letter[s], zfill(ey[s], 2), ".",
                           zfill(m[s], 2), ".", zfill(dd[s], 2))
    return out


def format_months(d: np.ndarray, forms: np.ndarray) -> np.ndarray:
    """Months (first day, datetime64[D]) as 'compact' 202504 or 'era' R7.4."""
    y, m, _ = _ymd(d)
    _, letter, ey = _era(d)
    out = np.empty(len(d), dtype=object)
    s = forms == "compact"
    out[s] = _join(pd.Series(y[s] * 100 + m[s]))
    s = forms == "era"
    out[s] = _join(letter[s], ey[s], ".", m[s])
    return out


def fy_era(years: np.ndarray, letter: np.ndarray) -> np.ndarray:
    """Fiscal year 2026 → 令和8 / R8 (fiscal years named by their April; 2019 → 令和元)."""
    ey = years - 2018
    kan = np.where(ey == 1, "令和元", _join("令和", ey))
    return np.where(letter, _join("R", ey), kan)


def fullwidth_digits(s: np.ndarray) -> np.ndarray:
    return np.array([str(x).translate(_FW) for x in s], dtype=object)


def comma(values: np.ndarray) -> np.ndarray:
    return np.array([f"{int(v):,}" for v in values], dtype=object)
