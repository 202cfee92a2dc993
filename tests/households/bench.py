"""Time the household table and the default rules at Izumi scale on synthetic frames.

    .venv/bin/python -m tests.households.bench [--residents 185000] [--repeat 5]   (from the repository root)

Prints JSON: row counts, and the median / min / max seconds of build_household_table and of
evaluate (all shipped rules, with reasons and the reach-preview breakdown).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from notifier.eligibility.engine import evaluate
from notifier.eligibility.rules import load_rules
from notifier.households import build_household_table
from tests.households import synthetic

HERE = Path(__file__).resolve().parent


def timed(fn, repeat):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
                 "max_s": round(max(times), 3), "runs": repeat}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=185_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    sources, links, consents = synthetic.generate(residents=args.residents)
    gen = time.perf_counter() - t
    rules = load_rules(HERE.parents[1] / "eligibility_rules")
    table, build = timed(lambda: build_household_table(sources, links, synthetic.AS_OF), args.repeat)
    res, ev = timed(lambda: evaluate(rules, table, consents), args.repeat)
    _, ev_bare = timed(lambda: evaluate(rules, table, consents, reasons=False, breakdown=False),
                       args.repeat)
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine()},
        "rows": {k: len(v) for k, v in sources.items()} | {"links": len(links), "consents": len(consents)},
        "households": table.n, "residents": len(table.members), "generate_s": round(gen, 2),
        "build_household_table": build,
        "evaluate": ev | {"rules": len(rules), "matches": int(res.counts["matches"].sum())},
        "evaluate_without_reasons_and_breakdown": ev_bare,
        "per_rule": res.counts[["matches", "not_evaluated_no_tax_consent", "matches_with_notify"]]
        .to_dict("index"),
    }, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
