"""`notifier daily`: the whole chain for one business day (import → 名寄せ → eligibility → …), safe
to re-run at any point and safe to kill.

Every step records a job-run row (start, end, counts, outcome, error). A step that completed for the
day is not done again unless a step before it brought new data in this run; a step left `running` by
a crash runs again. A failed step stops the steps that depend on it, which are recorded as skipped
with the reason; a rule not evaluated for missing data is reported, not failed. Only one `daily`
runs at a time (a lease); SIGTERM stops it cleanly after the current step.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from notifier import clock
from notifier.jobs import lease
from notifier.models import JobRun

log = logging.getLogger(__name__)

JOB = "daily"
LEASE = "daily"


@dataclass
class StepOutcome:
    counts: dict = field(default_factory=dict)
    note: str | None = None                # Japanese, for the operations page
    new_data: bool = False                 # the steps after this one must run again today


@dataclass
class Context:
    engine: Engine
    sessions: sessionmaker
    day: date
    actor: str
    config: dict
    outcomes: dict[str, StepOutcome] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    name: str
    label: str                                   # Japanese
    run: Callable[[Context], StepOutcome]
    depends_on: tuple[str, ...] = ()
    always: bool = False                         # run on every invocation (cheap, idempotent)


# --- the steps -----------------------------------------------------------------------------------
def step_import(ctx: Context) -> StepOutcome:
    from notifier.ingest.mapping import load_mapping
    from notifier.jobs.dropbox import import_drop_folder
    folder = ctx.config.get("DAILY_DROP_DIR") or ""
    if not folder:
        return StepOutcome(note="取込フォルダ（DAILY_DROP_DIR）が設定されていないため、保存済みのデータを使います。")
    if not Path(folder).is_dir():
        raise RuntimeError(f"DAILY_DROP_DIR {folder} is not a folder")
    mapping = load_mapping(Path(ctx.config["DAILY_MAPPING"]) if ctx.config.get("DAILY_MAPPING") else None)
    result = import_drop_folder(ctx.engine, Path(folder), mapping, ctx.day, actor=ctx.actor)
    note = None
    if result.rejected:
        note = "取込を中止したファイル（前回のデータを使用）: " + "、".join(f.file for f in result.rejected)
    return StepOutcome(result.counts(), note, new_data=result.new_data)


def step_link(ctx: Context) -> StepOutcome:
    from notifier.linkage.run import run_linkage
    _result, counts = run_linkage(ctx.engine, ctx.day)
    flat = {"roster": counts.roster, "linked": counts.linked, "review": counts.review, "unlinked": counts.unlinked}
    return StepOutcome({**flat, **{k: int(v) for k, v in counts.by_method.items()}}, new_data=True)


def step_eligibility(ctx: Context) -> StepOutcome:
    from notifier.eligibility.run import NoActiveRules, run_eligibility
    with ctx.sessions() as s:
        try:
            outcome = run_eligibility(ctx.engine, s, ctx.day, actor=ctx.actor,
                                      max_age=ctx.config.get("SOURCE_MAX_AGE_DAYS"))
        except NoActiveRules:
            return StepOutcome(note="有効なルールがないため、判定しませんでした。")
    counts = {"run_id": outcome.run_id, "households": outcome.households,
              "matches": sum(r.get("matches", 0) for r in outcome.rules.values()),
              "rules_evaluated": sum(1 for r in outcome.rules.values() if r["evaluated"]),
              "rules_skipped": len(outcome.skipped)}
    note = "；".join(f"{rid}: {reason}" for rid, reason in outcome.skipped.items()) or None
    return StepOutcome(counts, note, new_data=True)


def _link_key(config: dict) -> str:
    """The /r/ links are signed with the web app's SECRET_KEY: in production it must be the real one."""
    import os
    if config.get("ENV") == "production" and not os.environ.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is not set: the /r/ links are signed with the web app's SECRET_KEY")
    return config["SECRET_KEY"]


def step_enqueue(ctx: Context) -> StepOutcome:
    from notifier.outbox.enqueue import NoRun, enqueue
    key = _link_key(ctx.config)
    try:
        with ctx.sessions.begin() as s:
            result = enqueue(s, ctx.day, actor=ctx.actor, public_base_url=ctx.config["PUBLIC_BASE_URL"],
                             signing_key=key)
    except NoRun:
        return StepOutcome(note="この日の該当判定がないため、お知らせは作成しませんでした。")
    counts = {"notices": result.notices, "deliveries": result.deliveries}
    skipped = {r: v["skipped"] for r, v in result.rules.items() if "skipped" in v}
    note = "；".join(f"{rid}: {reason}" for rid, reason in skipped.items()) or None
    return StepOutcome(counts, note)


