"""Two-person approval of versioned data (rules, message templates): the one implementation.

A version is pending until a second person approves it (then the previous active version of the same
item is superseded) or rejects it; its author never approves it, except the audited `system` load at
installation. Every decision writes one audit row in the caller's transaction.
"""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from notifier import audit, clock

NOT_PENDING = "承認待ちの版ではありません。"
OWN_VERSION = "自分が作成した版は承認できません。別の承認者に依頼してください。"


def approve(session: Session, version, *, key: str, error: type[Exception], action: str, target_type: str,
            actor, system: bool = False) -> None:
    """Activate `version` (a row with status, created_by, decided_by/at, version and the column `key`
    naming its item); the item's active version becomes superseded."""
    if version.status != "pending":
        raise error(NOT_PENDING)
    label = audit.actor_label(actor)
    if not system and version.created_by == label:
        raise error(OWN_VERSION)
    model = type(version)
    item = getattr(version, key)
    session.execute(update(model).where(getattr(model, key) == item, model.status == "active")
                    .values(status="superseded"))
    version.status, version.decided_by, version.decided_at = "active", label, clock.now()
    audit.record(session, action, actor=actor, target_type=target_type, target_id=f"{item}@v{version.version}",
                 detail={"system": system})


def reject(session: Session, version, *, key: str, error: type[Exception], action: str, target_type: str,
           actor, note: str | None = None) -> None:
    if version.status != "pending":
        raise error(NOT_PENDING)
    version.status, version.decided_by, version.decided_at = "rejected", audit.actor_label(actor), clock.now()
    audit.record(session, action, actor=actor, target_type=target_type,
                 target_id=f"{getattr(version, key)}@v{version.version}", detail={"rejected": True, "note": note})
