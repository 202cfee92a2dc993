"""The dispatcher: outbox → LINE, so that no delivery is ever sent twice or without consent.

One run:
1. Outside sending hours (QUIET_HOURS, JST) or while a quota alert is open, nothing is sent.
2. Deliveries a killed dispatcher left in `sending` come back: with the same retry key while their
   first attempt is younger than RETRY_KEY_SAFE_HOURS (LINE honours a key for 24 hours), otherwise as
   `unknown` for staff — never resent blindly.
3. Batches are claimed atomically (status sending, attempts + 1, committed before any HTTP call):
   `FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite one conditional UPDATE … RETURNING (its single
   writer makes it atomic). Two dispatchers never hold the same delivery.
4. Consent, following and residence are checked again for the batch; a delivery that no longer may go
   is cancelled with the reason. Steps 3 and 4 for the next batch run in a second thread while the
   current batch is being sent, and a third writes the previous batch's outcomes; a batch claimed but
   not sent (the run stopped) goes back to the queue.
5. Sends go through line-bot-sdk (`LineClient.push`) with the delivery's X-Line-Retry-Key, a few at a
   time in threads, on the shared rate schedule (`rate.py`). Outcomes are written per batch:
   2xx / 409 → sent; 429 rate → retried after its Retry-After header (LINE documents none, so
   usually RATE_LIMITED_RETRY_SECONDS), not counted as an attempt; 429 monthly quota → the run stops,
   nothing is marked failed, an alert is raised; 5xx / no answer → retried with exponential backoff and
   jitter, at most MAX_ATTEMPTS over about a day; other 4xx → failed with LINE's status and message.
Logs carry counts and delivery ids only (no LINE user ids, no message bodies).
"""
from __future__ import annotations

import contextvars
import json
import logging
import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from datetime import time as time_of_day
from typing import NamedTuple

from sqlalchemy import DateTime, Integer, String, Text, bindparam, cast, column, select, text, update
from sqlalchemy import values as values_table
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier import audit, clock
from notifier.consent.holders import holding
from notifier.line.errors import LineError
from notifier.models import SOURCE_TABLES, Delivery, LineAccount, Notice, OutboxAlert
from notifier.outbox import rate as send_rate
from notifier.residents import current_condition

log = logging.getLogger(__name__)

BATCH = 100
THREADS = 8
MAX_ATTEMPTS = 10
BACKOFF_BASE_SECONDS = 60          # 1, 2, 4, … minutes, each capped, with ±25% jitter
BACKOFF_CAP_SECONDS = 3 * 3600     # 10 attempts ≈ 7 hours in all: well inside the key's 24 hours
RATE_LIMITED_RETRY_SECONDS = 5
CLAIM_STALE_SECONDS = 120          # a `sending` row older than this belongs to a dead dispatcher
RETRY_KEY_SAFE_HOURS = 23          # LINE keeps a retry key 24 hours; past 23 we no longer resend


@dataclass
class DispatchResult:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    unknown: int = 0
    recovered: int = 0
    seconds: float = 0.0
    stopped_for_quota: bool = False
    quiet_hours: bool = False
    paused_by_alert: bool = False
    cancel_reasons: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def count_cancelled(self, reasons: dict[int, str]) -> None:
        """Deliveries the send-time check cancelled (delivery id → reason)."""
        self.cancelled += len(reasons)
        for r in reasons.values():
            self.cancel_reasons[r] = self.cancel_reasons.get(r, 0) + 1

    def counts(self) -> dict:
        """The numbers a job-run row keeps (運用状況's 件数)."""
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed, "cancelled": self.cancelled,
                "unknown_deliveries": self.unknown}

    def note(self) -> str | None:
        """Why the run sent less than was due, in words, or None."""
        if self.quiet_hours or self.paused_by_alert:
            return self.lines()[0]
        if self.stopped_for_quota:
            return self.lines()[-1]
        return None

    def lines(self) -> list[str]:
        if self.quiet_hours:
            return ["送信しない時間帯（QUIET_HOURS）のため、送信しませんでした。"]
        if self.paused_by_alert:
            return ["LINEの月間の送信上限の警告が解除されていないため、送信しませんでした（「お知らせの送信」で解除します）。"]
        out = [f"送信 {self.sent} 件、再試行待ち {self.retried} 件、送信できず {self.failed} 件、"
               f"取り消し {self.cancelled} 件、確認が必要 {self.unknown} 件（{self.seconds:.1f} 秒）"]
        if self.stopped_for_quota:
            out.append("LINEの月間の送信上限に達したため途中で止めました。残りは送信待ちのままです。")
        return out


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


