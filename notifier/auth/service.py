"""Account operations: create staff users, sign-in checks with lock-out, TOTP, password and role changes.

Lock-out holds under parallel guesses: before a password (argon2) or a code is checked, the attempt
takes one of the account's `max_failures` places with a conditional UPDATE … RETURNING that commits at
once; a guess that finds no place left is refused unchecked. A right answer gives its place back; a
wrong one keeps it, and the one that fills the last place locks the account (from the count the UPDATE
returned). So however many guesses arrive together, at most `max_failures` wrong ones are checked.
Sign-in checks therefore take the Engine and commit their own short units (like the bulk writers); the
slow argon2 check runs between them, holding no lock.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from notifier import audit, clock
from notifier.auth import passwords, sessions, totp
from notifier.contract import ROLES
from notifier.models import StaffRole, StaffUser


class AccountError(ValueError):
    """A problem with an account operation; the message is Japanese, for staff."""


def dao_get_user_by_username(session: Session, username: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(func.lower(StaffUser.username) == username.lower()))


def dao_get_user(session: Session, user_id: int) -> StaffUser | None:
    return session.get(StaffUser, user_id)


def dao_count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StaffUser).where(StaffUser.active.is_(True)))


def dao_display_names(session: Session, user_ids) -> dict[int, tuple[str, str]]:
    """user id → (display name, username), for pages that name the people behind records."""
    ids = {int(i) for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(select(StaffUser.id, StaffUser.display_name, StaffUser.username)
                           .where(StaffUser.id.in_(ids)))
    return {r.id: (r.display_name, r.username) for r in rows}


def _check_roles(roles: list[str], organisation: str | None) -> None:
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise AccountError(f"役割が正しくありません: {', '.join(unknown) or '(なし)'}")
    if "caseworker" in roles and not organisation:
        raise AccountError("支援機関担当者（caseworker）には所属機関が必要です。")


def create_user(session: Session, *, username: str, password: str, roles: list[str],
                display_name: str | None = None, organisation: str | None = None,
                tax_permission: bool = False, child_welfare_permission: bool = False,
                actor=None) -> StaffUser:
    username = username.strip()
    if not username:
        raise AccountError("ユーザー名を入力してください。")
    _check_roles(roles, organisation)
    problem = passwords.password_problem(password)
    if problem:
        raise AccountError(problem)
    if dao_get_user_by_username(session, username):
        raise AccountError(f"ユーザー名 {username} は既に使われています。")
    user = StaffUser(username=username, display_name=(display_name or "").strip() or username,
                     password_hash=passwords.hash_password(password), organisation=organisation,
                     tax_permission=tax_permission, child_welfare_permission=child_welfare_permission,
                     failed_logins=0, active=True)
    user.roles = [StaffRole(role=r) for r in dict.fromkeys(roles)]
    session.add(user)
    session.flush()
    audit.record(session, "user_created", actor=actor or "system", target_type="staff_user",
                 target_id=user.id, detail={"roles": sorted(set(roles)), "tax": tax_permission})
    return user


def change_password(session: Session, user: StaffUser, password: str, *, actor) -> int:
    """Set a new password and end every session of the user; returns how many sessions ended."""
    problem = passwords.password_problem(password)
    if problem:
        raise AccountError(problem)
    user.password_hash = passwords.hash_password(password)
    session.flush()
    ended = sessions.revoke_user_sessions(session, user.id)
    audit.record(session, "password_changed", actor=actor, target_type="staff_user", target_id=user.id,
                 detail={"sessions_ended": ended})
    return ended


def set_roles(session: Session, user: StaffUser, roles: list[str], *, actor) -> int:
    """Replace the user's roles and end every session of the user; returns how many sessions ended."""
    _check_roles(roles, user.organisation)
    before = sorted(user.role_names)
    after = sorted(dict.fromkeys(roles))
    user.roles = [StaffRole(role=r) for r in after]
    session.flush()
    ended = sessions.revoke_user_sessions(session, user.id)
    audit.record(session, "roles_changed", actor=actor, target_type="staff_user", target_id=user.id,
                 detail={"from": before, "to": after, "sessions_ended": ended})
    return ended


def is_locked(user: StaffUser, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or clock.now())