def step_dispatch(ctx: Context) -> StepOutcome:
    from notifier.outbox.dispatch import dispatch, in_quiet_hours
    config = ctx.config
    if in_quiet_hours(config.get("QUIET_HOURS"), clock.now_jst()):
        return StepOutcome(note="送信しない時間帯（QUIET_HOURS）のため、送信は次の送信処理で行います。")
    if not config.get("LINE_CHANNEL_ACCESS_TOKEN"):
        if config.get("ENV") == "production":
            raise RuntimeError("LINE_CHANNEL_ACCESS_TOKEN is not set: notices cannot be sent")
        return StepOutcome(note="LINEの設定（LINE_CHANNEL_ACCESS_TOKEN）がないため、送信しませんでした。")
    from notifier.line.client import LineClient
    with LineClient.from_config(config) as client:
        result = dispatch(ctx.engine, client, quiet_hours=config.get("QUIET_HOURS"),
                          rate_per_second=config.get("PUSH_RATE_PER_SECOND"), actor=ctx.actor,
                          claim_stale_seconds=config.get("DISPATCH_CLAIM_STALE_SECONDS", 120),
                          threads=config.get("DISPATCH_THREADS", 8))
    return StepOutcome(result.counts(), result.note())


def step_followup(ctx: Context) -> StepOutcome:
    from notifier.followup.run import run_followup
    with ctx.sessions.begin() as s:
        s.info["link_signing_key"] = _link_key(ctx.config)
        result = run_followup(s, ctx.day, actor=ctx.actor, public_base_url=ctx.config["PUBLIC_BASE_URL"])
    return StepOutcome({"responded": result.responded, "reminders": result.reminders,
                        "cases_opened": result.cases_opened, "cases_closed": sum(result.cases_closed.values()),
                        "open_cases": result.open_cases})


STEPS: list[Step] = [
    Step("import", "データ取込", step_import, always=True),
    Step("link", "名寄せ", step_link, ("import",)),
    Step("eligibility", "該当判定", step_eligibility, ("link",)),
    Step("enqueue", "お知らせの作成", step_enqueue, ("eligibility",)),
    Step("followup", "フォローアップ", step_followup, ("import",), always=True),
    Step("dispatch", "お知らせの送信", step_dispatch, ("enqueue",), always=True),
]
STEP_LABELS = {s.name: s.label for s in STEPS}
# What the counts of the steps mean, for the operations page and the command's lines.
COUNT_LABELS = {
    "imported": "取込ファイル", "rejected": "取込中止ファイル", "already_imported": "取込済みのため省略",
    "unknown": "既知でないファイル", "rows_stored": "保存行", "rows_quarantined": "隔離行",
    "roster": "学齢簿", "linked": "照合済み", "review": "要確認", "unlinked": "照合なし",
    "exact": "完全一致", "loose_kana": "カナの表記ゆれで一致", "scored": "点数で照合", "manual": "職員の判断",
    "run_id": "判定番号", "households": "世帯", "matches": "対象世帯", "rules_evaluated": "判定したルール",
    "rules_skipped": "判定しなかったルール",
    "notices": "お知らせ", "deliveries": "送信", "sent": "送信済み", "retried": "再試行待ち", "failed": "送信できず",
    "cancelled": "取り消し", "responded": "応答あり", "reminders": "リマインド", "cases_opened": "ケース作成",
    "cases_closed": "ケース終了", "open_cases": "対応中のケース", "unknown_deliveries": "確認が必要な送信",
}


def count_text(counts: dict | None) -> str:
    """Counts as staff read them: 取込ファイル 17、保存行 1,934 …"""
    return "、".join(f"{COUNT_LABELS.get(k, k)} {v:,}" if isinstance(v, int) else f"{COUNT_LABELS.get(k, k)} {v}"
                    for k, v in (counts or {}).items())


# --- running -------------------------------------------------------------------------------------
class AlreadyRunning(RuntimeError):
    """Another `daily` holds the lease."""


@dataclass
class DailyResult:
    run: str
    day: date
    steps: list[dict]

    @property
    def failed(self) -> list[str]:
        return [s["step"] for s in self.steps if s["status"] == "failed"]

    @property
    def stopped(self) -> bool:
        return any(s["status"] == "stopped" for s in self.steps)

    def as_dict(self) -> dict:
        return {"run": self.run, "as_of": self.day.isoformat(), "failed": self.failed,
                "stopped": self.stopped, "steps": self.steps}

    def lines(self) -> list[str]:
        marks = {"ok": "✓", "failed": "✗", "skipped": "－", "stopped": "■", "done": "✓"}
        out = [f"{self.day.isoformat()} の日次処理（{self.run}）"]
        for s in self.steps:
            counts = count_text(s.get("counts"))
            out.append(f"  {marks.get(s['status'], '?')} {s['label']}: {s['status_label']}"
                       + (f"（{counts}）" if counts else "") + (f" — {s['note']}" if s.get("note") else "")
                       + (f" — {s['error']}" if s.get("error") else ""))
        return out


STATUS_LABELS = {"ok": "完了", "failed": "失敗", "skipped": "実施せず", "stopped": "中断（停止の指示）",
                 "done": "完了済み（再実行なし）", "running": "実行中"}


