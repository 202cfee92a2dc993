"""A deliberately naive implementation of the three default rules: a Python loop over households that
filters whole source frames for each household (the pattern the engine exists to avoid).

    python benchmarks/naive_loop.py --dir instance/bench/small-11 [--as-of 2026-11-01]

Runs on the generator's clean frames (_truth/clean/*.parquet) and true links, checks that its matches
equal the vectorised engine's on the same frames, and prints both times and the ratio as JSON. Every
household is evaluated (no sampling), so use `small` (about 9,500 households) unless you have time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.naive_rules import load_generated  # noqa: E402


def _age(born, d: date) -> int:
    # 年齢計算ニ関スル法律: a year is reached on the day before the birthday.
    b = born.date() if hasattr(born, "date") else born
    eve = date(b.year, b.month, b.day) if not (b.month == 2 and b.day == 29) else date(b.year, 3, 1)
    years = d.year - b.year - ((d.month, d.day) < (eve.month, eve.day))
    nxt = eve.replace(year=b.year + years + 1) if not (eve.month == 3 and eve.day == 1 and b.month == 2) else None
    if nxt is not None and (nxt - pd.Timedelta(days=1).to_pytimedelta()) <= d:
        years += 1
    return years


def _active(rows: pd.DataFrame, start: str, end: str, d) -> pd.DataFrame:
    ts = pd.Timestamp(d)
    return rows[(rows[start] <= ts) & (rows[end].isna() | (rows[end] > ts))]


def naive_matches(f: dict[str, pd.DataFrame], links: pd.DataFrame, d: date, tax: bool) -> dict[str, set[str]]:
    ts = pd.Timestamp(d)
    fy = d.year if d.month >= 4 else d.year - 1
    jumin = f["juminhyo"]
    current = jumin[(jumin["resident_since"].isna() | (jumin["resident_since"] <= ts))
                    & (jumin["removed_on"].isna() | (jumin["removed_on"] > ts))]
    out = {"shugaku_enjo": set(), "hitorioya": set(), "home_helper": set()}
    for setai in current["setai_no"].unique():                       # the naive loop
        members = current[current["setai_no"] == setai]
        ids = set(members["atena_no"])
        ages = {r.atena_no: _age(r.birth_date, d) for r in members.itertuples()}
        jido = {a for a, r in zip(members["atena_no"], members.itertuples())
                if d <= date(r.birth_date.year + 18 + (1 if (r.birth_date.month, r.birth_date.day) > (4, 1) else 0), 3, 31)}
        pupils = links[links["atena_no"].isin(ids)]
        roster = f["gakureibo"][f["gakureibo"]["pupil_id"].isin(pupils["pupil_id"]) & f["gakureibo"]["grade"].between(1, 9)]
        enrolled = set(pupils[pupils["pupil_id"].isin(roster["pupil_id"])]["pupil_id"])
        hogo = _active(f["seikatsu_hogo"][f["seikatsu_hogo"]["atena_no"].isin(ids)], "start_on", "end_on", d)
        fuyo = f["jido_fuyo_teate"][f["jido_fuyo_teate"]["atena_no"].isin(ids)]
        fuyo = fuyo[(fuyo["certified_on"] <= ts) & (fuyo["lost_on"].isna() | (fuyo["lost_on"] > ts))]
        enjo = f["shugaku_enjo"][f["shugaku_enjo"]["pupil_id"].isin(enrolled)]
        enjo = enjo[(enjo["fiscal_year"] == fy) & (enjo["certified_on"] <= ts)
                    & (enjo["cancelled_on"].isna() | (enjo["cancelled_on"] > ts))]
        taxes = f["shiminzei"][f["shiminzei"]["atena_no"].isin(ids) & (f["shiminzei"]["tax_year"] <= fy)]
        latest = taxes.sort_values("tax_year").groupby("atena_no").tail(1)
        income = latest["total_income"].sum()
        exempt = len(latest) > 0 and (latest["tax_class"] == "非課税").all()
        income_ok = tax and (income <= 1_000_000 + 500_000 * len(members) or exempt)
        if enrolled and hogo.empty and enjo.empty and (income_ok or not fuyo.empty):
            out["shugaku_enjo"].add(setai)
        # also when the 世帯主 moved out and no new head is shown
        registry = (bool(jido & set(members[members["relation"] == "子"]["atena_no"]))
                    and not members["relation"].isin(["妻", "夫"]).any())
        tax_single = tax and bool(latest["hitorioya_deduction"].fillna(False).any())
        if jido and (registry or tax_single) and fuyo.empty:
            out["hitorioya"].add(setai)
        children = {a for a, age in ages.items() if 6 <= age <= 17}
        if children:
            hb = f["shogai_techo"][f["shogai_techo"]["atena_no"].isin(ids)]
            hb = hb[(hb["issued_on"] <= ts) & (hb["valid_until"].isna() | (hb["valid_until"] >= ts))
                    & (hb["returned_on"].isna() | (hb["returned_on"] > ts))]
            severe = set(hb[((hb["handbook_kind"] == "身体") & hb["grade"].isin(["1級", "2級"]))
                            | ((hb["handbook_kind"] == "精神") & hb["grade"].isin(["1級", "2級"]))
                            | ((hb["handbook_kind"] == "療育") & hb["grade"].isin(["A", "A1", "A2"]))]["atena_no"])
            care = _active(f["kaigo_nintei"][f["kaigo_nintei"]["atena_no"].isin(ids)], "start_on", "end_on", d)
            severe |= set(care[care["care_level"].isin(["要介護3", "要介護4", "要介護5"])]["atena_no"])
            svc = _active(f["shogai_service"][f["shogai_service"]["atena_no"].isin(ids)], "start_on", "end_on", d)
            first = ts.replace(day=1)
            claims = f["kaigo_service"][f["kaigo_service"]["atena_no"].isin(ids)]
            recent = claims[(claims["service_kind"] == "訪問介護") & (claims["service_month"] < first)
                            & (claims["service_month"] >= first - pd.DateOffset(months=3))]
            helped = svc["service_kind"].isin(["居宅介護", "重度訪問介護"]).any() or not recent.empty
            if any(severe - {c} for c in children) and not helped:
                out["home_helper"].add(setai)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 1))
    args = ap.parse_args(argv)
    frames, links = load_generated(args.dir)
    links = links[links["atena_no"] != ""]
    t = time.perf_counter()
    naive = {tax: naive_matches(frames, links, args.as_of, tax) for tax in (True, False)}
    naive_seconds = time.perf_counter() - t

    from notifier.config import REPO_ROOT
    from notifier.eligibility.engine import evaluate
    from notifier.eligibility.rules import load_rules
    from notifier.households import build_household_table
    sources = dict(frames)
    sources["juminhyo"] = frames["juminhyo"].assign(relation_norm=frames["juminhyo"]["relation"])
    rules = [r for r in load_rules(REPO_ROOT / "eligibility_rules") if r.id in ("shugaku_enjo", "hitorioya", "home_helper")]
    runs, engine = [], {}
    for _ in range(3):
        t = time.perf_counter()
        table = build_household_table(sources, links, args.as_of)
        idx = pd.Index(table.households.index.astype(str))
        for tax in (True, False):
            m = evaluate(rules, table, pd.DataFrame({"setai_no": idx, "notify": True, "tax": tax}), breakdown=False).matches
            engine[tax] = {rid: set(g["setai_no"]) for rid, g in m.groupby("rule_id")}
        runs.append(time.perf_counter() - t)
    same = {f"{rule}/{'tax' if tax else 'no_tax'}": naive[tax][rule] == engine[tax].get(rule, set())
            for tax in (True, False) for rule in naive[tax]}
    engine_seconds = statistics.median(runs)
    print(json.dumps({"households": int(frames["juminhyo"]["setai_no"].nunique()), "as_of": args.as_of.isoformat(),
                      "naive_loop_seconds": round(naive_seconds, 1), "engine_seconds": round(engine_seconds, 3),
                      "speedup": round(naive_seconds / engine_seconds, 1), "same_matches": same}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
