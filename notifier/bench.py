"""`notifier bench`: time the pipeline on a generated city, against the pandas read floor.

Two views, each run on an empty database (a temporary SQLite file, or a database created on the given
PostgreSQL server and dropped afterwards):

* **operators** (the figures that count): exactly the commands an operator or the scheduler runs, each
  as its own process — `db upgrade`, `data import`, `link run`, `consent import`, `rules load
  --activate`, `eligibility run` — with each command's wall time and peak memory (the child's
  `ru_maxrss`), their total, and the total's ratio to the floor;
* **in_process**: the same stages inside one process that keeps its frames (`jobs/batch.py`), stage by
  stage, beside them.

The floor is `pandas.read_csv(dtype=str)` of the same files with their encodings known, measured in
the same run. Medians of `--runs` runs are reported with every run's figures and the machine.
"""
from __future__ import annotations

import os
import platform
import resource
import statistics
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import pandas as pd

from notifier.config import INSTANCE_DIR
from notifier.contract import SOURCES

BENCH_AS_OF = date(2026, 11, 1)


def operator_commands(directory: Path, rules_dir: Path, as_of: date) -> list[tuple[str, list[str]]]:
    """The batch as cron or the scheduler runs it: one process per command, in this order."""
    day = as_of.isoformat()
    commands = [("db upgrade", ["db", "upgrade"]), ("data import", ["data", "import", str(directory)]),
                ("link run", ["link", "run", "--as-of", day])]
    if (directory / "consent.csv").exists():
        commands.append(("consent import", ["consent", "import", str(directory / "consent.csv")]))
    commands += [("rules load", ["rules", "load", str(rules_dir), "--activate"]),
                 ("eligibility run", ["eligibility", "run", "--as-of", day])]
    return commands


