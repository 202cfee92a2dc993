"""Write the synthetic city as the city would export it: contract headers, dirt, encodings, truth files."""
from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from notifier.contract import CONSENT_FILE, GRADES, SOURCES, Column

from . import dirt, names
from .city import City, _stream

GRADE_NAMES = np.array(("",) + GRADES, dtype=object)
_FW_ALNUM = str.maketrans("0123456789AB", "０１２３４５６７８９ＡＢ")


def columns_of(name: str) -> tuple[Column, ...]:
    return CONSENT_FILE.columns if name == "consent" else SOURCES[name].columns


def file_of(name: str) -> str:
    return "consent.csv" if name == "consent" else SOURCES[name].file


def _strings(v: pd.Series) -> np.ndarray:
    """Text column → object array of str ('' for missing)."""
    if v.dtype.kind in "iufb":
        return v.astype(str).to_numpy(dtype=object)
    return v.to_numpy(dtype=object, na_value="")


class _Renderer:
    def __init__(self, rng: np.random.Generator, counts: dict[str, int]):
        self.rng = rng
        self.counts = counts

    def _pick(self, key: str, eligible: np.ndarray) -> np.ndarray:
        sel = eligible & (self.rng.random(len(eligible)) < dirt.rate(key))
        self.counts[key] = self.counts.get(key, 0) + int(sel.sum())
        return sel

    def column(self, name: str, col: Column, v: pd.Series, frame: pd.DataFrame) -> np.ndarray:
        kind = col.kind
        n = len(v)
        if kind == "date":
            d = v.to_numpy().astype("datetime64[D]")
            out = dirt.iso_dates(pd.Series(v.to_numpy().astype("datetime64[s]"))).to_numpy(dtype=object)
            sel = self._pick("date.alt_format", ~np.isnat(d))
            forms = np.array(dirt.DATE_FORMS)[self.rng.integers(0, len(dirt.DATE_FORMS), n)]
            if sel.any():
                out[sel] = dirt.format_dates(d[sel], forms[sel])
            return out
        if kind == "month":
            d = v.to_numpy().astype("datetime64[D]")
            out = pd.Series(v.to_numpy().astype("datetime64[s]")).dt.strftime("%Y-%m").to_numpy(dtype=object)
            sel = self._pick("month.alt_format", ~np.isnat(d))
            forms = np.where(self.rng.random(n) < 0.5, "compact", "era")
            if sel.any():
                out[sel] = dirt.format_months(d[sel], forms[sel])
            return out
        if kind == "datetime":
            return pd.Series(v.to_numpy().astype("datetime64[s]")).dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object)
        if kind == "fy":
            y = v.to_numpy().astype(np.int64)
            out = y.astype(str).astype(object)
            sel = self._pick("fy.era", np.ones(n, dtype=bool))
            if sel.any():
                out[sel] = dirt.fy_era(y[sel], self.rng.random(sel.sum()) < 0.5)
            return out
        if kind == "int":
            isna = v.isna().to_numpy()
            vals = np.where(isna, 0, v.fillna(0).to_numpy()).astype(np.int64)
            out = np.where(isna, "", vals.astype(str)).astype(object)
            sel = self._pick("number.comma", ~isna & (vals >= 1000))
            if sel.any():
                out[sel] = dirt.comma(vals[sel])
            sel = self._pick("number.fullwidth", ~isna)
            if sel.any():
                out[sel] = dirt.fullwidth_digits(out[sel])
            return out
        if kind == "sex":
            s = v.to_numpy().astype(np.int64)
            out = s.astype(str).astype(object)
            if name == "gakureibo":
                sel = self._pick("sex.kanji", np.ones(n, dtype=bool))
                out[sel] = np.where(s[sel] == 1, "男", "女")
            return out
        if kind == "grade":
            g = v.to_numpy().astype(np.int64)
            out = GRADE_NAMES[g].copy()
            sel = self._pick("grade.numeric", np.ones(n, dtype=bool))
            out[sel] = g[sel].astype(str)
            # the year within the school: the generated schools are 小学校 (1–6) and 中学校 (7–9)
            sel = self._pick("grade.school_year", ~sel)
            year = dirt._join(np.where(g > 6, g - 6, g), "年")
            wide = self.rng.random(n) < 0.5
            out[sel] = np.where(wide[sel], dirt.fullwidth_digits(year[sel]), year[sel])
            return out
        if kind == "relation":
            out = _strings(v)
            alt = frame["_relation_alt"].to_numpy(dtype=object) if "_relation_alt" in frame else None
            if alt is not None:
                sel = self._pick("relation.ordinal", (out == "子") & (alt != ""))
                out[sel] = alt[sel]
            return out
        if kind == "handbook_grade":
            out = _strings(v)
            sel = self._pick("handbook_grade.fullwidth", np.ones(n, dtype=bool))
            out[sel] = [s.translate(_FW_ALNUM) for s in out[sel]]
            return out
        if kind == "flag":
            b = v.fillna(False).to_numpy().astype(bool)
            out = np.where(b, "有", "無").astype(object)
            sel = self._pick("flag.blank_for_no", ~b)
            out[sel] = ""
            return out
        out = _strings(v)
        if kind == "id" and name in dirt.FULLWIDTH_ID_FILES and col.field == "atena_no":
            sel = self._pick("id.fullwidth", out != "")
            if sel.any():
                out[sel] = dirt.fullwidth_digits(out[sel])
        return out

    def frame(self, name: str, clean: pd.DataFrame, held: pd.DataFrame | None = None
              ) -> tuple[list[str], list[np.ndarray], pd.DataFrame]:
        """(headers, rendered columns, invalid cells) of one file: the held-back rows back at their
        place with their invalid cell, and the duplicate rows in place. Invalid cells: line, column,
        value (line 1 is the header)."""
        cols = columns_of(name)
        n_held = 0 if held is None else len(held)
        rows = clean
        if n_held:
            at = held["_pos"].to_numpy()
            place = np.concatenate([np.setdiff1d(np.arange(len(clean) + n_held), at), at])
            rows = pd.concat([clean, held[clean.columns]], ignore_index=True).iloc[np.argsort(place, kind="stable")]
            rows = rows.reset_index(drop=True)
        data = [np.array(self.column(name, c, rows[c.field], rows), dtype=object) for c in cols]
        spoiled = np.zeros(len(rows), dtype=bool)
        if n_held:
            spoiled[at] = True
            header_of = {c.field: i for i, c in enumerate(cols)}
            for field, group in held.groupby("_field"):
                data[header_of[field]][group["_pos"].to_numpy()] = group["_text"].to_numpy()
        order = np.arange(len(rows))
        if name in dirt.DUPLICATE_FILES and len(rows):
            dup = (self.rng.random(len(rows)) < dirt.rate("duplicate_rows")) & ~spoiled
            self.counts[f"duplicate_rows.{name}"] = int(dup.sum())
            order = np.sort(np.concatenate([order, np.flatnonzero(dup)]), kind="stable")
            data = [d[order] for d in data]
        bad = pd.DataFrame(columns=["line", "column", "value"])
        if n_held:
            by_field = {c.field: c.header for c in cols}
            held = held.sort_values("_pos")
            bad = pd.DataFrame({"line": np.searchsorted(order, held["_pos"].to_numpy()) + 2,
                                "column": held["_field"].map(by_field).to_numpy(), "value": held["_text"].to_numpy()})
        return [c.header for c in cols], data, bad


