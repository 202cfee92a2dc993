"""Server-side staff sessions (ログイン状態): the cookie carries only a random id, the row the rest.

A session ends at sign-out, after `idle` without a request, `max_age` after it began (signing in starts
a new one), and when the user's password or roles change (`revoke_user_sessions`). Only the SHA-256 of
the id is stored, so a copy of the table cannot be replayed as cookies. Functions take a Session or a
Core Connection from the caller, inside the caller's transaction.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from notifier.models import WebSession

# A cookie value longer than this is not one of ours (token_urlsafe(32) is 43 characters).
TOKEN_MAX_LENGTH = 64
# last_seen_at is written at most this often per session: the idle timeout is that much coarse, and a
# page view does not cost a database write.
TOUCH_EVERY = timedelta(seconds=60)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class StoredSession:
    id: int
    data: str
    last_seen_at: datetime


def load(db: Session | Connection, token: str, *, now: datetime, idle: timedelta) -> StoredSession | None:
    """The live session for a cookie value, or None (unknown, ended, idle too long or past its lifetime)."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    row = db.execute(select(WebSession.id, WebSession.data, WebSession.last_seen_at)
                     .where(WebSession.token_hash == token_hash(token), WebSession.expires_at > now,
                            WebSession.last_seen_at > now - idle)).first()
    return StoredSession(row.id, row.data, row.last_seen_at) if row else None


def create(db: Session | Connection, token: str, data: str, *, user_id: int | None, now: datetime,
           max_age: timedelta) -> None:
    db.execute(insert(WebSession).values(token_hash=token_hash(token), user_id=user_id, data=data,
                                         created_at=now, last_seen_at=now, expires_at=now + max_age))


def save(db: Session | Connection, session_id: int, data: str, *, user_id: int | None, now: datetime) -> None:
    db.execute(update(WebSession).where(WebSession.id == session_id)
               .values(data=data, user_id=user_id, last_seen_at=now))


def touch(db: Session | Connection, session_id: int, now: datetime) -> None:
    db.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=now))


def end(db: Session | Connection, session_id: int) -> None:
    db.execute(delete(WebSession).where(WebSession.id == session_id))


def revoke_user_sessions(db: Session | Connection, user_id: int) -> int:
    """End every session of a user (password or role change); returns how many there were."""
    return db.execute(delete(WebSession).where(WebSession.user_id == user_id)).rowcount or 0


def purge_expired(db: Session | Connection, *, now: datetime, idle: timedelta) -> int:
    """Delete sessions that can no longer be used (they would be refused anyway)."""
    return db.execute(delete(WebSession).where(
        or_(WebSession.expires_at <= now, WebSession.last_seen_at <= now - idle))).rowcount or 0


def count_for_user(db: Session | Connection, user_id: int) -> int:
    from sqlalchemy import func
    return db.execute(select(func.count()).select_from(WebSession)
                      .where(WebSession.user_id == user_id)).scalar_one()