def run_command(args: list[str], env: dict) -> tuple[float, float, int, str]:
    """One `notifier` command as its own process: (wall seconds, peak RSS MiB, exit code, stderr tail)."""
    import shutil
    import subprocess
    import sys
    exe = shutil.which("notifier", path=str(Path(sys.executable).parent)) or "notifier"
    t = time.perf_counter()
    proc = subprocess.Popen([exe, *args, "--json"] if args[:2] != ["db", "upgrade"] else [exe, *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t
    # The child's own peak (RUSAGE_CHILDREN accumulates the maximum over every waited-for child).
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak, proc.returncode, (stderr or "")[-500:]


def operators_run(directory: Path, url: str, rules_dir: Path, as_of: date) -> dict:
    """Each command as its own process on a fresh database; per command wall time and peak memory."""
    import multiprocessing as mp
    env = {**os.environ, "NOTIFIER_ENV": "production", "DATABASE_URL": url}
    env.pop("SECRET_KEY", None)            # batch commands need none, even in production
    out = {}
    for label, args in operator_commands(directory, rules_dir, as_of):
        # A fresh interpreter per command measures its own peak: RUSAGE_CHILDREN is a running
        # maximum, so each command runs from a spawned helper process that reports it.
        ctx = mp.get_context("spawn")
        with ctx.Pool(1) as pool:
            wall, peak, code, err = pool.apply(run_command, (args, env))
        if code != 0 and label != "data import":
            raise RuntimeError(f"bench: `notifier {' '.join(args)}` failed ({code}): {err}")
        out[label] = {"seconds": round(wall, 3), "peak_mib": round(peak, 1), "exit": code}
    out["total"] = {"seconds": round(sum(v["seconds"] for v in out.values()), 3),
                    "peak_mib": max(v["peak_mib"] for v in out.values())}
    return out


def dataset(scale: str, seed: int) -> tuple[Path, float | None]:
    """The generated city for (scale, seed), made once and kept under instance/bench/."""
    out = INSTANCE_DIR / "bench" / f"{scale}-{seed}"
    if (out / "_truth" / "summary.json").exists():
        return out, None
    from notifier.synth import generate
    t = time.perf_counter()
    generate(scale, seed, out)
    return out, time.perf_counter() - t


def _encodings(directory: Path) -> dict[Path, str]:
    out = {}
    for source in SOURCES.values():
        path = directory / source.file
        if path.exists():
            try:
                path.read_bytes().decode("utf-8")
                out[path] = "utf-8-sig"
            except UnicodeDecodeError:
                out[path] = "cp932"
    return out


def read_floor(encodings: dict[Path, str]) -> float:
    """pandas merely reading the same CSVs as strings (encodings known beforehand)."""
    t = time.perf_counter()
    for path, enc in encodings.items():
        pd.read_csv(path, dtype=str, encoding=enc, keep_default_na=False)
    return time.perf_counter() - t


def _machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "pandas": pd.__version__, "platform": platform.platform()}


class _Database:
    """A fresh database for one run."""

    def __init__(self, postgres_admin_url: str | None):
        self.admin = postgres_admin_url
        self.name = f"notifier_bench_{uuid.uuid4().hex[:10]}"
        self.tmp = None

    def __enter__(self) -> str:
        if self.admin:
            import psycopg
            with psycopg.connect(self.admin.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            base = self.admin.rsplit("/", 1)[0]
            from notifier.config import normalise_database_url
            return normalise_database_url(f"{base}/{self.name}")
        self.tmp = tempfile.TemporaryDirectory(prefix="notifier-bench-")
        return f"sqlite:///{self.tmp.name}/bench.sqlite3"

    def __exit__(self, *exc) -> None:
        if self.admin:
            import psycopg
            with psycopg.connect(self.admin.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        elif self.tmp is not None:
            self.tmp.cleanup()


def one_run(directory: Path, url: str, rules_dir: Path, as_of: date) -> dict:
    from notifier import create_app, db, migrate
    from notifier.eligibility.engine import evaluate
    from notifier.households import build_household_table
    from notifier.ingest.load import load_sources
    from notifier.ingest.mapping import Mapping
    from notifier.jobs.batch import run_batch

    migrate.upgrade(url)
    app = create_app({"ENV": "test", "SECRET_KEY": "bench", "DATABASE_URL": url}, web=False)
    engine = app.extensions["db_engine"]
    with app.app_context():
        from notifier.eligibility.dao import active_rules, load_directory
        with db.transaction() as s:
            load_directory(s, rules_dir, actor="bench", activate=True, url_hosts=app.config["APPLICATION_URL_HOSTS"])
        t = time.perf_counter()
        batch = run_batch(engine, db.session(), directory, Mapping(), as_of, actor="bench")
        batch_seconds = time.perf_counter() - t
        if batch.imported.failed:
            raise RuntimeError(f"bench import failed: {batch.imported.as_dict()}")
        times = dict(batch.seconds)
        times["batch"] = batch_seconds
        sources, links, table, consents = batch.eligibility.frames
        # The pure household-table build on its own (the eligibility figure above includes the
        # links and consents queries and storing the matches).
        t = time.perf_counter()
        build_household_table(sources, links, as_of)
        times["household_table_build_only"] = time.perf_counter() - t
        rules = [r for _v, r in active_rules(db.session())]
        defaults = [r for r in rules if r.id in ("shugaku_enjo", "hitorioya", "home_helper")]
        t = time.perf_counter()
        evaluate(defaults, table, consents, breakdown=False)
        times["evaluate_three_defaults"] = time.perf_counter() - t
        # What reading every source back from the database costs a separate process.
        t = time.perf_counter()
        load_sources(engine)
        times["load_from_database"] = time.perf_counter() - t
    engine.dispose()
    evaluation = batch.eligibility.evaluation
    return {"seconds": {k: round(v, 3) for k, v in times.items()},
            "rows_imported": sum(f.rows_stored for f in batch.imported.files), "link": batch.link_counts.as_dict(),
            "households": batch.eligibility.households, "rules": len(rules),
            "matches": int(len(evaluation.matches)), "skipped_rules": batch.eligibility.skipped,
            "_frames": (sources, links, table), "_links_result": batch.link_result.links}


def compare_naive(sources: dict, links: pd.DataFrame, as_of: date) -> dict:
    """The naive per-household reference (benchmarks/naive_rules.py, notifier/synth/reference.py)
    against the engine, both computing the three default rules for one date with and without tax
    consent, both starting from the same loaded frames."""
    from notifier.config import REPO_ROOT
    from notifier.eligibility.engine import evaluate
    from notifier.eligibility.rules import load_rules
    from notifier.households import build_household_table
    from notifier.synth.reference import evaluate as naive_evaluate

    frames = dict(sources)
    frames["juminhyo"] = sources["juminhyo"].assign(relation=sources["juminhyo"]["relation_norm"])
    t = time.perf_counter()
    naive = naive_evaluate(frames, links, [as_of])
    naive_seconds = time.perf_counter() - t
    rules = [r for r in load_rules(REPO_ROOT / "eligibility_rules") if r.id in ("shugaku_enjo", "hitorioya", "home_helper")]
    engine_runs = []
    for _ in range(3):
        t = time.perf_counter()
        table = build_household_table(sources, links, as_of)
        idx = pd.Index(table.households.index.astype(str))
        got = {}
        for tax in (True, False):
            consents = pd.DataFrame({"setai_no": idx, "notify": True, "tax": tax})
            m = evaluate(rules, table, consents, breakdown=False).matches
            got[tax] = {rid: set(g["setai_no"]) for rid, g in m.groupby("rule_id")}
        engine_runs.append(time.perf_counter() - t)
    agree = all(got[tax].get(rule, set()) == {h for h, c in per.items() if all(c)}
                for tax in (True, False) for rule, per in naive[(as_of, tax)].items())
    engine_seconds = statistics.median(engine_runs)
    return {"naive_seconds": round(naive_seconds, 2), "engine_seconds": round(engine_seconds, 3),
            "speedup": round(naive_seconds / engine_seconds, 1), "same_matches": agree,
            "what": "three default rules, one date, with and without tax consent, household table included"}


def run_bench(scale: str, seed: int, runs: int, postgres: str | None, naive: bool,
              in_process: bool = True) -> dict:
    from notifier.config import REPO_ROOT
    directory, generated = dataset(scale, seed)
    rules_dir = REPO_ROOT / "eligibility_rules"
    floors, operators, results = [], [], []
    encodings = _encodings(directory)
    for _ in range(runs):
        floors.append(read_floor(encodings))
        with _Database(postgres) as url:
            operators.append(operators_run(directory, url, rules_dir, BENCH_AS_OF))
        if in_process:
            with _Database(postgres) as url:
                results.append(one_run(directory, url, rules_dir, BENCH_AS_OF))
    floor = round(statistics.median(floors), 3)
    op_median = {label: {k: round(statistics.median(r[label][k] for r in operators), 3)
                         for k in ("seconds", "peak_mib")} for label in operators[0]}
    report = {
        "scale": scale, "seed": seed, "runs": runs, "database": "postgresql" if postgres else "sqlite",
        "as_of": BENCH_AS_OF.isoformat(), "machine": _machine(),
        "generated_seconds": None if generated is None else round(generated, 1),
        "read_floor_seconds": floor,
        "operators": {"median": op_median,
                      "ratio_to_floor": round(op_median["total"]["seconds"] / floor, 2),
                      "what": "each command its own process on a fresh database, NOTIFIER_ENV=production",
                      "all_runs": operators},
    }
    if results:
        stages = results[0]["seconds"].keys()
        median = {k: round(statistics.median(r["seconds"][k] for r in results), 3) for k in stages}
        report["in_process"] = {
            "rows_imported": results[0]["rows_imported"], "households": results[0]["households"],
            "rules": results[0]["rules"], "matches": results[0]["matches"], "link": results[0]["link"],
            "skipped_rules": results[0]["skipped_rules"], "median_seconds": median,
            "ratios_to_floor": {"import_plus_link": round((median["import"] + median["link"]) / floor, 2),
                                "batch": round(median["batch"] / floor, 2)},
            "all_runs": [{"floor": round(f, 3), **r["seconds"]} for f, r in zip(floors, results)],
        }
        truth = directory / "_truth" / "roster_links.csv"
        if truth.exists():
            from notifier.linkage.evaluate import confusion
            report["link_quality"] = confusion(results[-1]["_links_result"], pd.read_csv(truth, dtype=str))
        if naive:
            sources, links, _table = results[-1]["_frames"]
            report["naive"] = compare_naive(sources, links, BENCH_AS_OF)
    report["peak_memory_mib_in_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return report
