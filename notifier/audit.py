"""The one function that writes the audit trail (操作履歴), who an action is recorded as, and the
Japanese labels of the actions.

A service that changes state calls `record(session, …)` in the same session as the change, so the
audit row commits or rolls back with it. The caller says who acted: the web layer passes the signed-in
user with the request's address (`web.current_actor()`), commands pass `Actor.operator()`, jobs a label
such as "system" or "line". Nothing here reads Flask's request state.
"""
from __future__ import annotations

import getpass
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from notifier import clock
from notifier.models.audit import AuditEvent

ACTIONS = {
    "sign_in": "サインイン",
    "sign_in_failed": "サインイン失敗",
    "sign_out": "サインアウト",
    "account_locked": "アカウントロック",
    "totp_enrolled": "二要素認証の登録",
    "user_created": "職員アカウント作成",
    "password_changed": "パスワード変更",
    "roles_changed": "役割の変更",
    "view_person": "個人情報の閲覧",
    "view_household": "世帯情報の閲覧",
    "export": "エクスポート",
    "import": "データ取込",
    "rule_change": "ルール変更",
    "rule_approve": "ルール承認",
    "template_change": "文面の変更",
    "template_approve": "文面の承認",
    "notice_enqueue": "お知らせの作成",
    "notice_dispatch": "お知らせの送信処理",
    "consent_change": "同意の変更",
    "line_link": "LINE連携",
    "link_decision": "名寄せの判断",
    "case_change": "ケースの変更",
    "view_case": "ケースの閲覧",
    "view_worklist": "見守りケース一覧の閲覧",
    "priority_change": "優先度の点数表の変更",
    "delivery_change": "お知らせの送信の操作",
    "access_denied": "権限のないアクセス",
}


@dataclass(frozen=True)
class Actor:
    """Who an audited action is recorded as: a staff user (id and username) or a label
    ("system", "line", "cli:<operator>", "demo"), and the client address for web requests."""

    label: str
    id: int | None = None
    ip: str | None = None

    @classmethod
    def staff(cls, user, ip: str | None = None) -> Actor:
        return cls(label=user.username, id=user.id, ip=ip)

    @classmethod
    def operator(cls) -> Actor:
        """The person running a command: recorded as `cli:<their login name>`."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (some containers)
            name = "unknown"
        return cls(label=f"cli:{name}")


def as_actor(actor) -> Actor:
    """An Actor from an Actor, a StaffUser or a label."""
    if isinstance(actor, Actor):
        return actor
    if isinstance(actor, str):
        return Actor(label=actor)
    if actor is None:
        raise ValueError("an audited action needs an actor")
    return Actor.staff(actor)


def actor_label(actor) -> str:
    return as_actor(actor).label


def record(session: Session | Connection, action: str, *, actor, target_type: str | None = None,
           target_id: str | int | None = None, detail: dict | None = None) -> AuditEvent | None:
    """Add one audit row in the caller's transaction, so it commits (or rolls back) with the change.

    `session` is an ORM Session (the row is added to it and returned) or a Core Connection inside a
    transaction, as bulk writers use (the row is inserted at once). `actor` is an Actor, a StaffUser,
    or a label such as "system" or "line".
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    who = as_actor(actor)
    values = {"actor_id": who.id, "actor": who.label[:64], "action": action, "target_type": target_type,
              "target_id": None if target_id is None else str(target_id), "detail": detail, "ip": who.ip}
    if isinstance(session, Connection):
        session.execute(insert(AuditEvent).values(at=clock.now(), **values))
        return None
    row = AuditEvent(**values)
    session.add(row)
    return row


# --- reading the trail (the audit page) ----------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """The audit page's filters; `start`/`end` are naive-UTC bounds (end exclusive), None = open."""

    action: str = ""
    actor: str = ""
    target: str = ""
    start: object = None
    end: object = None


def _filtered(filters: Filters):
    from sqlalchemy import select
    q = select(AuditEvent)
    if filters.action:
        q = q.where(AuditEvent.action == filters.action)
    if filters.actor:
        q = q.where(AuditEvent.actor == filters.actor)
    if filters.target:
        q = q.where(AuditEvent.target_id == filters.target)
    if filters.start is not None:
        q = q.where(AuditEvent.at >= filters.start)
    if filters.end is not None:
        q = q.where(AuditEvent.at < filters.end)
    return q


def search(session: Session, filters: Filters, *, page: int, page_size: int) -> tuple[int, list[AuditEvent]]:
    """(how many rows match, the rows of that page, newest first)."""
    from sqlalchemy import func, select
    q = _filtered(filters)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(AuditEvent.id.desc()).limit(page_size).offset((page - 1) * page_size)).all()
    return total, list(rows)


def count_events(session: Session) -> int:
    from sqlalchemy import func, select
    return session.scalar(select(func.count()).select_from(AuditEvent))


def names_for(session: Session, rows: list[AuditEvent]) -> dict:
    """What the rows' actors and targets are called, for the audit page (audit_presentation.Names):
    staff users by id, rule versions by "id@vN", import runs by id."""
    from sqlalchemy import select, tuple_

    from notifier.models import ImportRun, RuleVersion, StaffUser
    user_ids = {r.actor_id for r in rows if r.actor_id is not None}
    user_ids |= {int(r.target_id) for r in rows if r.target_type == "staff_user" and (r.target_id or "").isdigit()}
    users = {}
    if user_ids:
        users = {u.id: (u.display_name, u.username) for u in session.execute(
            select(StaffUser.id, StaffUser.display_name, StaffUser.username).where(StaffUser.id.in_(user_ids)))}
    versions = set()
    for r in rows:
        if r.target_type == "rule" and "@v" in (r.target_id or ""):
            rule_id, _, n = r.target_id.rpartition("@v")
            if n.isdigit():
                versions.add((rule_id, int(n)))
    rules = {}
    if versions:
        rules = {f"{v.rule_id}@v{v.version}": v.name for v in session.execute(
            select(RuleVersion.rule_id, RuleVersion.version, RuleVersion.name)
            .where(tuple_(RuleVersion.rule_id, RuleVersion.version).in_(sorted(versions))))}
    run_ids = {int(r.target_id) for r in rows if r.target_type in ("import_run", "quarantine")
               and (r.target_id or "").isdigit() and len(r.target_id) < 19}
    runs = {}
    if run_ids:
        runs = {x.id: (x.source, x.file) for x in session.execute(
            select(ImportRun.id, ImportRun.source, ImportRun.file).where(ImportRun.id.in_(run_ids)))}
    return {"users": users, "rules": rules, "runs": runs}
