"""Validate a decoded export against its contract Source: typed canonical columns, bad rows to quarantine.

Pure: a frame of strings in, a `ParsedSource` out. Whole-file problems raise StructuralError; a bad
cell holds back its row (one quarantine entry per bad cell) and the rest of the file goes through.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from notifier.contract import (
    CHILD_RELATION_RE,
    GRADES,
    HANDBOOK_GRADE_PATTERNS,
    RELATIONS,
    SCHOOL_KIND_GRADES,
    SEX_CODES,
    Column,
    Source,
)

from .dates import parse_dates, parse_datetimes_jst, parse_fiscal_years, parse_months
from .decode import QUARANTINE_COLUMNS, StructuralError, map_distinct, nfkc, suspicious_rows, text_masks
from .kana import kana_keys
from .numbers import parse_ints

GARBLED = "文字化けの可能性があります（制御文字・置換文字など）"
GAIJI_IN_CODE = "外字（私用領域の文字）が含まれています"
REQUIRED = "必須項目が空です"
_PARSERS = {
    "date": (parse_dates, "日付として読めません"),
    "month": (parse_months, "年月として読めません"),
    "fy": (parse_fiscal_years, "年度として読めません"),
    "int": (parse_ints, "数値として読めません"),
    "datetime": (parse_datetimes_jst, "日時として読めません"),
}
_GRADE = {g: i for i, g in enumerate(GRADES, start=1)} | {str(i): i for i in range(1, 10)}
_FLAG = {"有": True, "あり": True, "1": True, "無": False, "なし": False, "0": False, "": False}
_REASON = "__reason"  # working column beside the typed ones


@dataclass
class ParsedSource:
    """One export after validation: what imports, what waits in quarantine, and the counts for the summary."""

    source: str
    file: str
    frame: pd.DataFrame                    # canonical fields, typed, plus line_no (and gaiji for name files)
    quarantine: pd.DataFrame               # file, line, column, value, reason: one row per bad cell
    ignored_columns: list[str] = field(default_factory=list)
    rows_read: int = 0                     # data rows in the file (blank lines not counted)
    duplicates_dropped: int = 0            # exact repeats of an earlier row

    @property
    def rows_quarantined(self) -> int:
        return int(self.quarantine["line"].nunique())


@dataclass
class _Cell:
    """What one column yields: typed output columns and the checks that can fail, in priority order."""

    values: dict[str, pd.Series]
    checks: list[tuple[pd.Series, str | pd.Series]] = field(default_factory=list)


def _text(col: pd.Series) -> pd.Series:
    # NFKC makes 全角 digits and letters plain; the strip makes padded mainframe fields ("山田　　") clean.
    return nfkc(col).str.strip()


def _parsed(kind: str) -> Callable[..., _Cell]:
    parse, reason = _PARSERS[kind]

    def run(col: pd.Series, c: Column, **_) -> _Cell:
        values, bad = parse(col)
        return _Cell({c.field: values}, [(bad, reason)])
    return run


def _id(col: pd.Series, c: Column, **_) -> _Cell:
    text = _text(col)
    digits = text.str.fullmatch("[0-9]+").fillna(False).astype(bool)
    return _Cell({c.field: text.where(digits)}, [(~digits & text.ne(""), "数字以外の文字が含まれています")])


def _key(col: pd.Series, c: Column, **_) -> _Cell:
    # School systems number pupils with letters too (S0012, 2024-A-015): ASCII letters, digits, hyphens.
    text = _text(col).str.upper()
    ok = text.str.fullmatch("[0-9A-Z][0-9A-Z-]*").fillna(False).astype(bool)
    return _Cell({c.field: text.where(ok)}, [(~ok & text.ne(""), "英数字とハイフン以外の文字が含まれています")])


def _plain_text(col: pd.Series, c: Column, **_) -> _Cell:
    text = col.str.strip()
    return _Cell({c.field: text.mask(text.eq(""))})


def _kana(col: pd.Series, c: Column, gaiji_map: Mapping[str, str] | None = None, **_) -> _Cell:
    text = col.str.strip()
    strict, loose = kana_keys(text, gaiji_map)
    return _Cell({c.field: text.mask(text.eq("")), f"{c.field}_strict": strict, f"{c.field}_loose": loose})


def _lookup(table: Mapping[str, object], dtype: str, reason: str) -> Callable[..., _Cell]:
    def run(col: pd.Series, c: Column, **_) -> _Cell:
        text = _text(col)
        values = text.map(table)
        bad = values.isna() & text.ne("")
        return _Cell({c.field: values.astype(dtype)}, [(bad, f"{reason}: " + text)])
    return run


def _code(col: pd.Series, c: Column, **_) -> _Cell:
    text = _text(col)
    bad = ~text.isin(c.codes) & text.ne("")
    return _Cell({c.field: text.mask(bad | text.eq(""))}, [(bad, "許可されていないコードです: " + text)])


def _relation(col: pd.Series, c: Column, **_) -> _Cell:
    text = _text(col)
    child = text.str.fullmatch(CHILD_RELATION_RE).fillna(False).astype(bool)
    ok = text.isin(RELATIONS) | child
    written = text.mask(text.eq(""))
    return _Cell({c.field: written, f"{c.field}_norm": written.mask(child, "子")},
                 [(~ok & text.ne(""), "続柄の値が不正です: " + text)])


def _handbook_grade(col: pd.Series, c: Column, frame: pd.DataFrame, source: Source, **_) -> _Cell:
    text = _text(col).str.upper()
    kind = _text(frame[source.column("handbook_kind").header])
    values = pd.Series(np.nan, index=col.index, dtype="str")
    known = pd.Series(False, index=col.index)
    for name, pattern in HANDBOOK_GRADE_PATTERNS.items():
        rows = kind.eq(name)
        known |= rows
        m = text[rows].str.fullmatch(pattern).fillna(False).astype(bool)
        grade = text[rows][m]
        if name != "療育":  # 身体 and 精神 grades are stored as "1級" even when written bare
            grade = grade.str.extract(f"^{pattern}$", expand=False) + "級"
        values[grade.index] = grade
    # An unknown 手帳種別 is reported on its own column; its grade cannot be judged.
    bad = known & values.isna() & text.ne("")
    return _Cell({c.field: values}, [(bad, "等級が手帳種別（" + kind + "）に合いません: " + text)])


def _school_kind(names: pd.Series) -> pd.Series:
    """The SCHOOL_KIND_GRADES kind each 学校名 ends in (missing where it ends in none)."""
    kind = pd.Series(None, index=names.index, dtype="object")
    for k in SCHOOL_KIND_GRADES:  # longest ending first: 小中学校 before 中学校
        kind = kind.mask(kind.isna().to_numpy() & names.str.endswith(k).fillna(False).to_numpy(bool), k)
    return kind


def _grade(col: pd.Series, c: Column, frame: pd.DataFrame, source: Source, **_) -> _Cell:
    """学年 as 小1–中3, as the contract's 1–9, or as the year within the school (「2年」, 「２年生」).

    The year within the school needs the school's kind, read from its 学校名 (SCHOOL_KIND_GRADES):
    a 中学校's 2年 is 中2. Where the name says no kind, 「2年」 is refused rather than guessed, and a
    grade the named kind of school does not have (中学校 with 小3, or with a bare 2) is refused too.
    """
    text = _text(col)
    written = text.map(_GRADE).astype("float64")
    year = text.str.extract(r"^([1-9])年生?$", expand=False).astype("float64")
    names = next((_text(frame[s.header]) for s in source.columns if s.field == "school_name" and s.header in frame),
                 pd.Series("", index=col.index, dtype="str"))
    kind = _school_kind(names)
    first = kind.map({k: r.start for k, r in SCHOOL_KIND_GRADES.items()}).astype("float64")
    last = kind.map({k: r.stop - 1 for k, r in SCHOOL_KIND_GRADES.items()}).astype("float64")
    in_school = first + year - 1
    values = written.fillna(in_school.where(in_school <= last))
    no_kind = year.notna() & kind.isna()
    misfit = values.notna() & kind.notna() & ((values < first) | (values > last))
    checks = [(no_kind, "学校名から小学校・中学校の別が分からないため読めません: " + text),
              (values.isna() & text.ne(""), "学年の値が不正です: " + text),
              (misfit, "学年が学校の種別（" + kind.fillna("") + "）に合いません: " + text)]
    return _Cell({c.field: values.astype("Int8")}, checks)


_KINDS: dict[str, Callable[..., _Cell]] = {
    "id": _id, "key": _key, "text": _plain_text, "kana": _kana, "code": _code, "relation": _relation,
    "handbook_grade": _handbook_grade,
    "sex": _lookup(SEX_CODES, "Int8", "性別の値が不正です"),
    "grade": _grade,
    "flag": _lookup(_FLAG, "bool", "有・無以外の値です"),
} | {kind: _parsed(kind) for kind in _PARSERS}
# Kinds validated over the whole column, not once per distinct value by parse_source: ids are
# nearly all distinct (finding the distinct values would cost more than it saves), kana and the
# parsers find distinct values themselves, a handbook grade depends on 手帳種別 and a 学年 on 学校名
# in the same row.
_WHOLE_COLUMN = {"id", "key", "kana", "handbook_grade", "grade"} | set(_PARSERS)


def _first_reason(index: pd.Index, checks: list[tuple[pd.Series, str | pd.Series]]) -> pd.Series:
    """The first failing check's reason for each cell (None where every check passed)."""
    reason = pd.Series(None, index=index, dtype="object")
    for mask, why in checks:
        fill = mask.to_numpy(dtype=bool) & reason.isna().to_numpy()
        if fill.any():
            reason[fill] = why[fill] if isinstance(why, pd.Series) else why
    return reason


