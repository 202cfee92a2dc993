"""Time the coordinators' worklist, case page and dashboard with 5,000 open cases on izumi data (issue 13).

A fresh database gets the izumi city through the operators' commands (`db upgrade`, `data import`,
`link run`, `consent import`, `rules load`, `eligibility run`: the dashboard's funnel and consent
uptake read those), then 5,000 open outreach cases for 5,000 current households, opened the way
follow-up opens them (one bulk insert, then `score_cases` with the real household table, so every case
has real priority points and signals). Then a signed-in coordinator requests, through the whole Flask
app, the worklist's first page, a filtered page deep in the list, the waiting-time sort, a case page and
the dashboard (the funnel, consent uptake, time to response and the month table);
each is timed `--runs` times and the median, min and max are printed as JSON (milliseconds).

    python benchmarks/worklist.py instance/izumi [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

AS_OF = date(2026, 11, 1)
N_CASES = 5000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("city", type=Path)
    ap.add_argument("--postgres")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    if args.postgres:
        import psycopg
        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = args.postgres.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp}/bench.sqlite3"
    env = {**os.environ, "DATABASE_URL": url, "NOTIFIER_ENV": "development"}
    notifier = str(Path(sys.executable).with_name("notifier"))
    repo = Path(__file__).resolve().parents[1]
    commands = [["db", "upgrade"], ["data", "import", str(args.city)], ["link", "run", "--as-of", str(AS_OF)]]
    if (args.city / "consent.csv").exists():
        commands.append(["consent", "import", str(args.city / "consent.csv")])
    commands += [["rules", "load", str(repo / "eligibility_rules"), "--activate"],
                 ["eligibility", "run", "--as-of", str(AS_OF)]]
    for argv in commands:
        subprocess.run([notifier, *argv], env=env, check=True, capture_output=True)

    import pandas as pd
    from sqlalchemy import select

    from notifier import bulk, clock, create_app
    from notifier.contract import OUTREACH_LEGAL_BASIS
    from notifier.eligibility.dao import dao_active_version
    from notifier.models import SOURCE_TABLES, OutreachCase
    from notifier.outreach.cases import household_table, score_cases
    from notifier.outreach.routes import suggest_routes
    from notifier.residents import current_condition
    from tests.factories import create_staff, sign_in

    app = create_app({"ENV": "test", "SECRET_KEY": "bench", "DATABASE_URL": url, "SERVER_NAME": "localhost"})
    maker = app.extensions["db_sessionmaker"]
    t0 = time.perf_counter()
    with maker() as s:
        jumin = SOURCE_TABLES["juminhyo"]
        households = sorted(set(s.scalars(select(jumin.c.setai_no).where(current_condition(jumin, AS_OF)))))
        chosen = households[:: max(1, len(households) // N_CASES)][:N_CASES]
        version = dao_active_version(s, "shugaku_enjo")
        table = household_table(s, AS_OF)
        routes = suggest_routes(table, chosen).set_index("setai_no")
        frame = pd.DataFrame({
            "open_key": [f"{h}|shugaku_enjo" for h in chosen], "setai_no": chosen, "rule_id": "shugaku_enjo",
            "rule_version_id": version.id, "route": routes["route"].reindex(chosen).fillna("csw").to_numpy(),
            "school_code": routes["school_code"].reindex(chosen).to_numpy(),
            "school_name": routes["school_name"].reindex(chosen).to_numpy(),
            "legal_basis": OUTREACH_LEGAL_BASIS, "status": "open", "priority_points": 0,
            "as_of": [str(date.fromordinal(AS_OF.toordinal() - i % 60)) for i in range(len(chosen))],
            "opened_at": pd.Timestamp(clock.now())})
        bulk.insert_frame(s.connection(), "outreach_cases", bulk.iso_dates(frame, {"opened_at"}))
        ids = pd.DataFrame(s.execute(select(OutreachCase.id, OutreachCase.setai_no)).all(), columns=["id", "setai_no"])
        score_cases(s, ids, AS_OF, table=table)
        coordinator = create_staff(s, "bench-coord", ["coordinator"])
        s.commit()
        setup_s = time.perf_counter() - t0
        client = app.test_client()
        sign_in(client, s, coordinator)
        case_id = int(ids["id"].iloc[len(ids) // 2])
    pages = {"worklist first page": "/outreach/", "filtered, page 20 (csw, waiting sort)":
             "/outreach/?route=csw&sort=waiting&page=20", "area prefix + minimum wait": "/outreach/?area=27&wait=30",
             "case page": f"/outreach/cases/{case_id}", "dashboard (funnel, uptake, months)": "/"}
    out = {"database": "postgresql" if args.postgres else "sqlite", "open_cases": len(ids),
           "setup_seconds (table + scoring)": round(setup_s, 1), "pages_ms": {}}
    for label, path in pages.items():
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            resp = client.get(path)
            times.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200, (path, resp.status_code)
        out["pages_ms"][label] = {"median": round(statistics.median(times), 1), "min": round(min(times), 1),
                                  "max": round(max(times), 1)}
    out["load_1min"] = os.getloadavg()[0]
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
