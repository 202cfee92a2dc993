"""Masking for sharing outreach cases with partners (pure): per-partner pseudonyms, the address reduced
to 町字, children's ages instead of birth dates, the guardian of a household, and CSV text for Excel.

Mission "External partners get masked data": a partner (CSW, こども食堂, a school) receives rows with
no direct identifier and finds the person through a separately held key table (仮名ID → 宛名番号, 氏名).

- **Pseudonym (仮名ID)**: HMAC-SHA256 of the guardian's 宛名番号 under a key derived from the secret
  pseudonym key and the receiving organisation's name, truncated to `PSEUDONYM_LENGTH` hex characters.
  The same person gets the same 仮名ID in every file for one partner (their records carry over from one
  export to the next) and a different one for every other partner, so two partners cannot join their
  files; without the secret key nobody can compute a 仮名ID from a 宛名番号.
- **Guardian**: the household's 世帯主 among its current residents; without one, the oldest current adult
  (18+ at D); without one, the current member with the smallest 宛名番号. A household with no current
  resident (moved away, case not yet closed) falls back to the same choice over its registry rows.
- **町字**: the 住所 text up to and including 丁目, or up to the first digit (番地, 番, 号, building names and
  room numbers are dropped); the prefecture is dropped. Without a text address: the 住所コード's first 6
  digits, "-", the 町字 part (digits 7–12), never a house number (the code holds none). 外字 (private-use
  code points) become 〓.
- **Children's ages**: the 児童 of the household (rules.md: until the first March 31 on or after the 18th
  birthday) as ages in full years, oldest first: "8歳、5歳". Never birth dates.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

import numpy as np
import pandas as pd

from notifier.contract import HEAD_RELATION
from notifier.households.dates import age_on, is_jido

PSEUDONYM_LENGTH = 16
ADULT_AGE = 18
_PREFECTURE = re.compile(r"^(東京都|北海道|京都府|大阪府|[^\d０-９]{2,3}県)")
# 外字 (private-use code points) mean nothing outside the city's systems: shown as 〓 (げた), as in print.
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_FIRST_DIGIT = re.compile(r"[0-9０-９]")
# 町字 with 丁目: no arabic digit before the 丁目 number (a building called "…5丁目ハイツ" after 番地 is not it).
_CHOME = re.compile(r"([^0-9０-９]*?[0-9０-９一二三四五六七八九十〇]+丁目)")
# Excel runs a cell that starts with one of these as a formula (CSV injection): such text is quoted.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def organisation_key(key: bytes, organisation: str) -> bytes:
    """The per-partner key: HMAC(secret, "pseudonym:" + organisation name)."""
    return hmac.new(key, ("pseudonym:" + organisation).encode("utf-8"), hashlib.sha256).digest()


def pseudonym(org_key: bytes, atena_no: str) -> str:
    """仮名ID of one person for one partner (org_key from `organisation_key`)."""
    return hmac.new(org_key, atena_no.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_LENGTH]


def choaza(address: str | None, address_code: str | None) -> str:
    """The address reduced to 町字 (module docstring)."""
    text = _PRIVATE_USE.sub("〓", (address or "").strip())
    if text:
        text = _PREFECTURE.sub("", text)
        chome = _CHOME.match(text)
        if chome:
            return chome.group(1)
        m = _FIRST_DIGIT.search(text)
        head = text[:m.start()] if m else text
        head = head.split("\u3000")[0].split(" ")[0]
        return head.rstrip("-－ー")
    code = (address_code or "").strip()
    if len(code) >= 12:
        return f"{code[:6]}-{code[6:12]}"
    return ""


def ages_text(ages) -> str:
    """[8, 5] → "8歳、5歳" (oldest first); no children → ""."""
    return "、".join(f"{int(a)}歳" for a in sorted(ages, reverse=True))


def month_text(day: dt.date | None) -> str:
    return "" if day is None else f"{day.year}年{day.month}月"


def household_summaries(members: pd.DataFrame, current: np.ndarray, as_of: dt.date) -> pd.DataFrame:
    """One row per 世帯番号 (index setai_no): guardian_atena, guardian_name, choaza, child_ages.

    `members`: registry rows (setai_no, atena_no, name, relation, birth_date, address, address_code) of
    the households; `current`: per row, a current resident on `as_of` (residents.current_mask).
    """
    cols = ["guardian_atena", "guardian_name", "choaza", "child_ages"]
    if members.empty:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="setai_no"))
    m = members.copy()
    m["birth_date"] = pd.to_datetime(m["birth_date"])
    m["current"] = current
    m["age"] = age_on(m["birth_date"], as_of)
    m["head"] = (m["relation"] == HEAD_RELATION).to_numpy()
    m["adult"] = (m["age"] >= ADULT_AGE).fillna(False).to_numpy(dtype=bool)
    m["jido"] = is_jido(m["birth_date"], as_of) & m["current"].to_numpy()
    # The guardian: current before not current, then 世帯主, then an adult (oldest first), then 宛名番号.
    m["_no_birth"] = m["birth_date"].isna().to_numpy()
    order = m.sort_values(["setai_no", "current", "head", "adult", "_no_birth", "birth_date", "atena_no"],
                          ascending=[True, False, False, False, True, True, True], kind="stable")
    first = order.drop_duplicates("setai_no").set_index("setai_no")
    kids = m[m["jido"] & (m["age"] >= 0).fillna(False).to_numpy(dtype=bool)].groupby("setai_no")["age"].apply(list)
    out = pd.DataFrame(index=first.index)
    out["guardian_atena"] = first["atena_no"].astype(str)
    out["guardian_name"] = first["name"].fillna("").astype(str)
    out["choaza"] = [choaza(a if isinstance(a, str) else None, c if isinstance(c, str) else None)
                     for a, c in zip(first["address"], first["address_code"], strict=True)]
    out["child_ages"] = [ages_text(kids.get(s, [])) for s in out.index]
    out.index.name = "setai_no"
    return out


def csv_cell(value) -> str:
    """One CSV cell as text; text Excel would run as a formula gets a leading apostrophe."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(columns: list[str], rows: list[dict]) -> str:
    """The rows as CSV (UTF-8 with BOM, as funnel.csv: Excel in Japanese offices reads it)."""
    import csv
    import io
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    return "\ufeff" + buf.getvalue()
