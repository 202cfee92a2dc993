"""Load-test POST /line/webhook under gunicorn with wrk, on loopback only; prints JSON.

    python benchmarks/webhook_load.py                                   # SQLite, 3 runs of 30 s
    python benchmarks/webhook_load.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/webhook_load.py --runs 1 --duration 10 --no-sqlite --postgres ADMIN_URL

Each run, from scratch: a fresh database (a SQLite file in a temp dir, or a PostgreSQL database
created with --postgres ADMIN_URL and dropped afterwards), `notifier db upgrade`, the LINE simulator
(notifier.line.sim, the same code as `notifier line-sim`) on a free 127.0.0.1 port, and the service
under gunicorn (`notifier serve`: 2 workers x 4 threads by default) with NOTIFIER_ENV=production and
LINE_API_BASE_URL pointing at the simulator. Then:

1. N distinct signed webhook bodies are generated (one event each: follow or text message, a
   ULID-like webhookEventId, userIds spread over --users users, a reply token the simulator issued;
   ~2 % are redeliveries of an earlier body: same webhookEventId, isRedelivery true);
2. a short wrk warm-up on its own bodies, then wait until the backlog is processed;
3. wrk for --duration seconds at --connections connections (wrk's --timeout is 10 s so slow answers
   stay in the latency distribution instead of being dropped as timeouts);
4. checks on the database: every webhookEventId recorded exactly once; the ids wrk had in flight when
   it stopped are found and re-sent, after which the row count must equal the number of distinct ids
   sent; how many events were processed when wrk stopped, 5 s later, and when the backlog drained;
5. everything is stopped (gunicorn by SIGTERM, the simulator, the database dropped).

The service's own stdout/stderr go to files in the run's temp dir (--keep to look at them).
Bounded: wrk stops itself after --duration; every wait has a timeout; only 127.0.0.1 is contacted
(and the PostgreSQL server named by --postgres).
"""
from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import json
import logging
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from notifier.line.sim.app import create_sim_app, serve_in_thread  # noqa: E402
from notifier.line.sim.signing import ulid  # noqa: E402
from notifier.models import WebhookEvent  # noqa: E402

LUA = Path(__file__).with_suffix(".lua")
SECRET = "load-test-channel-secret"
TOKEN = "load-test-access-token"
HOST = "127.0.0.1"
TEXTS = ["こんにちは", "使い方を教えてください", "児童手当について", "ありがとう", "help", "お知らせは届きますか",
         "申請の期限はいつですか", "了解です"]


# --- request bodies -------------------------------------------------------------------------------
def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def make_event(rng: random.Random, user_id: str, reply_token: str, ts_ms: int) -> dict:
    event = {"type": "message", "mode": "active", "timestamp": ts_ms,
             "source": {"type": "user", "userId": user_id}, "webhookEventId": ulid(ts_ms),
             "deliveryContext": {"isRedelivery": False}, "replyToken": reply_token}
    roll = rng.random()
    if roll < 0.2:
        event["type"] = "follow"
        event["follow"] = {"isUnblocked": rng.random() < 0.1}
    else:
        # Mostly chat (→ help reply); 5 % look like an online application ID that matches nobody.
        text_ = (f"IZM-{rng.randrange(16**4):04X}-{rng.randrange(16**4):04X}" if roll > 0.95
                 else rng.choice(TEXTS))
        event["message"] = {"type": "text", "id": str(10**17 + rng.randrange(10**17)),
                            "quoteToken": base64.urlsafe_b64encode(rng.randbytes(24)).decode(), "text": text_}
    return event


def make_bodies(sim, rng: random.Random, users: list[str], per_thread: int, threads: int,
                redelivery: float) -> list[list[tuple[str, bytes, str]]]:
    """Per wrk thread, a list of (webhookEventId, body, signature)."""
    destination = sim.config.bot_user_id
    now = int(time.time() * 1000)
    out = []
    for _ in range(threads):
        seq: list[tuple[str, bytes, str]] = []
        events: list[dict] = []
        for i in range(per_thread):
            if i >= 64 and rng.random() < redelivery:
                event = copy.deepcopy(events[i - rng.randrange(32, 64)])
                event["deliveryContext"] = {"isRedelivery": True}
            else:
                user = rng.choice(users)
                now += 1
                event = make_event(rng, user, sim.state.issue_reply_token(user), now)
            events.append(event)
            body = json.dumps({"destination": destination, "events": [event]}, ensure_ascii=False,
                              separators=(",", ":")).encode()
            seq.append((event["webhookEventId"], body, sign(body)))
        out.append(seq)
    return out


