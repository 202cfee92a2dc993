"""Raw export bytes → a frame of strings (encoding, CSV, line numbers), with the text checks and errors of decoding.

Also the column helpers every parser shares: work once per distinct value, RE2 extraction, NFKC.
"""
from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class StructuralError(Exception):
    """A file that cannot be imported at all (構造エラー): the whole file is rejected."""

    def __init__(self, file: str, line: int | None, field: str | None, reason: str):
        super().__init__(file, line, field, reason)
        self.file, self.line, self.field, self.reason = file, line, field, reason

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return ": ".join(p for p in (where, self.field, self.reason) if p)


class QuarantineRow(NamedTuple):
    """One bad cell (隔離): the data row it sits in is held back, the rest of the file imports."""

    file: str
    line: int       # physical line in the file where the record starts (header = 1)
    column: str     # the Japanese header as it appears after mapping
    value: str      # the cell exactly as read
    reason: str     # Japanese, for staff

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.reason}"


QUARANTINE_COLUMNS = list(QuarantineRow._fields)

# Private use (外字) plus the supplementary private-use planes some vendors use, as a regex class body.
PRIVATE_USE = "\ue000-\uf8ff\U000f0000-\U0010fffd"
# cp932 decodes stray 0xA0 / 0xFD-0xFF to U+F8F0-F8F3 without complaint: always garbling, never 外字.
_GARBLED = "\x00-\x08\x0a-\x1f\x7f-\x9f\ufffd\uf8f0-\uf8f3"
_SUSPICIOUS_RE = f"[{_GARBLED}{PRIVATE_USE}]"
_GARBLED_RE = f"[{_GARBLED}]"
_PRIVATE_USE_RE = f"[{PRIVATE_USE}]"


def _mask(s: pd.Series, pattern: str) -> pd.Series:
    # Literal code points in the class (not \u escapes) so pyarrow's RE2 can run it without Python.
    return s.astype("str").str.contains(pattern, regex=True, na=False).astype(bool)


def suspicious_text_mask(s: pd.Series) -> pd.Series:
    """True where a value holds 外字 (private use), a C0/C1 control other than tab, or U+FFFD."""
    return _mask(s, _SUSPICIOUS_RE)


def garbled_text_mask(s: pd.Series) -> pd.Series:
    """True where a value looks mis-decoded: controls (not tab), U+FFFD, or cp932's silent U+F8F0–F8F3."""
    return _mask(s, _GARBLED_RE)


def private_use_mask(s: pd.Series) -> pd.Series:
    """True where a value holds a private-use code point (外字, including U+F8F0–F8F3)."""
    return _mask(s, _PRIVATE_USE_RE)


def suspicious_rows(frame: pd.DataFrame) -> np.ndarray:
    """True for rows with a suspicious character in any column: one regex pass over each row's
    joined text instead of one pass per column, since such rows are few."""
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=bool)
    arrays = [pc.cast(pa.array(frame[c].astype("str").array), pa.large_string()) for c in frame.columns]
    # Tab joins the cells: it is the one control character that is not suspicious.
    joined = pc.binary_join_element_wise(*arrays, pa.scalar("\t", pa.large_string()),
                                         null_handling="replace", null_replacement="")
    return suspicious_text_mask(pd.Series(pd.array(joined, dtype="str"))).to_numpy()


