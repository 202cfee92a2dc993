"""Enqueue (お知らせの作成): turn the latest eligibility run for a business date into notices and
their deliveries, and reminders of earlier notices (for follow-up). Set-based: frames in, one bulk
insert per table, in the caller's transaction with its audit row.

A notice is made for a (household, rule) match when the rule was evaluated in the run (not skipped
for missing or stale data), the match's rule version is the active (approved) one, the rule's template
has an active version, a member of the household holds `notify` with a linked, following LINE account
(`notifiable_accounts`), and the household had no notice of that rule within the rule's cool-down.
Each such account gets one delivery with its own retry key (uuid4), status queued.

The apply button's link names the delivery by its retry key (outbox/links.py), so each message is
rendered before its row is written: the message is rendered once per template with a marker in place
of the link, and the marker is replaced per delivery.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier import audit, bulk, clock
from notifier.eligibility.dao import active_rules
from notifier.eligibility.rules import RuleError, rule_from_json
from notifier.line.accounts import notifiable_accounts
from notifier.models import Delivery, EligibilityMatch, EligibilityRun, Notice, RuleVersion
from notifier.outbox import links
from notifier.outbox.template_dao import active_templates
from notifier.vector import isin

_MARKER = "https://marker.invalid/r/__TOKEN__"
_CHUNK = 5000   # ids per IN (…) list


class NoRun(LookupError):
    """No eligibility run for the date."""


@dataclass
class EnqueueResult:
    as_of: date
    run_id: int | None
    notices: int = 0
    deliveries: int = 0
    already_notified: int = 0          # matches skipped: a notice of the rule within the cool-down
    no_account: int = 0                # matches skipped: no notifiable LINE account in the household
    rules: dict = field(default_factory=dict)    # rule_id → {"notices", "deliveries"} or {"skipped": why}

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"{self.as_of} のお知らせ: {self.notices:,} 件（送信 {self.deliveries:,} 件）を作成しました。",
               f"  クールダウン中で除外 {self.already_notified:,} 世帯、LINE の送り先なし {self.no_account:,} 世帯"]
        for rule_id, r in sorted(self.rules.items()):
            if "skipped" in r:
                out.append(f"  {rule_id}: 作成しません（{r['skipped']}）")
            else:
                out.append(f"  {rule_id}: {r['notices']:,} 件（送信 {r['deliveries']:,} 件）")
        return out


def _signing_key(session: Session, signing_key: str | None) -> str:
    """The /r/ link key: given, or the app's SECRET_KEY the session factory puts in `session.info`."""
    key = signing_key or session.info.get("link_signing_key")
    if not key:
        raise ValueError("no link signing key: pass signing_key or use the app's session factory")
    return key


def _frame(session: Session, query, columns: list[str]) -> pd.DataFrame:
    """A query's rows as a frame (plain tuples: building it from Row objects costs seconds at city scale)."""
    return pd.DataFrame.from_records([tuple(r) for r in session.execute(query)], columns=columns)


def _chunks(values: list) -> list[list]:
    return [values[i:i + _CHUNK] for i in range(0, len(values), _CHUNK)] or [[]]


def _deliveries_frame(frame: pd.DataFrame, messages: dict[str, str], secret: str, public_base_url: str,
                      now) -> pd.DataFrame:
    """`frame` (notice_id, account_id, atena_no, rule_id, rule_version_id, template_id) → delivery rows."""
    n = len(frame)
    keys = [str(uuid.uuid4()) for _ in range(n)]
    tokens = links.make_tokens(secret, keys)
    urls = pd.Series([links.link_url(public_base_url, t) for t in tokens], index=frame.index)
    template_json = frame["template_key"].map(messages)
    # The marker is replaced per row; the JSON of each template is built once.
    message = pd.Series([m.replace(_MARKER, u) for m, u in zip(template_json.to_numpy(), urls.to_numpy())],
                        index=frame.index)
    stamp = pd.Series(np.full(n, np.datetime64(now, "us")), index=frame.index)
    out = pd.DataFrame({
        "notice_id": frame["notice_id"].astype("int64"), "line_account_id": frame["account_id"].astype("int64"),
        "atena_no": frame["atena_no"], "rule_id": frame["rule_id"],
        "rule_version_id": frame["rule_version_id"].astype("int64"), "message": message,
        "retry_key": keys, "status": "queued", "attempts": 0,
        "next_attempt_at": stamp, "created_at": stamp, "updated_at": stamp,
    })
    return bulk.iso_dates(out, {"next_attempt_at", "created_at", "updated_at"})