def write_bodies(path: Path, per_thread: list[list[tuple[str, bytes, str]]]) -> None:
    with path.open("wb") as f:
        for tid, seq in enumerate(per_thread):
            for _, body, sig in seq:
                assert b"\n" not in body and b"\t" not in body
                f.write(f"{tid}\t{sig}\t".encode() + body + b"\n")


# --- processes ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 10) -> int:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode} before answering /healthz")
        try:
            if http("GET", url, timeout=2) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of the master and its workers
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextmanager
def database(kind: str, workdir: Path, admin_url: str | None):
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'webhook_load.sqlite3'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url
    name = f"webhook_load_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_wrk(url: str, bodies: Path, threads: int, connections: int, duration: float, workdir: Path,
            tag: str, rate: float = 0) -> dict:
    env = {**os.environ, "WEBHOOK_LOAD_RATE": str(rate)} if rate else None
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s", "-s", str(LUA),
           url, "--", str(bodies), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False, env=env)
    (workdir / f"wrk-{tag}.txt").write_text(out.stdout + out.stderr)
    for line in out.stdout.splitlines():
        if line.startswith("WEBHOOK_LOAD_JSON "):
            return json.loads(line.removeprefix("WEBHOOK_LOAD_JSON "))
    raise RuntimeError(f"wrk gave no result (exit {out.returncode}): {out.stderr.strip() or out.stdout[-500:]}")


def start_profilers(master_pid: int, duration: float, workdir: Path) -> list[subprocess.Popen]:
    """py-spy (collapsed stacks, one file per gunicorn worker, GIL-holding samples marked) for --profile."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    spy = shutil.which("py-spy") or sys.exit("--profile needs py-spy on PATH")
    return [subprocess.Popen([spy, "record", "-p", pid, "-d", str(int(duration)), "-r", "200", "--nonblocking",
                              "--threads", "-f", "raw", "-o", str(workdir / f"pyspy-{pid}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in children]


def _busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields[:8]) - idle, sum(fields[:8])


def _proc_jiffies(pids: list[str]) -> int:
    total = 0
    for pid in pids:
        try:
            parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(parts[11]) + int(parts[12])  # utime, stime
        except (OSError, IndexError):
            pass
    return total


class CpuMeter:
    """Where the machine's CPU went during the load: the service, wrk, this process (the simulator), others.

    The machine may be shared; `other_cores` shows how much of it something else used meanwhile."""

    def __init__(self, master_pid: int, db_pids=lambda: []) -> None:
        self.pids = [str(master_pid)] + Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
        self.hz = os.sysconf("SC_CLK_TCK")
        self.db_pids = db_pids  # PostgreSQL backends serving the service's connections

    def __enter__(self):
        self.t0 = time.monotonic()
        self.machine0 = _busy_jiffies()
        self.service0 = _proc_jiffies(self.pids)
        self.per0 = [_proc_jiffies([pid]) for pid in self.pids[1:]]
        self.self0 = sum(os.times()[:2])
        self.children0 = sum(os.times()[2:4])
        self.db0 = {pid: _proc_jiffies([pid]) for pid in self.db_pids()}
        return self

    def __exit__(self, *exc) -> None:
        secs = time.monotonic() - self.t0
        busy, total = (a - b for a, b in zip(_busy_jiffies(), self.machine0))
        cores = (os.cpu_count() or 1)
        machine_busy = busy / total * cores if total else 0.0
        service = (_proc_jiffies(self.pids) - self.service0) / self.hz / secs
        per = [round((_proc_jiffies([pid]) - j0) / self.hz / secs, 2) for pid, j0 in zip(self.pids[1:], self.per0)]
        sim = (sum(os.times()[:2]) - self.self0) / secs
        wrk = (sum(os.times()[2:4]) - self.children0) / secs
        database = sum(_proc_jiffies([pid]) - self.db0.get(pid, 0) for pid in self.db_pids()) / self.hz / secs
        self.result = {"machine_busy_cores": round(machine_busy, 2), "service_cores": round(service, 2),
                       "service_cores_per_worker": per,
                       "wrk_cores": round(wrk, 2), "simulator_cores": round(sim, 2),
                       "postgres_backend_cores": round(database, 2),
                       "other_cores": round(max(0.0, machine_busy - service - wrk - sim - database), 2),
                       "loadavg_1m_after": round(os.getloadavg()[0], 2)}


def backend_pids(engine) -> list[str]:
    """PostgreSQL server processes connected to the benchmark's database (their CPU is the service's too)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as c:
        return [str(p) for p in c.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))]