def _done_today(session: Session, day: date, step: str) -> bool:
    row = session.scalars(select(JobRun).where(JobRun.job == JOB, JobRun.business_date == day,
                                               JobRun.step == step)
                          .order_by(JobRun.id.desc()).limit(1)).first()
    return row is not None and row.status == "ok"


def run_daily(engine: Engine, day: date, *, config: dict, actor: str = "system",
              steps: list[Step] | None = None, stop: threading.Event | None = None,
              progress=None, wait_for_lease: bool = True) -> DailyResult:
    """Run the day's steps in order under the `daily` lease; returns what each step did.

    When another run holds the lease, wait until it has had time to expire (a run that was killed)
    and give up with AlreadyRunning if it is still renewed (a run that is alive)."""
    steps = STEPS if steps is None else steps
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    ttl = float(config.get("DAILY_LEASE_SECONDS") or 60)
    held = lease.Held(engine, LEASE, ttl=ttl, renew_every=ttl / 3)
    # A run that died leaves its lease to expire; a live one keeps renewing it. Waiting a little longer
    # than the lease lasts tells the two apart.
    deadline = time.monotonic() + (ttl * 1.2 if wait_for_lease else 0)
    while not held.acquire():
        if time.monotonic() >= deadline:
            raise AlreadyRunning("another `notifier daily` is running (lease held); try again when it ends")
        time.sleep(min(1.0, ttl / 6))
    run_id = uuid.uuid4().hex[:12]
    ctx = Context(engine, sessions, day, actor, config)
    host = held.holder.rsplit(":", 1)[0]
    report, failed, fresh = [], set(), False
    try:
        for i, step in enumerate(steps):
            if progress:
                progress(step.label, i, len(steps))
            entry = {"step": step.name, "label": step.label}
            blocked = [d for d in step.depends_on if d in failed]
            if stop is not None and stop.is_set():
                entry.update(status="stopped", note="停止の指示（SIGTERM）により、この手順は実行していません。")
            elif blocked:
                entry.update(status="skipped", note="前の手順（" + "、".join(STEP_LABELS.get(b, b) for b in blocked)
                             + "）が失敗したため、実行していません。")
                failed.add(step.name)   # what depends on a step that did not run does not run either
            else:
                with sessions() as s:
                    already = not step.always and not fresh and _done_today(s, day, step.name)
                if already:
                    entry.update(status="done")
                else:
                    entry.update(_run_step(ctx, step, run_id, host))
                    if entry["status"] == "failed":
                        failed.add(step.name)
                    elif ctx.outcomes[step.name].new_data:
                        fresh = True
            if entry["status"] in ("skipped", "stopped"):
                _record(sessions, run_id, day, step.name, entry["status"], host, note=entry.get("note"))
            entry["status_label"] = STATUS_LABELS[entry["status"]]
            report.append(entry)
            log.info("daily step %s %s", step.name, entry["status"],
                     extra={"run": run_id, "as_of": day.isoformat(), "counts": entry.get("counts")})
        if progress:
            progress("", len(steps), len(steps))
    finally:
        held.release()
    return DailyResult(run_id, day, report)


def _record(sessions, run_id: str, day: date, step: str, status: str, host: str, **values) -> int:
    with sessions.begin() as s:
        row = JobRun(run=run_id, job=JOB, business_date=day, step=step, status=status, host=host,
                     started_at=clock.now(), finished_at=None if status == "running" else clock.now(), **values)
        s.add(row)
        s.flush()
        return row.id


def _run_step(ctx: Context, step: Step, run_id: str, host: str) -> dict:
    row_id = _record(ctx.sessions, run_id, ctx.day, step.name, "running", host)
    log.info("daily step %s start", step.name, extra={"run": run_id, "as_of": ctx.day.isoformat()})
    try:
        outcome = step.run(ctx)
    except Exception as exc:  # noqa: BLE001 - a failed step is recorded and stops its dependents
        log.exception("daily step %s failed", step.name, extra={"run": run_id})
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with ctx.sessions.begin() as s:
            s.execute(update(JobRun).where(JobRun.id == row_id).values(
                status="failed", finished_at=clock.now(), error=error,
                note=traceback.format_exc(limit=3)[-1000:]))
        return {"status": "failed", "error": error}
    ctx.outcomes[step.name] = outcome
    with ctx.sessions.begin() as s:
        s.execute(update(JobRun).where(JobRun.id == row_id).values(
            status="ok", finished_at=clock.now(), counts=outcome.counts, note=outcome.note))
    return {"status": "ok", "counts": outcome.counts, "note": outcome.note}


def stop_on_sigterm() -> threading.Event:
    """An event set by SIGTERM: the run finishes its current step, then stops."""
    stop = threading.Event()

    def handler(_signum, _frame):
        log.info("daily: SIGTERM received, stopping after the current step")
        stop.set()
    signal.signal(signal.SIGTERM, handler)
    return stop
