"""The one place tests build deliveries without running eligibility: `queue` makes many queued
deliveries in bulk for residents who linked and consented (simulator users, one retry key each, a Flex
notice as the message, the way enqueue makes them); `make_delivery` makes one in any status, for the
staff pages and their actions."""
from __future__ import annotations

import itertools
import json
import uuid
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier import bulk, clock
from notifier.line.flex import notice_message
from notifier.models import ConsentEvent, Delivery, LineAccount, Notice, RuleVersion
from tests.factories import import_sources

DAY = date(2026, 7, 1)
MESSAGE = json.dumps([notice_message("和泉市からのお知らせ", "就学援助", ["学用品費などの援助があります。"],
                                     "https://apply.example.lg.jp/r/x", "https://www.city.example.lg.jp/",
                                     "和泉市からのお知らせ")],
                     ensure_ascii=False)


def residents(app, directory, n: int) -> list[str]:
    """n households of one resident each (宛名番号 1000001…); returns the 宛名番号."""
    atena = [f"{1000001 + i}" for i in range(n)]
    import_sources(app, directory, {"juminhyo": [
        {"宛名番号": a, "世帯番号": f"8{a}", "続柄": "世帯主", "氏名カナ": "イズミ ハナコ", "生年月日": "1985-04-01",
         "性別": "2"} for a in atena]})
    return atena


def rule_version(s: Session) -> RuleVersion:
    """The 就学援助 rule version deliveries point at: the loaded one, or a minimal one made here."""
    v = s.scalars(select(RuleVersion).where(RuleVersion.rule_id == "shugaku_enjo")).first()
    if v is None:
        v = RuleVersion(rule_id="shugaku_enjo", version=1, name="就学援助", definition="{}", content_hash="x",
                        status="active", created_by="test")
        s.add(v)
        s.flush()
    return v


_households = itertools.count(100001)


def make_delivery(s: Session, status: str = "queued", *, setai_no: str | None = None,
                  message: str = MESSAGE, **values) -> Delivery:
    """One delivery in `status`, with its own notice and linked account (no consent, no residents)."""
    v = rule_version(s)
    setai_no = setai_no or f"{next(_households):010d}"
    account = LineAccount(line_user_id="U" + uuid.uuid4().hex, atena_no="0000011")
    notice = Notice(setai_no=setai_no, rule_id=v.rule_id, rule_version_id=v.id, as_of=DAY)
    s.add_all([account, notice])
    s.flush()
    d = Delivery(notice_id=notice.id, line_account_id=account.id, atena_no="0000011", rule_id=v.rule_id,
                 rule_version_id=v.id, message=message, retry_key=str(uuid.uuid4()), status=status, **values)
    s.add(d)
    s.flush()
    return d


def _insert(conn, table: str, frame: pd.DataFrame) -> None:
    stamps = {c for c in frame.columns if c.endswith("_at")}
    for c in stamps:
        frame[c] = pd.to_datetime(frame[c])
    frame = bulk.iso_dates(frame, stamps)
    if "as_of" in frame:
        frame["as_of"] = frame["as_of"].map(lambda v: v.isoformat())
    bulk.insert_frame(conn, table, frame)


def queue(engine, atena: list[str], user_ids: list[str], *, consent: bool = True) -> list[int]:
    """Linked accounts (the simulator's user ids), notify consent, and one queued delivery each."""
    now = clock.now()
    with engine.begin() as conn:
        version = rule_version(Session(bind=conn)).id
        n = len(atena)
        setai = [f"8{a}" for a in atena]
        # No explicit ids: PostgreSQL's sequences must stay ahead of the rows (enqueue inserts after these).
        _insert(conn, "line_accounts", pd.DataFrame({
            "line_user_id": user_ids, "atena_no": atena,
            "linked_at": [now] * n, "link_channel": ["LINE"] * n, "reachable": [True] * n,
            "followed_at": [now] * n, "created_at": [now] * n}))
        account_of = dict(conn.execute(select(LineAccount.atena_no, LineAccount.id)
                                       .where(LineAccount.line_user_id.in_(user_ids))).all())
        if consent:
            _insert(conn, "consent_events", pd.DataFrame({
                "atena_no": atena, "setai_no": setai, "scope": ["notify"] * n,
                "action": ["grant"] * n, "channel": ["LINE"] * n, "occurred_at": [now] * n, "recorded_at": [now] * n}))
        _insert(conn, "notices", pd.DataFrame({
            "kind": ["notice"] * n, "setai_no": setai,
            "rule_id": ["shugaku_enjo"] * n, "rule_version_id": [version] * n, "as_of": [DAY] * n,
            "created_at": [now] * n}))
        notice_of = dict(conn.execute(select(Notice.setai_no, Notice.id).where(
            Notice.setai_no.in_(setai), Notice.kind == "notice", Notice.as_of == DAY)).all())
        _insert(conn, "deliveries", pd.DataFrame({
            "notice_id": [notice_of[h] for h in setai], "line_account_id": [account_of[a] for a in atena],
            "atena_no": atena, "rule_id": ["shugaku_enjo"] * n, "rule_version_id": [version] * n,
            "message": [MESSAGE] * n, "retry_key": [str(uuid.uuid4()) for _ in range(n)], "status": ["queued"] * n,
            "attempts": [0] * n, "next_attempt_at": [now] * n, "created_at": [now] * n, "updated_at": [now] * n}))
        return list(conn.execute(select(Delivery.id).where(Delivery.notice_id.in_(list(notice_of.values())))
                                 .order_by(Delivery.id)).scalars())


def withdraw(engine, atena_no: str) -> None:
    with engine.begin() as conn:
        conn.execute(ConsentEvent.__table__.insert().values(
            atena_no=atena_no, scope="notify", action="withdraw", channel="LINE", occurred_at=clock.now(),
            recorded_at=clock.now()))


def statuses(engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Delivery.id, Delivery.status)).all())