# --- database checks ------------------------------------------------------------------------------
def db_counts(engine) -> dict:
    with engine.connect() as c:
        total = c.scalar(select(func.count()).select_from(WebhookEvent))
        distinct = c.scalar(select(func.count(func.distinct(WebhookEvent.webhook_event_id))))
        pending = c.scalar(select(func.count()).select_from(WebhookEvent).where(WebhookEvent.processed_at.is_(None)))
    return {"rows": total, "distinct_ids": distinct, "processed": total - pending, "pending": pending}


def wait_drained(engine, timeout: float) -> tuple[bool, float]:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if db_counts(engine)["pending"] == 0:
            return True, time.monotonic() - started
        time.sleep(0.25)
    return False, time.monotonic() - started


def sent_ids(per_thread: list[list[tuple[str, bytes, str]]], wrk_result: dict) -> tuple[set[str], list]:
    """Ids wrk can have sent (the first `issued` of each thread's list, wrapping) and those bodies."""
    ids: set[str] = set()
    bodies = []
    for t in wrk_result["threads"]:
        seq = per_thread[t["tid"]]
        for k in range(min(t["issued"], len(seq) * 2)):
            item = seq[k % len(seq)]
            ids.add(item[0])
            bodies.append(item)
    return ids, bodies


# --- one run --------------------------------------------------------------------------------------
def parse_load(spec: str) -> dict:
    """closed:C (C connections, each sends again as soon as answered) or rate:R:C (R requests/s, C connections)."""
    parts = spec.split(":")
    if parts[0] == "closed" and len(parts) == 2:
        return {"name": spec, "rate": 0.0, "connections": int(parts[1])}
    if parts[0] == "rate" and len(parts) == 3:
        return {"name": spec, "rate": float(parts[1]), "connections": int(parts[2])}
    raise argparse.ArgumentTypeError(f"--load {spec!r}: use closed:CONNECTIONS or rate:PER_SECOND:CONNECTIONS")


