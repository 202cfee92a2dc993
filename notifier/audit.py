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
    "view_person": "個人情報の閲覧",
    "view_household": "世帯情報の閲覧",
    "export": "エクスポート",
    "import": "データ取込",
    "rule_change": "ルール変更",
    "rule_approve": "ルール承認",
    "consent_change": "同意の変更",
    "line_link": "LINE連携",
    "link_decision": "名寄せの判断",
    "case_change": "ケースの変更",
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