def _insert_notices(session: Session, rows: pd.DataFrame, now) -> pd.DataFrame:
    """Bulk insert notices; returns `rows` with their new `notice_id`."""
    conn = session.connection()
    stamp = np.datetime64(now, "us")
    frame = pd.DataFrame({
        "kind": rows["kind"], "reminder_of": rows["reminder_of"], "setai_no": rows["setai_no"],
        "rule_id": rows["rule_id"], "rule_version_id": rows["rule_version_id"].astype("int64"),
        "template_version_id": rows["template_version_id"].astype("int64"),
        "run_id": rows["run_id"], "match_id": rows["match_id"],
        "as_of": pd.to_datetime(pd.Series([rows["as_of"].iloc[0]] * len(rows), index=rows.index)),
        "created_at": pd.Series(np.full(len(rows), stamp), index=rows.index),
    })
    bulk.insert_frame(conn, Notice.__table__.name, bulk.iso_dates(frame, {"created_at"}))
    kind = rows["kind"].iloc[0]
    as_of = rows["as_of"].iloc[0]
    ids = pd.concat([_frame(session, select(Notice.id, Notice.rule_id, Notice.setai_no).where(
        Notice.as_of == as_of, Notice.kind == kind, Notice.rule_id.in_(rule_ids)), ["notice_id", "rule_id", "setai_no"])
        for rule_ids in _chunks(sorted(rows["rule_id"].unique().tolist()))])
    return rows.merge(ids, on=["rule_id", "setai_no"], how="inner", validate="one_to_one")


def _run_for(session: Session, as_of: date) -> EligibilityRun | None:
    return session.scalars(select(EligibilityRun).where(EligibilityRun.as_of == as_of)
                           .order_by(EligibilityRun.id.desc()).limit(1)).first()