def in_quiet_hours(quiet: tuple[time_of_day, time_of_day] | None, moment_jst: datetime) -> bool:
    """Whether `moment_jst` falls in the quiet hours [start, end) (which may wrap midnight)."""
    if quiet is None:
        return False
    start, end = quiet
    t = moment_jst.time()
    if start == end:
        return False
    return start <= t < end if start < end else (t >= start or t < end)


def backoff_seconds(attempts: int, rng: random.Random) -> float:
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return base * rng.uniform(0.75, 1.25)


# --- 2. crash recovery ---------------------------------------------------------------------------
def recover(engine: Engine, now: datetime, claim_stale_seconds: float = CLAIM_STALE_SECONDS) -> tuple[int, int]:
    """Rows left `sending` by a dead dispatcher, and queued retries whose key may have expired:
    back to queued with the same key when safe, else unknown. Returns (requeued, unknown)."""
    stale = now - timedelta(seconds=claim_stale_seconds)
    unsafe = now - timedelta(hours=RETRY_KEY_SAFE_HOURS)
    with engine.begin() as conn:
        unknown = conn.execute(
            update(Delivery).where(Delivery.status.in_(("sending", "queued")), Delivery.first_attempt_at < unsafe,
                                   (Delivery.status == "queued") | (Delivery.claimed_at < stale))
            .values(status="unknown", claimed_by=None, updated_at=now,
                    error_message="送信の結果を確かめられないまま、再送できる期限（24時間）が近づきました")
        ).rowcount
        requeued = conn.execute(
            update(Delivery).where(Delivery.status == "sending", Delivery.claimed_at < stale)
            .values(status="queued", next_attempt_at=now, claimed_by=None, updated_at=now)
        ).rowcount
    if requeued or unknown:
        log.warning("dispatch: recovered %s deliveries left sending (same retry key), %s now unknown",
                    requeued, unknown)
    return requeued, unknown


