"""The one function that writes the audit trail, and the Japanese labels of its actions."""
from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy.orm import Session

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


def record(session: Session, action: str, *, actor=None, target_type: str | None = None,
           target_id: str | int | None = None, detail: dict | None = None) -> AuditEvent:
    """Add one audit row to `session` (the caller's transaction commits it with the change itself).

    `actor` is a StaffUser, a label such as "system" or "line", or None for the signed-in user.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if actor is None and has_request_context():
        from flask import g
        actor = g.get("user")
    if actor is None:
        actor_id, actor_label = None, "system"
    elif isinstance(actor, str):
        actor_id, actor_label = None, actor
    else:
        actor_id, actor_label = actor.id, actor.username
    ip = request.remote_addr if has_request_context() else None
    row = AuditEvent(actor_id=actor_id, actor=actor_label, action=action, target_type=target_type,
                     target_id=None if target_id is None else str(target_id), detail=detail, ip=ip)
    session.add(row)
    return row