def text_masks(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(garbled_text_mask, private_use_mask) as arrays; only the suspicious values get the two looks."""
    garbled, private = np.zeros(len(s), dtype=bool), np.zeros(len(s), dtype=bool)
    rows = suspicious_text_mask(s).to_numpy()
    if rows.any():
        garbled[rows] = garbled_text_mask(s[rows]).to_numpy()
        private[rows] = private_use_mask(s[rows]).to_numpy()
    return garbled, private


def extract(s: pd.Series, pattern: str) -> pd.DataFrame:
    """`Series.str.extract` run by pyarrow's RE2, about ten times faster than pandas' Python fallback.

    Named groups only; a group that did not take part in the match, or a value that did not match,
    is NaN. RE2 syntax: no lookaround or backreferences.
    """
    arr = pa.array(s.astype("str").array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    found = pc.extract_regex(arr, pattern)
    out = {}
    for i, f in enumerate(found.type):
        col = pd.Series(pd.array(found.field(i), dtype="str"), index=s.index)
        out[f.name] = col.mask(col.eq("") | found.is_null().to_numpy(zero_copy_only=False))
    return pd.DataFrame(out, index=s.index)


def nfkc(s: pd.Series) -> pd.Series:
    """NFKC-normalise a string series; ASCII values are already normal, so only the rest is touched."""
    s = s.astype("str")
    todo = ~s.str.isascii().fillna(True).astype(bool)
    if todo.any():
        s = s.copy()
        s[todo] = [unicodedata.normalize("NFKC", v) for v in s[todo]]
    return s


def map_distinct(s: pd.Series, fn: Callable[[pd.Series], pd.Series | pd.DataFrame]) -> pd.Series | pd.DataFrame:
    """Apply `fn` once per distinct value of `s` (blank for missing) and spread the result back over `s`.

    Exports repeat values heavily (dates, codes, names), so this is where the work is saved.
    `fn` receives the distinct values as a string Series with a RangeIndex and returns a Series or
    DataFrame on that index.
    """
    codes, uniques = pd.factorize(s.astype("str").fillna(""))
    return fn(pd.Series(uniques, dtype="str")).take(codes).set_axis(s.index)


def parse_distinct(s: pd.Series, parse: Callable[[pd.Series], pd.Series],
                   none: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Parse each distinct value of `s` once → (values aligned to `s`, mask of non-blank values that failed).

    `parse` receives the distinct values NFKC-normalised and stripped (blanks as "") and returns the
    parsed values on the same index, missing where a value is bad. Values fully matching the regex
    `none` mean "none" and read as blank.
    """
    def both(uniques: pd.Series) -> pd.DataFrame:
        text = nfkc(uniques).str.strip()
        blank = text.eq("") | (text.str.fullmatch(none) if none else False)
        value = parse(text).mask(blank)
        return pd.DataFrame({"value": value, "bad": value.isna() & ~blank})

    out = map_distinct(s, both)
    return out["value"].rename(s.name), out["bad"].astype(bool).rename(s.name)


def _decode(raw: bytes, file: str) -> tuple[str, str]:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise StructuralError(file, 1, None, "UTF-16 のファイルには対応していません（UTF-8 か CP932 で出力してください）")
    if raw.startswith(b"\xef\xbb\xbf"):
        encodings = ("utf-8-sig",)  # a UTF-8 BOM settles it: no cp932 second guess
    else:
        encodings = ("utf-8", "cp932")  # order matters: real cp932 Japanese is never valid UTF-8
    for encoding in encodings:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as e:
            error = e
    line = raw[: error.start].count(b"\n") + 1
    raise StructuralError(file, line, None,
                          f"文字コードを判定できません（UTF-8 でも CP932 でもないバイトがあります: 0x{raw[error.start]:02X}）")


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    # Excel leaves ",,,," rows behind; only rows whose first cell is blank need a full look.
    first = np.array(frame.iloc[:, 0].str.strip().eq(""), dtype=bool)  # a writable copy
    if not first.any():
        return first
    rest = frame.loc[first]
    blank = np.logical_and.reduce([rest[c].str.strip().eq("").to_numpy(dtype=bool) for c in rest.columns])
    first[first] = blank
    return first


def _parse_fast(body: bytes) -> tuple[pd.DataFrame, np.ndarray] | None:
    """pyarrow's reader: ~3x faster than pandas' C engine, but reports no line numbers and skips empty lines."""
    try:
        frame = pd.read_csv(io.BytesIO(body), engine="pyarrow", header=None, dtype=str, keep_default_na=False)
    except Exception:  # any parse trouble: the careful reader explains it with a line number
        return None
    # Each record on exactly one physical line (no empty lines, no line breaks in quoted values)
    # is what makes the line number simply the record number.
    if body.count(b"\n") != len(frame):
        return None
    return frame, np.arange(1, len(frame) + 1)


def _parse_careful(text: str, file: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Python's csv module, one record at a time: only for files the fast reader cannot take as they are."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, lines, width, start = [], [], None, 1
    try:
        for row in reader:
            if not any(v.strip() for v in row):
                start = reader.line_num + 1
                continue  # a blank line, or a row of empty cells: not a record
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise StructuralError(file, start, None,
                                      f"列の数が見出し行と合いません（見出し {width} 列、この行 {len(row)} 列）")
            rows.append(row)
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise StructuralError(file, start, None, f"CSV として読めません（引用符の対応が取れていません: {e}）") from None
    if not rows:
        raise StructuralError(file, 1, None, "ファイルが空です（見出し行がありません）")
    return pd.DataFrame(rows, dtype="str"), np.array(lines)


def _headers(row: list[str], file: str) -> list[str]:
    headers = [h.strip().strip("\ufeff").strip() for h in row]
    headers = [h or f"(見出しなし{i + 1}列目)" for i, h in enumerate(headers)]
    seen = set()
    for h in headers:
        if h in seen:
            raise StructuralError(file, 1, h, "見出しが重複しています")
        seen.add(h)
    return headers


def read_export(raw: bytes, file: str) -> tuple[pd.DataFrame, str]:
    """Decode one CSV export and return (frame of strings, encoding used).

    Every cell is a string ("" for blank); header names are stripped of surrounding whitespace.
    The index, named "line", is the physical line where each record starts (header = line 1),
    so row-level errors can name the line staff will find in the file. Blank lines and rows of
    empty cells are dropped. Undecodable bytes, a ragged row or broken quoting raise StructuralError.
    """
    text, encoding = _decode(raw, file)
    # pyarrow reads UTF-8 bytes: the file itself when it is UTF-8, else the decoded text re-encoded.
    body = {"utf-8": raw, "utf-8-sig": raw[3:]}.get(encoding) or text.encode("utf-8")
    # Trailing blank lines are common and harmless; dropping them keeps the fast path open.
    body = body.rstrip(b"\r\n") + b"\n"
    if not body.strip():
        raise StructuralError(file, 1, None, "ファイルが空です（見出し行がありません）")
    frame, lines = _parse_fast(body) or _parse_careful(body.decode("utf-8"), file)
    frame.columns = _headers(frame.iloc[0].tolist(), file)
    frame, lines = frame.iloc[1:], lines[1:]
    if len(frame):
        keep = ~_blank_rows(frame)
        if not keep.all():
            frame, lines = frame.loc[keep], lines[keep]
    frame.index = pd.Index(lines, name="line")
    return frame, encoding