def write_csv(headers: list[str], columns: list[np.ndarray], path: Path, encoding: str) -> None:
    # CP932 files come from Windows-era systems: CRLF; an unencodable character is an error here
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if encoding == "cp932" else "\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(headers)
    w.writerows(zip(*columns))
    path.write_bytes(buf.getvalue().encode(encoding, errors="strict"))


def write_city(city: City, out: Path, truth: dict, seconds: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    tdir = out / "_truth"
    (tdir / "clean").mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    r = _Renderer(_stream(city.seed, "render"), counts)
    rows = {}
    quarantine = []
    for name in list(SOURCES) + ["consent"]:
        clean = city.frames[name]
        headers, columns, bad = r.frame(name, clean, city.held.get(name))
        enc = dirt.FILE_ENCODINGS.get(name, dirt.DEFAULT_ENCODING)
        write_csv(headers, columns, out / file_of(name), enc)
        rows[name] = len(columns[0])
        quarantine.append(bad.assign(file=file_of(name)))
        clean[[c.field for c in columns_of(name)]].to_parquet(tdir / "clean" / f"{name}.parquet", index=False)
    quarantine = pd.concat(quarantine, ignore_index=True)[["file", "line", "column", "value"]]
    quarantine.to_csv(tdir / "quarantine.csv", index=False, lineterminator="\n")

    links = city.links.rename(columns={"pupil_id": "児童生徒番号", "atena_no": "宛名番号"})
    links.to_csv(tdir / "roster_links.csv", index=False, lineterminator="\n")
    matches = truth["matches"]
    matches.to_csv(tdir / "rule_matches.csv", index=False, lineterminator="\n")
    pd.DataFrame({"外字": list(names.GAIJI), "code_point": [f"U+{ord(c):04X}" for c in names.GAIJI],
                  "標準字": list(names.GAIJI.values())}).to_csv(tdir / "gaiji.csv", index=False, lineterminator="\n")
    all_counts = dict(sorted({**city.content_dirt, **counts}.items()))
    (tdir / "dirt.json").write_text(json.dumps({
        "rates": dirt.DIRT_RATES,
        "counts": all_counts,
        "encodings": {file_of(n): dirt.FILE_ENCODINGS.get(n, dirt.DEFAULT_ENCODING) for n in list(SOURCES) + ["consent"]},
        "duplicate_files": list(dirt.DUPLICATE_FILES),
        "fullwidth_id_files": list(dirt.FULLWIDTH_ID_FILES),
    }, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    summary = {
        "scale": city.scale, "seed": city.seed, "as_of": city.as_of.isoformat(),
        "truth_dates": [d.isoformat() for d in truth["dates"]],
        "residents_current": int(city.people["removed_on"].isna().sum()),
        "households_current": int((~city.households["removed"]).sum()),
        "rows": rows,
        "quarantine_rows": {k: int(v) for k, v in quarantine["file"].value_counts().sort_index().items()},
        "roster_cases": {k: int(v) for k, v in city.links["case"].value_counts().sort_index().items()},
        "rule_matches": truth["counts"],
    }
    # timings are not part of the files (they would break byte-identical output)
    (tdir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    summary["seconds"] = seconds
    return summary


def truth_matches(city: City, dates: list[date]) -> dict:
    """rule_matches.csv rows and per-date counts, from the naive reference on the clean frames."""
    from .reference import evaluate
    links = city.links[["pupil_id", "atena_no"]]
    res = evaluate(city.frames, links, dates)
    rows = []
    counts = {}
    for d in dates:
        w, wo = res[(d, True)], res[(d, False)]
        counts[d.isoformat()] = {}
        for rule in w:
            mw = {h for h, c in w[rule].items() if all(c)}
            mo = {h for h, c in wo[rule].items() if all(c)}
            counts[d.isoformat()][rule] = {"with_tax": len(mw), "without_tax": len(mo)}
            for h in sorted(mw | mo):
                rows.append((d.isoformat(), rule, h, int(h in mw), int(h in mo)))
    df = pd.DataFrame(rows, columns=["as_of", "rule_id", "世帯番号", "match_with_tax", "match_without_tax"])
    return {"matches": df, "counts": counts, "dates": dates, "clauses": res}
