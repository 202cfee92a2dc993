"""The generated exports: files, encodings, contract headers, valid values, counts, determinism."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from notifier.contract import CONSENT_FILE, GRADES, RELATIONS, SOURCES
from notifier.synth import DIRT_RATES, IZUMI_TABLE, generate
from notifier.synth.dirt import DUPLICATE_FILES, FILE_ENCODINGS, INVALID_MIN_ROWS
from notifier.synth.invalid import SPOILERS

from .conftest import load_clean

ALL = list(SOURCES) + ["consent"]
ORDINALS = {"長男", "二男", "三男", "四男", "五男", "六男", "長女", "二女", "三女", "四女", "五女", "六女"}
ERA_START = {"M": date(1868, 1, 25), "T": date(1912, 7, 30), "S": date(1926, 12, 25), "H": date(1989, 1, 8),
             "R": date(2019, 5, 1)}
ERA_NEXT = {"M": "T", "T": "S", "S": "H", "H": "R"}
ERA_KANJI = {"明治": "M", "大正": "T", "昭和": "S", "平成": "H", "令和": "R"}
ERA_RE = re.compile(r"^(明治|大正|昭和|平成|令和|[MTSHR])(元|\d{1,2})[年.](\d{1,2})[月.](\d{1,2})日?$")


# ---------------------------------------------------------------- an independent reading of the contract
def parse_date(s: str) -> date:
    s = unicodedata.normalize("NFKC", s)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return date.fromisoformat(s)
    if re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", s):
        return date(*map(int, s.split("/")))
    if re.fullmatch(r"\d{8}", s):
        return date(int(s[:4]), int(s[4:6]), int(s[6:]))
    m = ERA_RE.match(s)
    assert m, f"not a contract date: {s!r}"
    era = ERA_KANJI.get(m[1], m[1])
    y = 1 if m[2] == "元" else int(m[2])
    d = date(ERA_START[era].year + y - 1, int(m[3]), int(m[4]))
    assert d >= ERA_START[era], s
    if era in ERA_NEXT:
        assert d < ERA_START[ERA_NEXT[era]], s
    return d


def parse_month(s: str) -> date:
    s = unicodedata.normalize("NFKC", s)
    if re.fullmatch(r"\d{4}-\d{2}", s):
        return date(int(s[:4]), int(s[5:]), 1)
    if re.fullmatch(r"\d{6}", s):
        return date(int(s[:4]), int(s[4:]), 1)
    m = re.fullmatch(r"([MTSHR])(元|\d{1,2})\.(\d{1,2})", s)
    assert m, f"not a contract month: {s!r}"
    y = 1 if m[2] == "元" else int(m[2])
    return date(ERA_START[m[1]].year + y - 1, int(m[3]), 1)


def parse_fy(s: str) -> int:
    s = unicodedata.normalize("NFKC", s)
    if re.fullmatch(r"\d{4}", s):
        return int(s)
    m = re.fullmatch(r"(令和|R)(元|\d{1,2})", s)
    assert m, s
    return 2018 + (1 if m[2] == "元" else int(m[2]))


def parse_int(s: str) -> int:
    s = unicodedata.normalize("NFKC", s).replace(",", "")
    assert re.fullmatch(r"-?\d+", s), s
    return int(s)


def parse(col, s: str):
    """A cell of the CSV → the value the clean frame holds (None for blank)."""
    if s == "":
        assert not col.required, f"blank required {col.header}"
        return False if col.kind == "flag" else None  # a blank flag means 無
    k = col.kind
    if k == "date":
        return parse_date(s)
    if k == "month":
        return parse_month(s)
    if k == "fy":
        return parse_fy(s)
    if k == "int":
        return parse_int(s)
    if k == "sex":
        return {"1": 1, "男": 1, "2": 2, "女": 2}[s]
    if k == "grade":
        return GRADES.index(s) + 1 if s in GRADES else int(s)
    if k == "flag":
        return {"有": True, "無": False}[s]
    if k == "relation":
        assert s in RELATIONS or s in ORDINALS, s
        return "子" if s in ORDINALS else s
    if k == "code":
        assert unicodedata.normalize("NFKC", s).strip() in col.codes, (col.header, s)
        return s
    if k == "handbook_grade":
        s = unicodedata.normalize("NFKC", s)
        assert re.fullmatch(r"[1-6]級|A|B|A1|A2|B1|B2", s), s
        return s
    if k == "id":
        s = unicodedata.normalize("NFKC", s)
        assert s.isdigit(), s
        return s
    if k == "datetime":
        return datetime.strptime(s, "%Y-%m-%d %H:%M:%S")
    return s


def clean_value(v, kind: str):
    if v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    if kind in ("date", "month"):
        return pd.Timestamp(v).date()
    if kind == "datetime":
        return pd.Timestamp(v).to_pydatetime()
    if kind in ("int", "fy", "sex", "grade"):
        return int(v)
    if kind == "flag":
        return bool(v)
    return str(v)


def read_rows(path, encoding: str) -> list[list[str]]:
    raw = path.read_bytes()
    text = raw.decode(encoding)  # strict
    return list(csv.reader(io.StringIO(text, newline="")))


def columns_of(name):
    return CONSENT_FILE.columns if name == "consent" else SOURCES[name].columns


def file_of(name):
    return "consent.csv" if name == "consent" else SOURCES[name].file


# ---------------------------------------------------------------- tests
def test_it_writes_every_contract_file_plus_consent(small_city):
    out, summary = small_city
    for name in ALL:
        assert (out / file_of(name)).is_file(), name
        assert summary["rows"][name] > 0, name
    for f in ("roster_links.csv", "rule_matches.csv", "dirt.json", "summary.json", "gaiji.csv"):
        assert (out / "_truth" / f).is_file()


@pytest.mark.parametrize("name", ALL)
def test_each_file_decodes_in_its_stated_encoding_with_contract_headers(small_city, name):
    out, _ = small_city
    path = out / file_of(name)
    raw = path.read_bytes()
    enc = FILE_ENCODINGS.get(name, "utf-8")
    if enc == "cp932":
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")  # so "try UTF-8, then CP932" detects it
        assert b"\r\n" in raw
    else:
        raw.decode("utf-8")
        assert raw.startswith(b"\xef\xbb\xbf") == (enc == "utf-8-sig")
    rows = read_rows(path, enc)
    assert rows[0] == [c.header for c in columns_of(name)]
    assert all(len(r) == len(rows[0]) for r in rows[1:])


def parse_row(cols, row: list[str]) -> list:
    """A CSV row → clean values; 学年 「N年」 is the year within the school its 学校名 names."""
    out = []
    for c, cell in zip(cols, row):
        m = re.fullmatch(r"([1-9])年", unicodedata.normalize("NFKC", cell)) if c.kind == "grade" else None
        if m:
            school = row[[x.field for x in cols].index("school_name")]
            assert school.endswith(("小学校", "中学校")), school
            out.append(int(m[1]) + (6 if school.endswith("中学校") else 0))
        else:
            out.append(parse(c, cell))
    return out


def _quarantine(out) -> pd.DataFrame:
    return pd.read_csv(out / "_truth" / "quarantine.csv", dtype={"value": str}, keep_default_na=False)


@pytest.mark.parametrize("name", ALL)
def test_every_cell_is_valid_and_parses_back_to_the_clean_value(small_city, name):
    """Every row but the listed invalid ones; those hold their invalid value in the listed column."""
    out, _ = small_city
    clean = load_clean(out)[name]
    cols = columns_of(name)
    rows = read_rows(out / file_of(name), FILE_ENCODINGS.get(name, "utf-8"))[1:]
    q = _quarantine(out)
    q = q[q["file"] == file_of(name)]
    headers = [c.header for c in cols]
    for line, column, value in zip(q["line"], q["column"], q["value"]):
        row = rows[line - 2]
        assert row[headers.index(column)] == value
        with pytest.raises((AssertionError, KeyError, ValueError)):
            parse(cols[headers.index(column)], value)
    invalid = set(q["line"] - 2)
    rows = [r for i, r in enumerate(rows) if i not in invalid]
    parsed = [parse_row(cols, r) for r in rows]
    # duplicates are exact repeats of the row before them
    dedup = []
    for r, p in zip(rows, parsed):
        if dedup and name in DUPLICATE_FILES and r == dedup[-1][0]:
            continue
        dedup.append((r, p))
    assert len(dedup) == len(clean)
    for j, c in enumerate(cols):
        want = [clean_value(v, c.kind) for v in clean[c.field].tolist()]
        got = [p[j] for _, p in dedup]
        if c.kind == "id":
            want = [None if w is None else unicodedata.normalize("NFKC", w) for w in want]
        bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
        assert not bad, (c.header, bad[:5])


def test_clean_frames_use_the_contract_field_names(small_city):
    out, _ = small_city
    for name, f in load_clean(out).items():
        assert list(f.columns) == [c.field for c in columns_of(name)], name


def test_resident_ids_are_digit_strings_with_leading_zeros_kept(small_city):
    out, _ = small_city
    rows = read_rows(out / "juminhyo.csv", "cp932")[1:]
    ids = [r[0] for r in rows]
    assert all(len(i) == 10 and i.isdigit() for i in ids)
    assert sum(i.startswith("0") for i in ids) > len(ids) / 10
    assert len(set(ids)) == len(ids)
    codes = {r[7] for r in rows}
    assert all(len(c) == 12 and c.startswith("272191") for c in codes)
    assert len(codes) > 150  # a few hundred 町字


def test_households_have_one_to_eight_members_and_realistic_shapes(small_city):
    out, summary = small_city
    j = load_clean(out)["juminhyo"]
    cur = j[j["removed_on"].isna()]
    sizes = cur.groupby("setai_no").size()
    assert sizes.min() >= 1 and sizes.max() <= 8
    assert 2.0 < sizes.mean() < 2.5
    heads = cur.groupby("setai_no")["relation"].apply(lambda r: (r == "世帯主").sum())
    assert (heads == 1).all()
    rel = set(cur["relation"])
    assert {"世帯主", "妻", "子", "母", "父", "孫", "子の妻", "同居人"} <= rel
    age = (pd.Timestamp("2026-11-01") - cur["birth_date"]).dt.days / 365.25
    assert 0.14 < (age < 18).mean() < 0.20
    assert 0.24 < (age >= 65).mean() < 0.32
    assert set(j["removal_reason"].dropna()) == {"転出", "死亡", "その他"}


@pytest.mark.parametrize("scale,tolerance", [("small", 0.12)])
def test_row_counts_follow_the_izumi_table_scaled(small_city, scale, tolerance):
    out, summary = small_city
    f = 20_000 / 185_000
    clean = load_clean(out)
    kinds = clean["shogai_techo"]["handbook_kind"].value_counts()
    got = dict(summary["rows"])
    got["juminhyo_current"] = summary["residents_current"]
    got["shogai_techo_physical"] = kinds["身体"]
    got["shogai_techo_mental"] = kinds["精神"]
    got["shogai_techo_intellectual"] = kinds["療育"]
    for key, izumi in IZUMI_TABLE.items():
        n = len(clean[key]) if key in clean else got[key]
        if key == "gakureibo":  # the table counts the pupils; the roster keeps past pupils besides
            n -= summary["roster_cases"]["past_pupil"]
        assert abs(n / (izumi * f) - 1) <= tolerance, (key, n, izumi * f)
    enrolled = len(clean["gakureibo"]) - summary["roster_cases"]["past_pupil"] - summary["roster_cases"]["moved_away"]
    assert summary["roster_cases"]["past_pupil"] / enrolled == pytest.approx(DIRT_RATES["gakureibo.past_pupil"],
                                                                             rel=0.05)
    consent_rate = DIRT_RATES["consent.rows_per_resident"]
    assert summary["rows"]["consent"] == pytest.approx(summary["residents_current"] * consent_rate, rel=0.05)


def test_tiny_is_about_300_residents_with_every_file(tiny_city):
    out, summary = tiny_city
    assert 280 <= summary["residents_current"] <= 330
    for name in ALL:
        assert (out / file_of(name)).is_file()
    assert summary["rows"]["gakureibo"] >= 10


@pytest.mark.parametrize("city", ["tiny_city", "small_city"])
def test_every_file_long_enough_has_rows_to_quarantine_at_every_scale(city, request):
    out, summary = request.getfixturevalue(city)
    q = _quarantine(out)
    for name in SPOILERS:
        n = summary["rows"][name]
        got = int((q["file"] == file_of(name)).sum())
        if n >= INVALID_MIN_ROWS:
            assert got == max(1, round(n * DIRT_RATES["invalid_rows"])), (name, n, got)
        else:
            assert got == 0, name
    assert (q["file"] == "consent.csv").any()                   # consent import quarantines them too
    assert not q.duplicated(["file", "line"]).any()


def test_every_invalid_text_is_invalid_under_the_contract():
    """Each text invalid.py can write fails an independent reading of the contract."""
    for name, spoilers in SPOILERS.items():
        cols = {c.field: c for c in columns_of(name)}
        for field, texts in spoilers:
            for text in texts:
                c = cols[field]
                if c.kind == "handbook_grade":  # 7級 fits no kind of handbook
                    assert not re.fullmatch(r"[1-6]級|A|B|A1|A2|B1|B2", text)
                    continue
                if c.kind == "grade":
                    assert text not in GRADES and not re.fullmatch(r"[1-9]|[1-9]年", text)
                    continue
                with pytest.raises((AssertionError, KeyError, ValueError)):
                    parse(c, text)


def test_the_docstring_states_every_rate():
    import notifier.synth as synth
    for key, value in DIRT_RATES.items():
        assert f"``{key}`` = {value:g}" in " ".join(synth.__doc__.split()), key


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path):
    def digest(d):
        return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(d.rglob("*")) if p.is_file()}
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate("tiny", 11, a)
    generate("tiny", 11, b)
    generate("tiny", 12, c)
    da, db, dc = digest(a), digest(b), digest(c)
    assert da == db
    assert da.keys() == dc.keys()
    assert da["juminhyo.csv"] != dc["juminhyo.csv"]


def test_truth_dates_after_the_export_date_are_refused(tmp_path):
    with pytest.raises(ValueError, match="after the export date"):
        generate("tiny", 1, tmp_path, [date(2026, 12, 1)])


def test_unknown_scale_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown scale"):
        generate("huge", 1, tmp_path)


# ---------------------------------------------------------------- dirt
def _dirt(out):
    return json.loads((out / "_truth" / "dirt.json").read_text(encoding="utf-8"))


def test_dirt_rates_are_stated_and_roughly_met(small_city):
    out, _ = small_city
    d = _dirt(out)
    assert d["rates"] == DIRT_RATES
    counts = d["counts"]
    clean = load_clean(out)
    n_dates = sum(int(f[c.field].notna().sum()) for n, f in clean.items() for c in columns_of(n) if c.kind == "date")
    assert counts["date.alt_format"] / n_dates == pytest.approx(DIRT_RATES["date.alt_format"], abs=0.01)
    n_res = len(clean["juminhyo"])
    for key in ("juminhyo.name_kana.halfwidth", "juminhyo.name_kana.hiragana"):
        assert counts[key] / n_res == pytest.approx(DIRT_RATES[key], rel=0.3)
    n_roster = len(clean["gakureibo"])
    for key in ("gakureibo.birth_date.blank", "gakureibo.name_kana.halfwidth", "gakureibo.name_kana.space"):
        assert counts[key] / n_roster == pytest.approx(DIRT_RATES[key], rel=0.4), key
    assert clean["gakureibo"]["birth_date"].isna().sum() == counts["gakureibo.birth_date.blank"]
    for name in DUPLICATE_FILES:
        assert counts[f"duplicate_rows.{name}"] > 0


def test_every_date_form_of_the_contract_appears(small_city):
    out, _ = small_city
    cells = []
    for name in ALL:
        rows = read_rows(out / file_of(name), FILE_ENCODINGS.get(name, "utf-8"))
        idx = [i for i, c in enumerate(columns_of(name)) if c.kind == "date"]
        cells += [r[i] for r in rows[1:] for i in idx]
    patterns = {
        "iso": r"\d{4}-\d{2}-\d{2}", "slash": r"\d{4}/\d{1,2}/\d{1,2}", "compact": r"\d{8}",
        "令和kanji": r"令和\d+年\d+月\d+日", "令和元年": r"令和元年\d+月\d+日", "平成kanji": r"平成\d+年\d+月\d+日",
        "昭和kanji": r"昭和\d+年\d+月\d+日", "R": r"R\d\.\d+\.\d+", "R0": r"R0\d\.\d\d\.\d\d",
        "H": r"H\d+\.\d+\.\d+", "S": r"S\d+\.\d+\.\d+",
    }
    for label, p in patterns.items():
        assert any(re.fullmatch(p, c) for c in cells), label


def test_kana_and_gaiji_dirt_is_present_and_cp932_encodable(small_city):
    out, _ = small_city
    rows = read_rows(out / "juminhyo.csv", "cp932")[1:]
    kana = [r[3] for r in rows]
    assert any(re.search(r"[ｦ-ﾟ]", k) for k in kana)           # half-width
    assert any(re.search(r"[ぁ-ゖ]", k) for k in kana)           # hiragana
    pua = lambda s: any("\ue000" <= ch <= "\ue757" for ch in s)  # noqa: E731
    assert any(pua(r[2]) for r in rows)                          # 外字 in names
    assert any(pua(r[8]) for r in rows)                          # and addresses
    roster = read_rows(out / "gakureibo.csv", "utf-8-sig")[1:]
    assert any(re.search(r"ー", r[1]) for r in roster)
    assert any(r[2] == "" for r in roster)
    assert any(r[3] in ("男", "女") for r in roster) and any(r[8].isdigit() for r in roster)
    assert any(re.fullmatch("[１-６]年", r[8]) for r in roster) and any(re.fullmatch("[1-3]年", r[8]) and
                                                                    r[7].endswith("中学校") for r in roster)
    rel = {r[6] for r in rows}
    assert rel & ORDINALS


def test_numbers_carry_commas_and_full_width_digits(small_city):
    out, _ = small_city
    rows = read_rows(out / "shiminzei.csv", "cp932")[1:]
    amounts = [r[2] for r in rows]
    assert any("," in a for a in amounts)
    assert any(re.search(r"[０-９]", a) for a in amounts)
    invalid = set(_quarantine(out).query("file == 'shiminzei.csv'")["line"] - 2)
    assert {r[5] for i, r in enumerate(rows) if i not in invalid} == {"課税", "均等割のみ", "非課税"}
    assert {r[6] for r in rows} == {"有", "無", ""}


def test_online_application_ids_are_one_per_applicant_in_an_unambiguous_alphabet(small_city):
    out, _ = small_city
    a = pd.read_csv(out / "online_shinsei.csv", dtype=str, keep_default_na=False)
    assert a["申請ID"].str.fullmatch(r"IZM-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}").all()
    person = a["申請者宛名番号"].map(lambda s: unicodedata.normalize("NFKC", s))
    assert (a.groupby(person)["申請ID"].nunique() == 1).all()
    assert (a.groupby("申請ID").apply(lambda g: person[g.index].nunique()) == 1).all()
    assert {"shugaku_enjo", "jido_fuyo_teate", "hitorioya_iryo", "home_helper", "kyufukin"} <= set(a["手続きコード"])
    assert (person.groupby(a["申請ID"]).size() > 1).any()  # several procedures per applicant


def test_consent_sample_is_valid(small_city):
    """Every row but the few made invalid on purpose (quarantine.csv)."""
    out, _ = small_city
    c = pd.read_csv(out / "consent.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    invalid = _quarantine(out).query("file == 'consent.csv'")["line"] - 2
    assert len(invalid)
    c = c.drop(index=invalid.to_numpy())
    j = load_clean(out)["juminhyo"]
    assert set(c["宛名番号"]) <= set(j["atena_no"])
    assert c["職員ID"].str.fullmatch(r"staff\d\d").all()
    assert set(c["種別"]) == {"同意", "撤回"}
    assert set(c["チャネル"]) <= {"窓口", "CSW"}
