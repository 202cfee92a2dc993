"""Factories that build rows the way the application does (through its own service functions)."""
from __future__ import annotations

import re
import time

import pyotp

from notifier.auth.service import create_user
from notifier.models import StaffUser, utcnow

PASSWORD = "correct-horse-battery"


def create_staff(session, username: str, roles: list[str], *, enrolled: bool = True, **kw) -> StaffUser:
    user = create_user(session, username=username, password=PASSWORD, roles=roles,
                       organisation=kw.pop("organisation", "和泉市立第一小学校" if "caseworker" in roles else None),
                       **kw)
    if enrolled:
        user.totp_secret = pyotp.random_base32()
        user.totp_enrolled_at = utcnow()
    session.commit()
    return user


def next_totp_code(session, user: StaffUser) -> str:
    """A code for the first time step the server will still accept (it refuses reused steps)."""
    session.refresh(user)
    totp = pyotp.TOTP(user.totp_secret)
    current = int(time.time() // totp.interval)
    step = current - 1 if user.totp_last_step is None else max(current - 1, user.totp_last_step + 1)
    assert step <= current + 1, "too many sign-ins for one user within 30 seconds"
    return totp.generate_otp(step)


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, session, user: StaffUser, password: str = PASSWORD):
    token = csrf_token(client, "/login")
    resp = client.post("/login", data={"username": user.username, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    token = csrf_token(client, "/login/totp")
    resp = client.post("/login/totp", data={"code": next_totp_code(session, user), "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/"), resp.status_code
    return client