def due_count(engine: Engine, now: datetime) -> int:
    """Deliveries a run would try now (for the progress bar)."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM deliveries WHERE status = 'queued' AND "
                                 "(next_attempt_at IS NULL OR next_attempt_at <= :now)")
                            .bindparams(bindparam("now", type_=DateTime())), {"now": now}).scalar() or 0


# --- 3. the claim ----------------------------------------------------------------------------------
def claim(engine: Engine, n: int, now: datetime, worker: str) -> list[int]:
    """Atomically take up to `n` due deliveries for this worker; committed before returning."""
    sets = ("status = 'sending', claimed_by = :w, claimed_at = :now, attempts = attempts + 1, "
            "first_attempt_at = COALESCE(first_attempt_at, :now), last_attempt_at = :now, updated_at = :now")
    due = "status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= :now)"
    if engine.dialect.name == "postgresql":
        # A materialised CTE: the locked pick runs once (an IN (subquery) may be re-planned to pick more).
        sql = text(f"WITH picked AS MATERIALIZED (SELECT id FROM deliveries WHERE {due} ORDER BY next_attempt_at, id "
                   f"LIMIT :n FOR UPDATE SKIP LOCKED) UPDATE deliveries SET {sets} FROM picked "
                   "WHERE deliveries.id = picked.id RETURNING deliveries.id")
    else:
        # SQLite has one writer at a time: this statement is atomic, and `status = 'queued'` is checked again.
        sql = text(f"UPDATE deliveries SET {sets} WHERE status = 'queued' AND id IN (SELECT id FROM deliveries "
                   f"WHERE {due} ORDER BY next_attempt_at, id LIMIT :n) RETURNING id")
    sql = sql.bindparams(bindparam("now", type_=DateTime()))   # the stored form (SQLite compares text)
    with engine.begin() as conn:
        return sorted(conn.execute(sql, {"w": worker, "now": now, "n": n}).scalars())


# --- 4. the send-time check --------------------------------------------------------------------------
class _Row(NamedTuple):
    """A claimed delivery with its account, as the send-time check and the sender need it."""
    id: int
    atena_no: str
    message: str
    retry_key: str
    attempts: int
    notice_id: int
    line_user_id: str
    reachable: bool
    linked: str | None                   # the account's resident now (None: unlinked since)


def _batch(session: Session, ids: list[int]) -> list[_Row]:
    rows = session.execute(
        select(Delivery.id, Delivery.atena_no, Delivery.message, Delivery.retry_key, Delivery.attempts,
               Delivery.notice_id, LineAccount.line_user_id, LineAccount.reachable, LineAccount.atena_no.label("linked"))
        .join(LineAccount, LineAccount.id == Delivery.line_account_id).where(Delivery.id.in_(ids))
        .order_by(Delivery.id)).all()
    return [_Row(*r) for r in rows]


def send_time_reasons(session: Session, batch: list[_Row], today) -> dict[int, str]:
    """Delivery id → why it may no longer go (unfollowed / withdrawn / moved_out), for those that may not.
    (Plain Python over one batch: this process never loads pandas, which would cost each dispatcher's
    start half a second.)"""
    atena = sorted({r.atena_no for r in batch})
    notify = holding(session, atena, "notify")
    jumin = SOURCE_TABLES["juminhyo"]
    current = set(session.scalars(select(jumin.c.atena_no).where(jumin.c.atena_no.in_(atena),
                                                                  current_condition(jumin, today))))
    reasons = {}
    for r in batch:
        if not r.reachable or r.linked != r.atena_no:
            reasons[r.id] = "unfollowed"
        elif r.atena_no not in notify:
            reasons[r.id] = "withdrawn"
        elif r.atena_no not in current:
            reasons[r.id] = "moved_out"
    return reasons


# --- 5. sending and the outcomes ----------------------------------------------------------------------
@dataclass
class _Outcome:
    id: int
    status: str                      # sent | retry | failed | quota
    request_id: str | None = None
    error_status: int | None = None
    error_message: str | None = None
    retry_after: float | None = None


def _send_one(client, row) -> _Outcome:
    try:
        # The stored JSON is the body: the SDK checks the messages but does not re-serialise them.
        result = client.push_plain(row.line_user_id, json.loads(row.message), row.retry_key)
    except LineError as exc:
        if exc.quota_exhausted:
            return _Outcome(row.id, "quota", error_status=exc.status, error_message=exc.reason[:500])
        if exc.permanent:
            return _Outcome(row.id, "failed", error_status=exc.status, error_message=exc.reason[:500])
        return _Outcome(row.id, "retry", error_status=exc.status, error_message=exc.reason[:500],
                        retry_after=exc.retry_after if exc.status == 429 else None)
    except Exception as exc:  # never let one odd answer lose the batch's outcomes
        log.exception("dispatch: delivery %s: unexpected %s", row.id, type(exc).__name__)
        return _Outcome(row.id, "retry", error_message=f"unexpected error: {type(exc).__name__}")
    return _Outcome(row.id, "sent", request_id=result.line_request_id)


_OUTCOME_COLUMNS = ("b_id", "status", "next", "request_id", "sent_at", "err_status", "err_message", "attempts")


def _write(engine: Engine, outcomes: list[_Outcome], batch: list[_Row], now: datetime, rng: random.Random,
           result: DispatchResult) -> None:
    attempts = {r.id: r.attempts for r in batch}
    notices = {r.id: r.notice_id for r in batch}
    params, sent_notices = [], set()
    for o in outcomes:
        values = {"b_id": o.id, "status": o.status, "next": None, "request_id": o.request_id, "sent_at": None,
                  "err_status": o.error_status, "err_message": o.error_message, "attempts": attempts[o.id]}
        if o.status == "sent":
            values["sent_at"] = now
            sent_notices.add(int(notices[o.id]))
            result.sent += 1
        elif o.status == "quota":
            values.update(status="queued", next=now, attempts=attempts[o.id] - 1)   # not an attempt that failed
        elif o.status == "retry" and (attempts[o.id] < MAX_ATTEMPTS or o.error_status == 429):
            wait = o.retry_after if o.retry_after is not None else (
                RATE_LIMITED_RETRY_SECONDS if o.error_status == 429 else backoff_seconds(attempts[o.id], rng))
            values.update(status="queued", next=now + timedelta(seconds=wait))
            if o.error_status == 429:   # LINE processes nothing it answers 429: not an attempt that failed
                values["attempts"] = attempts[o.id] - 1
            result.retried += 1
        else:
            if o.status == "retry":
                values["err_message"] = f"{MAX_ATTEMPTS}回試しても送れませんでした（最後の応答：{o.error_message}）"
            values["status"] = "failed"
            result.failed += 1
        params.append(values)
    with engine.begin() as conn:
        if params and conn.dialect.name == "postgresql":
            # One UPDATE … FROM (VALUES …) for the batch: a statement per delivery costs PostgreSQL
            # a parse and a plan each. (SQLite runs executemany in process, cheaply.)
            v = values_table(column("b_id", Integer), column("status", String), column("next", DateTime),
                             column("request_id", String), column("sent_at", DateTime), column("err_status", Integer),
                             column("err_message", Text), column("attempts", Integer), name="outcome").data(
                [tuple(p[k] for k in _OUTCOME_COLUMNS) for p in params])
            t = Delivery.__table__
            conn.execute(update(t).where(t.c.id == v.c.b_id).values(
                status=v.c.status, next_attempt_at=cast(v.c.next, DateTime), line_request_id=v.c.request_id,
                sent_at=cast(v.c.sent_at, DateTime), error_status=cast(v.c.err_status, Integer),
                error_message=v.c.err_message, attempts=v.c.attempts, claimed_by=None, updated_at=now))
        elif params:
            conn.execute(update(Delivery.__table__).where(Delivery.__table__.c.id == bindparam("b_id"))
                         .values(status=bindparam("status"), next_attempt_at=bindparam("next"),
                                 line_request_id=bindparam("request_id"), sent_at=bindparam("sent_at"),
                                 error_status=bindparam("err_status"), error_message=bindparam("err_message"),
                                 attempts=bindparam("attempts"), claimed_by=None, updated_at=now), params)
        if sent_notices:
            conn.execute(update(Notice).where(Notice.id.in_(sorted(sent_notices)), Notice.first_sent_at.is_(None))
                         .values(first_sent_at=now))


def _finish(engine: Engine, outcomes: list[_Outcome], go: list[_Row], untried: list[int], rng: random.Random,
            result: DispatchResult) -> None:
    _write(engine, outcomes, go, clock.now(), rng, result)
    _release(engine, untried, clock.now())


def _cancel(engine: Engine, ids_reasons: dict[int, str], now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(Delivery.__table__).where(Delivery.__table__.c.id == bindparam("b_id"))
                     .values(status="cancelled", cancel_reason=bindparam("reason"), claimed_by=None, updated_at=now),
                     [{"b_id": i, "reason": r} for i, r in ids_reasons.items()])


def _release(engine: Engine, ids: list[int], now: datetime) -> None:
    """Put claimed deliveries that were not tried back in the queue, uncounted."""
    if ids:
        with engine.begin() as conn:
            conn.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.status == "sending")
                         .values(status="queued", attempts=Delivery.attempts - 1, claimed_by=None, next_attempt_at=now,
                                 updated_at=now))


def _raise_quota_alert(engine: Engine, outcome: _Outcome, now: datetime) -> None:
    with engine.begin() as conn:
        open_one = conn.execute(select(OutboxAlert.id).where(OutboxAlert.kind == "quota",
                                                              OutboxAlert.cleared_at.is_(None))).first()
        if open_one is None:
            conn.execute(OutboxAlert.__table__.insert().values(
                kind="quota", raised_at=now, detail={"status": outcome.error_status, "message": outcome.error_message}))
    log.error("dispatch: LINE's monthly message limit reached (429); sending stopped, deliveries stay queued")


def dispatch(engine: Engine, client, *, quiet_hours, rate_per_second: float | None, limit: int | None = None,
             actor="system", worker: str | None = None, progress=None, seed: int | None = None,
             claim_stale_seconds: float = CLAIM_STALE_SECONDS, threads: int = THREADS) -> DispatchResult:
    """One dispatch run (see the module docstring). `client` is a LineClient; the clock (`clock.now`)
    may be set by a replay (`--now`); the rate schedule runs on real time."""
    started = time.monotonic()
    worker = worker or worker_name()
    result = DispatchResult()
    rng = random.Random(seed)
    if in_quiet_hours(quiet_hours, clock.now_jst()):
        result.quiet_hours = True
        return result
    with Session(engine) as s:
        if s.scalar(select(OutboxAlert.id).where(OutboxAlert.kind == "quota", OutboxAlert.cleared_at.is_(None))):
            result.paused_by_alert = True
            return result
    requeued, unknown = recover(engine, clock.now(), claim_stale_seconds)
    result.recovered, result.unknown = requeued, unknown
    claimed = 0

    def size() -> int:
        return min(BATCH, limit - claimed) if limit is not None else BATCH

    # While one batch is on the wire, the next is claimed and checked (a second thread: its database
    # work and the sends' network waits overlap; it reads this run's clock, so it runs in a copy of the
    # caller's context). A claimed batch that is not sent goes back queued.
    written = []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool, ThreadPoolExecutor(max_workers=1) as ahead, \
            ThreadPoolExecutor(max_workers=1) as writer:
        upcoming = ahead.submit(contextvars.copy_context().run, _prepare, engine, size(), worker) if size() > 0 else None
        while upcoming is not None:
            batch = upcoming.result()
            upcoming = None
            if batch is None:
                break
            claimed += len(batch.ids)
            result.count_cancelled(batch.cancelled)
            if size() > 0:
                upcoming = ahead.submit(contextvars.copy_context().run, _prepare, engine, size(), worker)
            outcomes = _send_paced(engine, client, pool, batch.go, rate_per_second)
            quota = next((o for o in outcomes if o.status == "quota"), None)
            tried = {o.id for o in outcomes}
            untried = [r.id for r in batch.go if r.id not in tried]
            # Outcomes are written in order by one more thread while the next batch goes out.
            written.append(writer.submit(contextvars.copy_context().run, _finish, engine, outcomes, batch.go,
                                         untried, rng, result))
            if progress is not None:
                progress(len(batch.ids))
            if quota is not None:
                result.stopped_for_quota = True
                _raise_quota_alert(engine, quota, clock.now())
                if upcoming is not None:
                    unsent = upcoming.result()
                    if unsent is not None:
                        _release(engine, [r.id for r in unsent.go], clock.now())
                        result.count_cancelled(unsent.cancelled)
                    upcoming = None
    for f in written:
        f.result()                   # a write that failed fails the run (its rows stay `sending`: recovered later)
    result.seconds = round(time.monotonic() - started, 2)
    with Session(engine) as s, s.begin():
        audit.record(s, "notice_dispatch", actor=actor, target_type="dispatch_run", target_id=worker,
                     detail={k: v for k, v in result.as_dict().items() if k != "seconds" and v})
    log.info("dispatch: sent=%s retried=%s failed=%s cancelled=%s unknown=%s quota_stop=%s in %.1fs",
             result.sent, result.retried, result.failed, result.cancelled, result.unknown,
             result.stopped_for_quota, result.seconds)
    return result


@dataclass
class _Batch:
    ids: list[int]                   # claimed
    go: list[_Row]                   # to send (the rest were cancelled at the send-time check)
    cancelled: dict[int, str]        # delivery id → reason


def _prepare(engine: Engine, n: int, worker: str) -> _Batch | None:
    """Claim up to `n` due deliveries, check them again (cancelling those that may no longer go) and
    return what is to be sent; None when nothing is due."""
    now = clock.now()
    ids = claim(engine, n, now, worker)
    if not ids:
        return None
    with Session(engine) as s:
        batch = _batch(s, ids)
        cancel = send_time_reasons(s, batch, clock.today_jst())
    if cancel:
        _cancel(engine, cancel, now)
    go = [r for r in batch if r.id not in cancel]
    return _Batch(ids, go, cancel)


def _send_paced(engine: Engine, client, pool: ThreadPoolExecutor, go: list[_Row],
                rate_per_second: float | None) -> list[_Outcome]:
    """Send the batch on the shared schedule; stop submitting once LINE says the quota is used up."""
    rows = go
    if not rows:
        return []
    limited = not send_rate.unlimited(rate_per_second)
    start = send_rate.take(engine, len(rows), rate_per_second) if limited else 0.0
    futures, outcomes = [], []
    quota = threading.Event()      # set by a finished send that met the quota, without waiting on the others

    def _seen(f) -> None:
        if f.result().status == "quota":
            quota.set()
    for i, row in enumerate(rows):
        if limited:
            delay = start + i / rate_per_second - clock.wall_seconds()
            if delay > 0:
                time.sleep(delay)
        if quota.is_set():
            break
        future = pool.submit(_send_one, client, row)
        future.add_done_callback(_seen)
        futures.append(future)
    for f in futures:
        outcomes.append(f.result())
    if limited and len(futures) < len(rows):
        send_rate.give_back(engine, len(rows) - len(futures), rate_per_second)
    return outcomes