def enqueue(session: Session, as_of: date, *, actor, public_base_url: str,
            signing_key: str | None = None) -> EnqueueResult:
    """Notices and deliveries for the latest eligibility run of `as_of` (see the module docstring).
    Re-running for the same date adds nothing. `signing_key`: the link key (default: SECRET_KEY)."""
    run = _run_for(session, as_of)
    if run is None:
        raise NoRun(f"no eligibility run for {as_of}: run `notifier eligibility run --as-of {as_of}` first")
    secret = _signing_key(session, signing_key)
    now = clock.now()
    result = EnqueueResult(as_of=as_of, run_id=run.id)
    summary = run.summary or {}
    active = {rule.id: (version, rule) for version, rule in active_rules(session)}
    templates = active_templates(session)
    ready: dict[str, tuple] = {}
    for rule_id in sorted(summary):
        entry = summary[rule_id] or {}
        pair = active.get(rule_id)
        if not entry.get("evaluated", False):
            result.rules[rule_id] = {"skipped": "判定されていません（データ不足または古いデータ）"}
        elif pair is None:
            result.rules[rule_id] = {"skipped": "ルールが有効ではありません"}
        elif pair[1].template not in templates:
            result.rules[rule_id] = {"skipped": f"文面「{pair[1].template}」に承認済みの版がありません"}
        else:
            ready[rule_id] = pair
    matches = _frame(session, select(EligibilityMatch.id, EligibilityMatch.rule_id, EligibilityMatch.rule_version_id,
                                     EligibilityMatch.setai_no)
                     .where(EligibilityMatch.run_id == run.id, EligibilityMatch.rule_id.in_(sorted(ready) or [""])),
                     ["match_id", "rule_id", "rule_version_id", "setai_no"])
    active_ids = pd.Series({rid: v.id for rid, (v, _r) in ready.items()}, dtype="int64")
    stale = matches["rule_version_id"].to_numpy() != matches["rule_id"].map(active_ids).to_numpy()
    for rule_id in sorted(set(matches.loc[stale, "rule_id"])):
        result.rules[rule_id] = {"skipped": "判定後にルールの版が変わりました（判定をやり直してください）"}
        ready.pop(rule_id)
    matches = matches[~stale]

    accounts = notifiable_accounts(session, as_of)
    reachable = isin(matches["setai_no"], accounts["setai_no"])
    result.no_account = int((~reachable).sum())
    matches = matches[reachable]

    cooldown = pd.Series({rid: r.cooldown_days for rid, (_v, r) in ready.items()}, dtype="int64")
    if len(matches):
        earliest = as_of - timedelta(days=int(cooldown.max()))
        recent = _frame(session, select(Notice.rule_id, Notice.setai_no, Notice.as_of)
                        .where(Notice.kind == "notice", Notice.rule_id.in_(sorted(ready)), Notice.as_of >= earliest),
                        ["rule_id", "setai_no", "notice_as_of"])
        if len(recent):
            recent["notice_as_of"] = pd.to_datetime(recent["notice_as_of"])
            start = pd.Timestamp(as_of) - pd.to_timedelta(recent["rule_id"].map(cooldown), unit="D")
            # Within the cool-down before D (D itself included: a re-run adds nothing), or later.
            blocked = recent[(recent["notice_as_of"] > start) | (recent["notice_as_of"] == pd.Timestamp(as_of))]
            key = pd.MultiIndex.from_frame(blocked[["rule_id", "setai_no"]].drop_duplicates())
            seen = pd.MultiIndex.from_frame(matches[["rule_id", "setai_no"]]).isin(key)
            result.already_notified = int(seen.sum())
            matches = matches[~seen]
    matches = matches.drop_duplicates(["rule_id", "setai_no"])

    for rule_id in ready:
        result.rules[rule_id] = {"notices": 0, "deliveries": 0}
    if len(matches):
        tv = {rid: templates[r.template][0].id for rid, (_v, r) in ready.items()}
        rows = matches.assign(kind="notice", reminder_of=None, run_id=run.id, as_of=as_of,
                              template_version_id=matches["rule_id"].map(tv))
        notices = _insert_notices(session, rows, now)
        messages = {rid: json.dumps(templates[r.template][1].render(_MARKER), ensure_ascii=False,
                                    separators=(",", ":")) for rid, (_v, r) in ready.items()}
        frame = notices.merge(accounts[["setai_no", "atena_no", "account_id"]], on="setai_no")
        frame["template_key"] = frame["rule_id"]
        deliveries = _deliveries_frame(frame, messages, secret, public_base_url, now)
        bulk.insert_frame(session.connection(), Delivery.__table__.name, deliveries)
        result.notices, result.deliveries = len(notices), len(deliveries)
        per_notice = notices.groupby("rule_id").size()
        per_delivery = deliveries.groupby("rule_id").size()
        for rule_id in per_notice.index:
            result.rules[rule_id] = {"notices": int(per_notice[rule_id]),
                                     "deliveries": int(per_delivery.get(rule_id, 0))}
    audit.record(session, "notice_enqueue", actor=actor, target_type="eligibility_run", target_id=run.id,
                 detail={"as_of": str(as_of), "notices": result.notices, "deliveries": result.deliveries,
                         "already_notified": result.already_notified, "no_account": result.no_account,
                         "skipped_rules": sorted(r for r, v in result.rules.items() if "skipped" in v)})
    return result


