"""`notifier bench --dispatch`: dispatch throughput against the LINE simulator on a generated city.

Per database (a temporary SQLite file, or a database created on the given PostgreSQL server and
dropped afterwards), once:

1. the operators' batch, each command its own process (`bench.operators_run`: db upgrade, data
   import, link run, consent import, rules load --activate, eligibility run);
2. `notifier templates load templates/messages --activate`;
3. LINE accounts for the residents who hold `notify` consent, linked and following, written the way
   the webhook's link flow records them (one bulk insert: driving tens of thousands of webhook
   events through the app is not what this measures);
4. `notifier notify enqueue --as-of D`: the real enqueue, so the queue is izumi's eligible, consented,
   linked households with the messages and retry keys the app makes.

Then per run, for 1 and 2 dispatcher processes: every delivery back to `queued` with its own retry key
(a bench-only reset: status, attempts and claim columns), a fresh simulator as its own process
(`notifier line-sim --server gunicorn`, one worker, every body validated against LINE's spec) with
those users as friends, and the dispatchers started together as operators run them (`notifier notify
dispatch --now … --json`, PUSH_RATE_PER_SECOND=0, QUIET_HOURS=off) under `/usr/bin/time -v`.
Deliveries/s = deliveries sent / wall time from starting the processes until the last one exits
(interpreter start-up included); `in_run_per_second` leaves start-up out (sent / the dispatcher's own
`seconds`). Each run is checked: every delivery `sent`, the simulator accepted exactly one push per
retry key and no other push.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from notifier.bench import BENCH_AS_OF, _Database, _machine, dataset, operators_run

TOKEN = "bench-access-token"
DISPATCH_AT = f"{BENCH_AS_OF.isoformat()} 10:00"     # JST, inside sending hours


def _exe() -> str:
    return shutil.which("notifier", path=str(Path(sys.executable).parent)) or "notifier"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(url: str, **extra) -> dict:
    env = {**os.environ, "NOTIFIER_ENV": "production", "DATABASE_URL": url, "SECRET_KEY": "bench-secret-key",
           "QUIET_HOURS": "off", "PUSH_RATE_PER_SECOND": "0", "LINE_CHANNEL_ACCESS_TOKEN": TOKEN}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _run(args: list[str], env: dict) -> str:
    proc = subprocess.run([_exe(), *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"bench: `notifier {' '.join(args)}` failed ({proc.returncode}): {proc.stderr[-800:]}")
    return proc.stdout


def link_consenting_residents(url: str) -> int:
    """A linked, following LINE account for every current resident holding `notify` (bulk)."""
    import pandas as pd
    from sqlalchemy import create_engine, select

    from notifier import bulk, clock
    from notifier.consent.state import person_state
    from notifier.models import SOURCE_TABLES, ConsentEvent
    from notifier.residents import current_condition

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            events = pd.DataFrame(conn.execute(select(ConsentEvent.id, ConsentEvent.atena_no, ConsentEvent.scope,
                                                      ConsentEvent.action, ConsentEvent.occurred_at)).all(),
                                  columns=["id", "atena_no", "scope", "action", "occurred_at"])
            state = person_state(events)
            notify = set(state.index[state["notify"]])
            jumin = SOURCE_TABLES["juminhyo"]
            current = set(conn.execute(select(jumin.c.atena_no).where(current_condition(jumin, BENCH_AS_OF)))
                          .scalars())
            atena = sorted(notify & current)
            now = clock.now()
            frame = pd.DataFrame({"line_user_id": ["U" + uuid.uuid4().hex for _ in atena], "atena_no": atena,
                                  "linked_at": now, "link_channel": "LINE", "reachable": True, "followed_at": now,
                                  "created_at": now})
            for c in ("linked_at", "followed_at", "created_at"):
                frame[c] = pd.to_datetime(frame[c])
            bulk.insert_frame(conn, "line_accounts", bulk.iso_dates(frame, {"linked_at", "followed_at", "created_at"}))
        return len(atena)
    finally:
        engine.dispose()


def _reset_queue(url: str) -> list[tuple[str, str]]:
    """Every delivery queued again (same retry key, no attempt); returns (line_user_id, retry_key)."""
    from sqlalchemy import create_engine, select

    from notifier.models import Delivery, LineAccount
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(Delivery.__table__.update().values(
                status="queued", attempts=0, next_attempt_at=None, claimed_by=None, claimed_at=None,
                first_attempt_at=None, last_attempt_at=None, sent_at=None, line_request_id=None,
                error_status=None, error_message=None, cancel_reason=None))
            return [tuple(r) for r in conn.execute(
                select(LineAccount.line_user_id, Delivery.retry_key)
                .join(LineAccount, LineAccount.id == Delivery.line_account_id)).all()]
    finally:
        engine.dispose()


def _statuses(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, func, select

    from notifier.models import Delivery
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    finally:
        engine.dispose()


class _Simulator:
    """`notifier line-sim --server gunicorn` as its own process, with the queue's users as friends."""

    def __init__(self, users: list[str], threads: int):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.users = users
        self.threads = threads

    def __enter__(self) -> _Simulator:
        import requests
        env = {**os.environ, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN}
        self.proc = subprocess.Popen([_exe(), "line-sim", "--port", str(self.port), "--server", "gunicorn",
                                      "--threads", str(self.threads)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(200):
            try:
                if requests.get(f"{self.url}/_sim/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise RuntimeError("bench: the simulator did not start")
        for i in range(0, len(self.users), 5000):
            r = requests.post(f"{self.url}/_sim/users", timeout=60,
                              json={"users": [{"user_id": u, "display_name": "利用者"} for u in self.users[i:i + 5000]]})
            r.raise_for_status()
        return self

    def pushes(self) -> dict[int, int]:
        """Push answers by status (the simulator's request log)."""
        import requests
        out = {}
        for status in (200, 409, 400, 429, 500):
            out[status] = requests.get(f"{self.url}/_sim/requests", params={"path": "/v2/bot/message/push",
                                                                             "status": status}, timeout=30).json()["count"]
        return out

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_MAXRSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def dispatch_run(url: str, processes: int, threads: int, sim_threads: int) -> dict:
    pairs = _reset_queue(url)
    users = sorted({u for u, _k in pairs})
    with _Simulator(users, sim_threads) as sim:
        env = _env(url, LINE_API_BASE_URL=sim.url, DISPATCH_THREADS=threads)
        timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
        t = time.perf_counter()
        procs = [subprocess.Popen([*timer, _exe(), "notify", "dispatch", "--now", DISPATCH_AT, "--json"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(processes)]
        outs = [p.communicate() for p in procs]
        wall = time.perf_counter() - t
        for p, (_out, err) in zip(procs, outs, strict=True):
            if p.returncode != 0:
                raise RuntimeError(f"bench: a dispatcher failed ({p.returncode}): {err[-800:]}")
        results = [json.loads(out) for out, _err in outs]
        peaks = [int(m.group(1)) / 1024 for _o, err in outs if (m := _MAXRSS.search(err))]
        pushes = sim.pushes()
    statuses = _statuses(url)
    sent = sum(r["sent"] for r in results)
    ok = (statuses == {"sent": len(pairs)} and sent == len(pairs) and pushes[200] == len(pairs)
          and sum(pushes.values()) == len(pairs))
    if not ok:
        raise RuntimeError(f"bench: not every delivery went exactly once: statuses {statuses}, pushes {pushes}, "
                           f"sent {sent} of {len(pairs)}")
    return {"deliveries": len(pairs), "sent": sent, "wall_seconds": round(wall, 2),
            "per_second": round(sent / wall, 1),
            "in_run_per_second": round(sent / max(r["seconds"] for r in results), 1),
            "sent_by_process": [r["sent"] for r in results],
            "peak_mib_per_process": [round(p, 1) for p in peaks]}


def prepare(directory: Path, url: str, rules_dir: Path, templates_dir: Path) -> dict:
    t = time.perf_counter()
    operators = operators_run(directory, url, rules_dir, BENCH_AS_OF)
    env = _env(url)
    _run(["templates", "load", str(templates_dir), "--activate", "--json"], env)
    linked = link_consenting_residents(url)
    enqueued = json.loads(_run(["notify", "enqueue", "--as-of", BENCH_AS_OF.isoformat(), "--json"], env))
    return {"operators_seconds": operators["total"]["seconds"], "linked_accounts": linked,
            "notices": enqueued["notices"], "deliveries": enqueued["deliveries"],
            "no_account_households": enqueued["no_account"], "seconds": round(time.perf_counter() - t, 1)}


def run_dispatch_bench(scale: str, seed: int, runs: int, postgres: str | None, *, processes=(1, 2),
                       threads: int = 8, sim_threads: int = 8) -> dict:
    from notifier.config import REPO_ROOT
    directory, generated = dataset(scale, seed)
    report = {"scale": scale, "seed": seed, "runs": runs, "database": "postgresql" if postgres else "sqlite",
              "as_of": BENCH_AS_OF.isoformat(), "machine": _machine(), "dispatch_threads": threads,
              "simulator": f"notifier line-sim --server gunicorn (1 worker, {sim_threads} threads)",
              "generated_seconds": None if generated is None else round(generated, 1)}
    with _Database(postgres) as url:
        report["queue"] = prepare(directory, url, REPO_ROOT / "eligibility_rules", REPO_ROOT / "templates" / "messages")
        if not report["queue"]["deliveries"]:
            raise RuntimeError("bench: enqueue made no deliveries")
        for n in processes:
            all_runs = [dispatch_run(url, n, threads, sim_threads) for _ in range(runs)]
            report[f"processes_{n}"] = {
                "median_per_second": statistics.median(r["per_second"] for r in all_runs),
                "median_in_run_per_second": statistics.median(r["in_run_per_second"] for r in all_runs),
                "median_wall_seconds": statistics.median(r["wall_seconds"] for r in all_runs),
                "peak_mib_per_process": max((p for r in all_runs for p in r["peak_mib_per_process"]), default=None),
                "all_runs": all_runs}
    return report