def _validate(values: pd.Series, c: Column, **context) -> pd.DataFrame:
    """Typed output columns, and the reason a value is bad (None if good)."""
    cell = _KINDS[c.kind](values, c, **context)
    checks = ([(values.str.strip().eq(""), REQUIRED)] if c.required else []) + cell.checks
    out = pd.DataFrame(cell.values, index=values.index)
    out[_REASON] = _first_reason(values.index, checks)
    return out


def _column(c: Column, col: pd.Series, suspect: np.ndarray, **context) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """One column: its typed output columns, the reason each cell is bad (None if good), and which
    cells hold 外字. `suspect` marks the rows that may hold controls or private-use characters."""
    if c.kind in _WHOLE_COLUMN:
        out = _validate(col, c, **context)
    else:
        out = map_distinct(col, lambda u: _validate(u, c))
    reason = out.pop(_REASON)
    garbled, private = np.zeros(len(col), dtype=bool), np.zeros(len(col), dtype=bool)
    if suspect.any():
        garbled[suspect], private[suspect] = text_masks(col[suspect])
    # Mis-decoding (any kind) and 外字 (where only digits or a code belong) outrank the kind's reason.
    if c.kind in ("id", "key", "code"):
        reason = reason.mask(private, GAIJI_IN_CODE)
    return out, reason.mask(garbled, GARBLED), private