def enqueue_reminders(session: Session, as_of: date, notice_ids, *, actor, public_base_url: str,
                      signing_key: str | None = None) -> int:
    """One reminder (kind reminder, reminder_of = the notice) per given notice of kind notice that has
    none yet, with deliveries to the household's accounts notifiable on `as_of`, rendered with the
    template's reminder sentences. Free of the cool-down; a notice whose rule or template has no active
    version now, or whose household has no notifiable account today, gets none (a later call may).
    Returns the number of reminders made; calling again adds nothing (unique reminder_of)."""
    ids = sorted({int(i) for i in notice_ids})
    if not ids:
        return 0
    secret = _signing_key(session, signing_key)
    now = clock.now()
    got, done = [], set()
    for chunk in _chunks(ids):
        got += session.execute(select(Notice.id, Notice.setai_no, Notice.rule_id, Notice.rule_version_id)
                               .where(Notice.id.in_(chunk), Notice.kind == "notice")).all()
        done |= set(session.scalars(select(Notice.reminder_of).where(Notice.reminder_of.in_(chunk))))
    notices = pd.DataFrame(got, columns=["reminder_of", "setai_no", "rule_id", "rule_version_id"])
    notices = notices[~notices["reminder_of"].isin(done)]
    if not len(notices):
        return 0
    templates = active_templates(session)
    # The template a notice's rule version names (the version it was sent under).
    template_of = {}
    for vid in sorted(set(notices["rule_version_id"].tolist())):
        row = session.get(RuleVersion, int(vid))
        try:
            template_of[vid] = rule_from_json(row.definition, f"{row.rule_id}@v{row.version}").template
        except RuleError:
            continue
    active_rule_ids = {rule.id for _v, rule in active_rules(session)}
    notices["template_id"] = notices["rule_version_id"].map(template_of)
    notices = notices[notices["template_id"].isin(list(templates)) & notices["rule_id"].isin(active_rule_ids)]
    accounts = notifiable_accounts(session, as_of)
    notices = notices[isin(notices["setai_no"], accounts["setai_no"])]
    # At most one reminder per (rule, household, day) (the notices' unique key).
    notices = notices.drop_duplicates(["rule_id", "setai_no"])
    if not len(notices):
        return 0
    rows = notices.assign(kind="reminder", run_id=None, match_id=None, as_of=as_of,
                          template_version_id=notices["template_id"].map({t: v.id for t, (v, _m) in templates.items()}))
    made = _insert_notices(session, rows, now)
    messages = {t: json.dumps(m.render(_MARKER, reminder=True), ensure_ascii=False, separators=(",", ":"))
                for t, (_v, m) in templates.items()}
    frame = made.merge(accounts[["setai_no", "atena_no", "account_id"]], on="setai_no")
    frame["template_key"] = frame["template_id"]
    deliveries = _deliveries_frame(frame, messages, secret, public_base_url, now)
    bulk.insert_frame(session.connection(), Delivery.__table__.name, deliveries)
    audit.record(session, "notice_enqueue", actor=actor, target_type="reminder",
                 detail={"as_of": str(as_of), "reminders": len(made), "deliveries": len(deliveries)})
    return len(made)


def notified_recently(session: Session, rule_id: str, setai_nos, as_of: date, cooldown_days: int) -> int:
    """How many of `setai_nos` had a notice of `rule_id` within the cool-down before `as_of` (the
    households enqueue would skip): the reach preview's 「通知する見込み」 subtracts them."""
    start = as_of - timedelta(days=int(cooldown_days))
    noticed = set(session.scalars(select(Notice.setai_no).where(
        Notice.kind == "notice", Notice.rule_id == rule_id,
        (Notice.as_of > start) | (Notice.as_of == as_of))).all())
    return len(noticed & set(setai_nos))