# --- sign-in checks -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    max_failures: int
    lock_minutes: int


@dataclass(frozen=True)
class PasswordCheck:
    """The first factor's verdict: the user when the password was right and the account not locked."""

    user_id: int | None = None
    enrolled: bool = False
    totp_step: int | None = None      # the last used TOTP step then: the second factor must start from it


def _not_locked(now: datetime):
    return (StaffUser.locked_until.is_(None)) | (StaffUser.locked_until <= now)


def _take_place(conn: Connection, user_id: int, limits: Limits, now: datetime, *also) -> int | None:
    """Count this attempt before checking it; the count including it, or None when no place is left
    (or a condition in `also` no longer holds)."""
    return conn.execute(update(StaffUser)
                        .where(StaffUser.id == user_id, StaffUser.active.is_(True), _not_locked(now),
                               StaffUser.failed_logins < limits.max_failures, *also)
                        .values(failed_logins=StaffUser.failed_logins + 1)
                        .returning(StaffUser.failed_logins)).scalar()


def _give_place_back(conn: Connection, user_id: int) -> None:
    conn.execute(update(StaffUser).where(StaffUser.id == user_id).values(
        failed_logins=case((StaffUser.failed_logins > 0, StaffUser.failed_logins - 1), else_=0)))


def _lock(conn: Connection, user_id: int, actor: audit.Actor, limits: Limits, now: datetime,
          failures: int | None) -> bool:
    """Lock the account if its count is (still) at the limit; the audit row only from the UPDATE that
    locked it. Reached from the guess that filled the last place, and from a guess that found no place
    while none is locked (the last place's guess is still being checked, or a crash lost one)."""
    locked = conn.execute(update(StaffUser)
                          .where(StaffUser.id == user_id, StaffUser.failed_logins >= limits.max_failures,
                                 _not_locked(now))
                          .values(locked_until=now + timedelta(minutes=limits.lock_minutes), failed_logins=0)
                          .returning(StaffUser.id)).scalar()
    if locked is not None:
        audit.record(conn, "account_locked", actor=actor, target_type="staff_user", target_id=user_id,
                     detail={"minutes": limits.lock_minutes, "failures": failures or limits.max_failures})
    return locked is not None


def _refuse_locked(conn: Connection, user_id: int, actor: audit.Actor, limits: Limits, now: datetime,
                   factor: str) -> None:
    _lock(conn, user_id, actor, limits, now, None)
    audit.record(conn, "sign_in_failed", actor=actor, target_type="staff_user", target_id=user_id,
                 detail={"reason": "locked", "factor": factor})


def _locked_now(conn: Connection, user_id: int, now: datetime) -> bool:
    until = conn.execute(select(StaffUser.locked_until).where(StaffUser.id == user_id)).scalar()
    return until is not None and until > now


def check_password(engine: Engine, username: str, password: str, *, max_failures: int, lock_minutes: int,
                   ip: str | None = None) -> PasswordCheck:
    """First factor. Every attempt is audited; see the module docstring for the lock-out."""
    limits = Limits(max_failures, lock_minutes)
    with Session(engine) as s:
        user = dao_get_user_by_username(s, username)
        found = (user.id, user.username, user.password_hash, user.totp_enrolled_at is not None,
                 user.totp_last_step) if user is not None and user.active else None
    if found is None:
        passwords.verify_password(None, password)     # as slow as a real check: no hint that it exists
        with engine.begin() as conn:
            audit.record(conn, "sign_in_failed", actor=audit.Actor("anonymous", ip=ip),
                         detail={"reason": "unknown_user"})
        return PasswordCheck()
    user_id, name, stored_hash, enrolled, step = found
    actor = audit.Actor(label=name, id=user_id, ip=ip)
    now = clock.now()
    with engine.begin() as conn:
        place = _take_place(conn, user_id, limits, now)
        if place is None:
            _refuse_locked(conn, user_id, actor, limits, now, "password")
            return PasswordCheck()
    ok = passwords.verify_password(stored_hash, password)
    now = clock.now()
    with engine.begin() as conn:
        if ok:
            _give_place_back(conn, user_id)
            if _locked_now(conn, user_id, now):   # locked by guesses that ran beside this one
                audit.record(conn, "sign_in_failed", actor=actor, target_type="staff_user", target_id=user_id,
                             detail={"reason": "locked", "factor": "password"})
                return PasswordCheck()
            return PasswordCheck(user_id=user_id, enrolled=enrolled, totp_step=step)
        audit.record(conn, "sign_in_failed", actor=actor, target_type="staff_user", target_id=user_id,
                     detail={"reason": "password", "failures": place})
        if place >= limits.max_failures:
            _lock(conn, user_id, actor, limits, now, place)
    return PasswordCheck()


