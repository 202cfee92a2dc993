"""Time `db upgrade`, `data import DIR` and `link run` the way operators run them.

Each run starts from a fresh database (a new SQLite file, or a new database on the PostgreSQL server
given by --postgres) and runs each command as its own process under `/usr/bin/time -v`, which gives
the wall time and the peak resident memory of that process. The pandas read floor
(`pd.read_csv(dtype=str)` of the same files, encodings known) is measured in the same session.
Prints JSON: per command the median, min and max of wall seconds and peak MiB, and the machine load.

    python benchmarks/operator_commands.py instance/izumi --runs 3 [--postgres postgresql://postgres@127.0.0.1:5432/test]
        [--notifier A/.venv/bin/notifier --notifier B/.venv/bin/notifier]

With several --notifier (e.g. the code before and after a change) the runs interleave, A B A B …,
so that a machine shared with others slows both alike; each gets its own figures.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

COMMANDS = (("db upgrade", ["db", "upgrade"]), ("data import", ["data", "import", "{dir}"]),
            ("link run", ["link", "run", "--as-of", "2026-11-01"]))


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak MiB) of one process, from /usr/bin/time -v."""
    proc = subprocess.run(["/usr/bin/time", "-v", *argv], env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr)[1]
    seconds = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)[1])
    return seconds, peak_kb / 1024


def read_floor(directory: Path) -> float:
    import pandas as pd
    t = time.perf_counter()
    for path in sorted(directory.glob("*.csv")):
        if path.name == "consent.csv":
            continue  # not a source snapshot: `data import` does not read it
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
            enc = "utf-8-sig"
        except UnicodeDecodeError:
            enc = "cp932"
        pd.read_csv(path, dtype=str, encoding=enc, keep_default_na=False)
    return time.perf_counter() - t


def _pg(admin: str, sql: str) -> None:
    import psycopg
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("directory", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--postgres", help="admin URL of a PostgreSQL server; a database is created per run")
    ap.add_argument("--notifier", action="append", help="the notifier command (repeat to compare)")
    args = ap.parse_args()
    notifiers = args.notifier or [str(Path(sys.executable).with_name("notifier"))]
    figures = {n: {name: [] for name, _ in COMMANDS} for n in notifiers}
    loads = [os.getloadavg()[0]]
    for notifier in [n for _ in range(args.runs) for n in notifiers]:
        with tempfile.TemporaryDirectory() as tmp:
            if args.postgres:
                name = f"notifier_opbench_{uuid.uuid4().hex[:8]}"
                _pg(args.postgres, f'CREATE DATABASE "{name}"')
                url = args.postgres.rsplit("/", 1)[0] + "/" + name
            else:
                url = f"sqlite:///{tmp}/bench.sqlite3"
            env = {**os.environ, "NOTIFIER_ENV": "development", "DATABASE_URL": url}
            try:
                for label, argv in COMMANDS:
                    figures[notifier][label].append(timed([notifier, *[a.format(dir=args.directory) for a in argv]], env))
            finally:
                if args.postgres:
                    _pg(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        loads.append(os.getloadavg()[0])
    floors = [read_floor(args.directory) for _ in range(args.runs)]

    def stats(values: list[float]) -> dict:
        return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
                "max": round(max(values), 2)}
    out = {"database": "postgresql" if args.postgres else "sqlite", "runs": args.runs,
           "load_1min": [round(x, 2) for x in loads], "cpus": os.cpu_count(), "read_floor_s": stats(floors),
           "commands": {n: {k: {"wall_s": stats([w for w, _ in v]), "peak_mib": stats([m for _, m in v])}
                            for k, v in per.items()} for n, per in figures.items()}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