def parse_source(source: Source, raw: pd.DataFrame, file: str,
                 gaiji_map: Mapping[str, str] | None = None) -> ParsedSource:
    """Validate and type one export whose headers are already the contract's Japanese headers.

    `raw` is what `read_export` returns (strings; index "line" = line numbers); with any other index
    the first data row is taken to be line 2. Missing required columns raise StructuralError; an
    absent optional column reads as blank. `gaiji_map` maps a city's 外字 to text for the kana keys.
    """
    doubled = raw.columns[raw.columns.duplicated()]
    if len(doubled):  # e.g. a mapping that renames two of the city's columns onto one contract header
        raise StructuralError(file, 1, str(doubled[0]), "見出しが重複しています")
    missing = [c.header for c in source.columns if c.required and c.header not in raw.columns]
    if missing:
        raise StructuralError(file, 1, "、".join(missing), "必須の列がありません")
    known = {c.header for c in source.columns}
    ignored = [h for h in raw.columns if h not in known]

    rows_read = len(raw)
    lines = raw.index.to_numpy() if raw.index.name == "line" else np.arange(2, rows_read + 2)
    raw = raw.set_axis(pd.RangeIndex(rows_read))
    dup = _duplicates(raw, source)
    if dup.any():
        raw, lines = raw.loc[~dup], lines[~dup]

    columns: list[pd.Series] = [pd.Series(lines, index=raw.index, name="line_no", dtype="int64")]
    problems: list[pd.DataFrame] = []
    held = np.zeros(len(raw), dtype=bool)
    gaiji = np.zeros(len(raw), dtype=bool)
    # Rows holding a control, U+FFFD or private-use character anywhere are few: find them in one
    # pass, then look closer at those rows only.
    suspect = suspicious_rows(raw[[c.header for c in source.columns if c.header in raw.columns]])
    for c in source.columns:
        col = raw[c.header].astype("str") if c.header in raw.columns else pd.Series("", index=raw.index, dtype="str")
        out, reason, private = _column(c, col, suspect, frame=raw, source=source, gaiji_map=gaiji_map)
        bad = reason.notna().to_numpy()
        if bad.any():
            held |= bad
            problems.append(pd.DataFrame({"file": file, "line": lines[bad], "column": c.header,
                                          "value": col[bad].to_numpy(), "reason": reason[bad].to_numpy()}))
        if c.kind in ("text", "kana"):
            gaiji |= private
        columns.extend(out[name] for name in out.columns)

    frame = pd.concat(columns, axis=1)
    if any(c.kind in ("text", "kana") for c in source.columns):
        frame["gaiji"] = gaiji
    if held.any():
        frame = frame.loc[~held]
    return ParsedSource(source=source.name, file=file, frame=frame.reset_index(drop=True),
                        quarantine=_quarantine(problems), ignored_columns=ignored, rows_read=rows_read,
                        duplicates_dropped=int(dup.sum()))


def _duplicates(raw: pd.DataFrame, source: Source) -> np.ndarray:
    """Rows that exactly repeat an earlier row. Only rows whose person key repeats can be one, and
    in most files those are few, so the full comparison runs on them alone."""
    key = source.column(source.key).header  # 宛名番号 or 児童生徒番号
    if key not in raw.columns:
        return raw.duplicated(keep="first").to_numpy()
    candidates = raw[key].duplicated(keep=False).to_numpy()
    dup = np.zeros(len(raw), dtype=bool)
    if candidates.any():
        dup[candidates] = raw.loc[candidates].duplicated(keep="first").to_numpy()
    return dup


def _quarantine(problems: list[pd.DataFrame]) -> pd.DataFrame:
    if not problems:
        return pd.DataFrame({k: pd.Series(dtype="int64" if k == "line" else "str") for k in QUARANTINE_COLUMNS})
    q = pd.concat(problems, ignore_index=True)
    # Line order, and within a line the contract's column order (problems were collected in it).
    return q.sort_values("line", kind="stable").reset_index(drop=True).astype(
        {"line": "int64", "file": "str", "column": "str", "value": "str", "reason": "str"})