SIGNED_IN, WRONG, REUSED, STALE, LOCKED = "signed_in", "wrong", "reused", "stale", "locked"


def check_totp(engine: Engine, user_id: int, code: str, *, since_step: int | None, secret: str | None = None,
               max_failures: int, lock_minutes: int, ip: str | None = None) -> str:
    """Second factor against the enrolled secret (or `secret` while enrolling).

    `since_step` is the account's last used step when its password was accepted (PasswordCheck): once
    anyone signs in as the user, the step moves on and the sign-ins begun before it are over — their
    codes are not checked (a sign-in resets the count, and those attempts must not count afresh).
    Returns SIGNED_IN, WRONG (counted towards lock-out), REUSED (a right code whose 30 s step was
    already used: not counted, the person waits for the next code), STALE (another sign-in as the user
    completed since this one's password: start again; not counted) or LOCKED. A step is used once even
    under parallel requests (a conditional UPDATE of totp_last_step).
    """
    limits = Limits(max_failures, lock_minutes)
    with Session(engine) as s:
        user = dao_get_user(s, user_id)
        if user is None or not user.active:
            return LOCKED
        name, enrolled_secret = user.username, user.totp_secret
    last_step = since_step
    actor = audit.Actor(label=name, id=user_id, ip=ip)
    now = clock.now()
    unchanged = StaffUser.totp_last_step.is_(None) if last_step is None else StaffUser.totp_last_step == last_step
    with engine.begin() as conn:
        place = _take_place(conn, user_id, limits, now, unchanged)
        if place is None:
            step_now = conn.execute(select(StaffUser.totp_last_step).where(StaffUser.id == user_id)).scalar()
            if step_now != last_step:
                audit.record(conn, "sign_in_failed", actor=actor, target_type="staff_user", target_id=user_id,
                             detail={"reason": "totp_stale"})
                return STALE
            _refuse_locked(conn, user_id, actor, limits, now, "totp")
            return LOCKED
    verdict = totp.check(secret or enrolled_secret or "", code, last_step)
    now = clock.now()
    with engine.begin() as conn:
        if verdict.step is not None:
            values = {"totp_last_step": verdict.step, "failed_logins": 0, "last_login_at": now}
            if secret is not None:
                values |= {"totp_secret": secret, "totp_enrolled_at": now}
            claimed = conn.execute(update(StaffUser)
                                   .where(StaffUser.id == user_id, _not_locked(now),
                                          (StaffUser.totp_last_step.is_(None))
                                          | (StaffUser.totp_last_step < verdict.step))
                                   .values(**values).returning(StaffUser.id)).scalar()
            if claimed is None:
                _give_place_back(conn, user_id)
                if _locked_now(conn, user_id, now):
                    return LOCKED
                verdict = totp.CodeCheck(reused=True)      # a parallel request used this step first
            else:
                if secret is not None:
                    audit.record(conn, "totp_enrolled", actor=actor, target_type="staff_user", target_id=user_id)
                audit.record(conn, "sign_in", actor=actor, target_type="staff_user", target_id=user_id)
                return SIGNED_IN
        if verdict.reused:
            _give_place_back(conn, user_id)
            audit.record(conn, "sign_in_failed", actor=actor, target_type="staff_user", target_id=user_id,
                         detail={"reason": "totp_reused"})
            return REUSED
        audit.record(conn, "sign_in_failed", actor=actor, target_type="staff_user", target_id=user_id,
                     detail={"reason": "totp", "failures": place})
        if place >= limits.max_failures and _lock(conn, user_id, actor, limits, now, place):
            return LOCKED
    return WRONG
