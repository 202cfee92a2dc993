"""Account operations: create staff users, check passwords with lock-out, TOTP enrolment."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifier import audit, clock
from notifier.auth import passwords, totp
from notifier.contract import ROLES
from notifier.models import StaffRole, StaffUser


class AccountError(ValueError):
    """A problem with an account operation; the message is Japanese, for staff."""


def dao_get_user_by_username(session: Session, username: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(func.lower(StaffUser.username) == username.lower()))


def create_user(session: Session, *, username: str, password: str, roles: list[str],
                display_name: str | None = None, organisation: str | None = None,
                tax_permission: bool = False, child_welfare_permission: bool = False,
                actor=None) -> StaffUser:
    username = username.strip()
    if not username:
        raise AccountError("ユーザー名を入力してください。")
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise AccountError(f"役割が正しくありません: {', '.join(unknown) or '(なし)'}")
    if "caseworker" in roles and not organisation:
        raise AccountError("支援機関担当者（caseworker）には所属機関が必要です。")
    problem = passwords.password_problem(password)
    if problem:
        raise AccountError(problem)
    if dao_get_user_by_username(session, username):
        raise AccountError(f"ユーザー名 {username} は既に使われています。")
    user = StaffUser(username=username, display_name=display_name or username,
                     password_hash=passwords.hash_password(password), organisation=organisation,
                     tax_permission=tax_permission, child_welfare_permission=child_welfare_permission,
                     failed_logins=0, active=True)
    user.roles = [StaffRole(role=r) for r in dict.fromkeys(roles)]
    session.add(user)
    session.flush()
    audit.record(session, "user_created", actor=actor or "system", target_type="staff_user",
                 target_id=user.id, detail={"roles": sorted(set(roles)), "tax": tax_permission})
    return user


def is_locked(user: StaffUser, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or clock.now())


def check_password(session: Session, username: str, password: str, *, max_failures: int,
                   lock_minutes: int, ip: str | None = None) -> StaffUser | None:
    """First factor. Counts failures, locks the account after `max_failures`; audits every try."""
    user = dao_get_user_by_username(session, username)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not user.active:
        audit.record(session, "sign_in_failed", actor=audit.Actor("anonymous", ip=ip),
                     detail={"reason": "unknown_user"})
        return None
    if is_locked(user):
        audit.record(session, "sign_in_failed", actor=audit.Actor.staff(user, ip), target_type="staff_user",
                     target_id=user.id, detail={"reason": "locked"})
        return None
    if not ok:
        register_failure(session, user, "password", max_failures=max_failures, lock_minutes=lock_minutes, ip=ip)
        return None
    return user


def register_failure(session: Session, user: StaffUser, factor: str, *, max_failures: int,
                     lock_minutes: int, ip: str | None = None) -> None:
    actor = audit.Actor.staff(user, ip)
    user.failed_logins = (user.failed_logins or 0) + 1
    audit.record(session, "sign_in_failed", actor=actor, target_type="staff_user", target_id=user.id,
                 detail={"reason": factor, "failures": user.failed_logins})
    if user.failed_logins >= max_failures:
        user.locked_until = clock.now() + timedelta(minutes=lock_minutes)
        user.failed_logins = 0
        audit.record(session, "account_locked", actor=actor, target_type="staff_user",
                     target_id=user.id, detail={"minutes": lock_minutes})


def check_totp(session: Session, user: StaffUser, code: str, *, secret: str | None = None,
               max_failures: int, lock_minutes: int, ip: str | None = None) -> bool:
    """Second factor against the enrolled secret (or `secret` while enrolling)."""
    if is_locked(user):
        return False
    step = totp.verify(secret or user.totp_secret or "", code, user.totp_last_step)
    if step is None:
        register_failure(session, user, "totp", max_failures=max_failures, lock_minutes=lock_minutes, ip=ip)
        return False
    user.totp_last_step = step
    if secret is not None:
        user.totp_secret = secret
        user.totp_enrolled_at = clock.now()
        audit.record(session, "totp_enrolled", actor=audit.Actor.staff(user, ip), target_type="staff_user",
                     target_id=user.id)
    user.failed_logins = 0
    user.last_login_at = clock.now()
    audit.record(session, "sign_in", actor=audit.Actor.staff(user, ip), target_type="staff_user", target_id=user.id)
    return True