def one_run(kind: str, load: dict, args, run_no: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"webhook_load_{kind}_"))
    rng = random.Random(args.seed + run_no)
    result: dict = {"db": kind, "load": load["name"], "run": run_no}
    with database(kind, workdir, args.postgres) as url:
        env = {**os.environ, "NOTIFIER_ENV": "production", "SECRET_KEY": "load-test-" + "x" * 40,
               "DATABASE_URL": url, "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN}
        bin_dir = Path(sys.executable).parent
        subprocess.run([str(bin_dir / "notifier"), "db", "upgrade", "--json"], env=env, check=True,
                       capture_output=True, timeout=120, cwd=workdir)
        sim_server = serve_in_thread(create_sim_app(SECRET, TOKEN, None, reply_token_ttl=3600, seed=run_no),
                                     host=HOST, port=0)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        proc = None
        try:
            sim = sim_server.sim
            users = [f"U{rng.getrandbits(128):032x}" for _ in range(args.users)]
            for n, uid in enumerate(users):
                sim.state.add_user(f"利用者{n}", user_id=uid, friend=True)
            warm = make_bodies(sim, rng, users, max(200, int(args.warmup * 1500 / args.wrk_threads)),
                               args.wrk_threads, args.redelivery)
            rate_bound = load["rate"] * 1.2 + 100 if load["rate"] else args.max_rate
            per_thread_n = args.events or int(args.duration * rate_bound / args.wrk_threads)
            main = make_bodies(sim, rng, users, per_thread_n, args.wrk_threads, args.redelivery)
            write_bodies(workdir / "warmup.tsv", warm)
            write_bodies(workdir / "bodies.tsv", main)

            port = free_port()
            env["LINE_API_BASE_URL"] = sim_server.base_url
            cmd = [str(bin_dir / "notifier"), "serve", "--host", HOST, "--port", str(port),
                   "--workers", str(args.workers), "--threads", str(args.threads)]
            with (workdir / "service.out").open("wb") as out, (workdir / "service.err").open("wb") as err:
                proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, cwd=workdir, start_new_session=True)
            base = f"http://{HOST}:{port}"
            wait_healthy(base + "/healthz", proc)

            url_webhook = base + "/line/webhook"
            warm_res = run_wrk(url_webhook, workdir / "warmup.tsv", args.wrk_threads, 16,
                               args.warmup, workdir, "warmup")
            time.sleep(2)  # requests wrk left queued in gunicorn still land
            drained, _ = wait_drained(engine, args.drain_timeout)
            result["warmup_backlog_left"] = db_counts(engine)["pending"]
            before = db_counts(engine)
            replies_before = sim.state.count_requests("/v2/bot/message/reply")
            replies_ok_before = sim.state.count_requests("/v2/bot/message/reply", 200)

            profilers = start_profilers(proc.pid, args.duration, workdir) if args.profile else []
            with CpuMeter(proc.pid, lambda: backend_pids(engine)) as cpu:
                res = run_wrk(url_webhook, workdir / "bodies.tsv", args.wrk_threads, load["connections"],
                              args.duration, workdir, "main", rate=load["rate"])
            for prof in profilers:
                prof.wait(timeout=60)
            at_stop = db_counts(engine)
            time.sleep(5)
            after5 = db_counts(engine)

            # Exactly once: rows == distinct ids, every row one we sent; then re-send what was in flight.
            ids, _ = sent_ids(main, res)
            with engine.connect() as c:
                stored = set(c.scalars(select(WebhookEvent.webhook_event_id)))
            warm_ids, _ = sent_ids(warm, warm_res)
            main_stored = stored - warm_ids
            missing = ids - main_stored
            strangers = main_stored - ids
            bodies_by_id = {i: (b, s) for seq in main for i, b, s in seq}
            resend_status = {}
            for event_id in sorted(missing):
                body, sig = bodies_by_id[event_id]
                status = http("POST", url_webhook, body, {"Content-Type": "application/json",
                                                         "X-Line-Signature": sig})
                resend_status[status] = resend_status.get(status, 0) + 1
            # and every body of the run once more, as a redelivery storm: nothing may change
            replay = {}
            for event_id in sorted(ids)[: args.replay]:
                body, sig = bodies_by_id[event_id]
                status = http("POST", url_webhook, body, {"Content-Type": "application/json",
                                                         "X-Line-Signature": sig})
                replay[status] = replay.get(status, 0) + 1
            drained, drain_s = wait_drained(engine, args.drain_timeout)
            final = db_counts(engine)
            with engine.connect() as c:
                final_ids = set(c.scalars(select(WebhookEvent.webhook_event_id)))
            with engine.connect() as c:
                outcomes = dict(c.execute(select(WebhookEvent.outcome, func.count())
                                          .group_by(WebhookEvent.outcome)).all())
            lat = res["latency_us"]
            secs = res["duration_us"] / 1e6
            result.update({
                "throughput_rps": round(res["requests"] / secs, 1),
                "requests": res["requests"],
                "duration_s": round(secs, 2),
                "latency_ms": {k: round(v / 1000, 1) for k, v in lat.items()},
                "non2xx": sum(t["non2xx"] for t in res["threads"]),
                "socket_errors": res["errors"],
                "cpu": cpu.result,
                "warmup_rps": round(warm_res["requests"] / (warm_res["duration_us"] / 1e6), 1),
                "events": {
                    "distinct_ids_sent": len(ids),
                    "recorded_at_stop": at_stop["rows"] - before["rows"],
                    "in_flight_at_stop_resent": len(missing),
                    "resend_status": resend_status,
                    "replayed_as_redelivery": replay,
                    "unknown_ids_in_db": len(strangers),
                    "rows_after": final["rows"] - before["rows"],
                    "exactly_once": (final["rows"] == final["distinct_ids"] and ids <= final_ids
                                     and not (final_ids - ids - warm_ids)
                                     and final["rows"] - before["rows"] == len(ids)),
                    "processed_at_stop": at_stop["processed"] - before["processed"],
                    "processed_5s_after": after5["processed"] - before["processed"],
                    "backlog_at_stop": at_stop["pending"],
                    "drained": drained,
                    "drain_seconds_after_checks": round(drain_s, 1),
                    "processed_final": final["processed"] - before["processed"],
                    "outcomes": outcomes,
                    "sim_replies": sim.state.count_requests("/v2/bot/message/reply") - replies_before,
                    "sim_replies_ok": sim.state.count_requests("/v2/bot/message/reply", 200) - replies_ok_before,
                },
                "workdir": str(workdir) if args.keep else None,
            })
            processing_rate = (at_stop["processed"] - before["processed"]) / secs
            result["events"]["processing_rps_during_load"] = round(processing_rate, 1)
        finally:
            if proc is not None:
                stop(proc)
            sim_server.shutdown()
            engine.dispose()
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def summarise(runs: list[dict]) -> dict:
    med = statistics.median
    return {
        "runs": len(runs),
        "throughput_rps": med(r["throughput_rps"] for r in runs),
        "p50_ms": med(r["latency_ms"]["p50"] for r in runs),
        "p90_ms": med(r["latency_ms"]["p90"] for r in runs),
        "p99_ms": med(r["latency_ms"]["p99"] for r in runs),
        "max_ms": med(r["latency_ms"]["max"] for r in runs),
        "non2xx_total": sum(r["non2xx"] for r in runs),
        "exactly_once_all": all(r["events"]["exactly_once"] for r in runs),
        "processing_rps_during_load": med(r["events"]["processing_rps_during_load"] for r in runs),
        "backlog_at_stop": med(r["events"]["backlog_at_stop"] for r in runs),
        "drained_all": all(r["events"]["drained"] for r in runs),
        "other_cores_max": max(r["cpu"]["other_cores"] for r in runs),
        "each_run_rps_p99": [(r["throughput_rps"], r["latency_ms"]["p99"]) for r in runs],
    }


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[:1]
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "wrk": wrk_version[0] if wrk_version else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=30, help="seconds of load per run (default 30)")
    p.add_argument("--warmup", type=float, default=3, help="seconds of wrk warm-up per run (default 3)")
    p.add_argument("--load", action="append", type=parse_load, metavar="SPEC",
                   help="closed:C (C connections sending back to back: the ceiling) or rate:R:C (R requests/s "
                        "paced over C connections); repeatable; default: closed:16 and rate:300:64")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1: the box has 2 cores)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    p.add_argument("--runs", type=int, default=3, help="runs per database; the median is reported (default 3)")
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--redelivery", type=float, default=0.02, help="share of bodies that are redeliveries")
    p.add_argument("--max-rate", type=float, default=2500,
                   help="bodies generated per second of --duration (wrk wraps round if it is faster)")
    p.add_argument("--events", type=int, default=0, help="bodies per wrk thread (default: from --max-rate)")
    p.add_argument("--replay", type=int, default=500,
                   help="after the run, re-send this many already-recorded bodies (must change nothing)")
    p.add_argument("--drain-timeout", type=float, default=180, help="max seconds to wait for the backlog")
    p.add_argument("--postgres", metavar="ADMIN_URL", help="also run on PostgreSQL: a database is created "
                   "through ADMIN_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres) and dropped after")
    p.add_argument("--no-sqlite", action="store_true")
    p.add_argument("--max-other-cores", type=float, default=0.25,
                   help="a run during which other processes used more CPU than this (in cores) is run again")
    p.add_argument("--retries", type=int, default=6, help="noisy runs to discard at most, per load (default 6)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", action="store_true", help="py-spy each gunicorn worker during the load (implies --keep)")
    p.add_argument("--keep", action="store_true", help="keep each run's temp dir (logs, bodies, wrk output)")
    args = p.parse_args()
    args.keep = args.keep or args.profile
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the simulator's per-request lines
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")

    loads = args.load or [parse_load("closed:16"), parse_load("rate:300:64")]
    kinds = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    report = {"machine": machine(),
              "settings": {k: v for k, v in vars(args).items() if k not in ("postgres", "load")}
                           | {"loads": [x["name"] for x in loads]} | {"server": "notifier serve (gunicorn gthread)"},
              "results": {}}
    for kind in kinds:
        for load in loads:
            runs, discarded = [], []
            n = 0
            while len(runs) < args.runs:
                r = one_run(kind, load, args, n)
                n += 1
                print(json.dumps(r, ensure_ascii=False), file=sys.stderr)
                noisy = r["cpu"]["other_cores"] > args.max_other_cores
                if noisy and len(discarded) < args.retries:
                    discarded.append(r)  # something else on the machine took CPU meanwhile: run again
                    continue
                r["noisy"] = noisy
                runs.append(r)
            report["results"].setdefault(kind, {})[load["name"]] = {
                "median": summarise(runs), "all": runs, "discarded_noisy": discarded}
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
