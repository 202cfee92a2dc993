"""Time the naive reference of the default rules (notifier/synth/reference.py).

    python benchmarks/naive_rules.py --scale small            # generate into a temp dir, then time
    python benchmarks/naive_rules.py --dir OUT                 # a generated city (its _truth/clean frames)

Prints JSON: seconds to index the frames and, per as-of date, to evaluate every household for both
tax modes (median of --repeat runs), plus the match counts. ``time_frames`` takes frames from anywhere
(e.g. loaded from the database with canonical field names) and a links frame (pupil_id, atena_no).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notifier.synth import DEFAULT_TRUTH_DATES, generate  # noqa: E402
from notifier.synth.reference import _Data, evaluate  # noqa: E402


def load_generated(out: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    frames = {p.stem: pd.read_parquet(p) for p in sorted((out / "_truth" / "clean").glob("*.parquet"))}
    links = pd.read_csv(out / "_truth" / "roster_links.csv", dtype=str, keep_default_na=False)
    return frames, links.rename(columns={"児童生徒番号": "pupil_id", "宛名番号": "atena_no"})


def time_frames(frames: dict[str, pd.DataFrame], links: pd.DataFrame, dates: list[date], repeat: int = 1) -> dict:
    index = []
    for _ in range(repeat):
        t = time.perf_counter()
        _Data(frames, links)
        index.append(time.perf_counter() - t)
    per_date = {}
    counts = {}
    for d in dates:
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            res = evaluate(frames, links, [d])
            runs.append(time.perf_counter() - t)
        per_date[d.isoformat()] = round(statistics.median(runs) - statistics.median(index), 3)
        counts[d.isoformat()] = {rule: {"with_tax": sum(all(c) for c in res[(d, True)][rule].values()),
                                        "without_tax": sum(all(c) for c in res[(d, False)][rule].values())}
                                 for rule in res[(d, True)]}
    households = frames["juminhyo"]["setai_no"].nunique()
    return {"index_seconds": round(statistics.median(index), 3), "evaluate_seconds": per_date,
            "setai_in_registry": households, "matches": counts, "repeat": repeat,
            "machine": f"{platform.machine()} {platform.python_version()}"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, help="a generated city")
    ap.add_argument("--scale", default="small")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--as-of", action="append", type=date.fromisoformat, dest="dates")
    args = ap.parse_args(argv)
    dates = args.dates or list(DEFAULT_TRUTH_DATES)
    if args.dir:
        frames, links = load_generated(args.dir)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="naive_rules_"))
        generate(args.scale, args.seed, tmp, dates)
        frames, links = load_generated(tmp)
    print(json.dumps(time_frames(frames, links, dates, args.repeat), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
