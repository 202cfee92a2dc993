"""Lock-out under real parallel guesses: many wrong passwords (or codes) at once over HTTP, against the
app served by werkzeug (threads) and by gunicorn (two worker processes), on SQLite and PostgreSQL.

However the guesses interleave, no more than LOGIN_MAX_FAILURES wrong ones are checked before the
account locks, a right answer does not get in once it is locked, and the row ends consistent.
"""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
import requests
from sqlalchemy import select

from notifier import clock
from notifier.auth import passwords, totp
from notifier.models import AuditEvent, StaffUser
from tests.factories import PASSWORD, create_staff, next_totp_code
from tests.servers import gunicorn_server, werkzeug_server

MAX_FAILURES = 5   # the default LOGIN_MAX_FAILURES


def _form_token(http: requests.Session, url: str) -> str:
    page = http.get(url, timeout=60)
    assert page.status_code == 200, (url, page.status_code)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _blast(jobs) -> list:
    """Run the callables at the same moment (a barrier), each in its own thread."""
    barrier = threading.Barrier(len(jobs))

    def run(job):
        barrier.wait()
        return job()
    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _reasons(session, user_id) -> list[str]:
    session.expire_all()
    rows = session.scalars(select(AuditEvent).where(AuditEvent.target_id == str(user_id),
                                                    AuditEvent.action == "sign_in_failed")).all()
    return [r.detail["reason"] for r in rows]


def _actions(session, user_id) -> list[str]:
    session.expire_all()
    return [r.action for r in session.scalars(select(AuditEvent).where(AuditEvent.target_id == str(user_id)))]


class Counter:
    """Counts calls of a function the server (in this process) makes."""

    def __init__(self, monkeypatch, module, name):
        self.calls = 0
        self._lock = threading.Lock()
        original = getattr(module, name)

        def counted(*args, **kwargs):
            with self._lock:
                self.calls += 1
            return original(*args, **kwargs)
        monkeypatch.setattr(module, name, counted)


@pytest.fixture(params=["werkzeug", "gunicorn"])
def served(request, database_url, tmp_path):
    if request.param == "werkzeug":
        with werkzeug_server(database_url) as (url, _app):
            yield url, True
    else:
        with gunicorn_server(database_url, tmp_path) as server:
            yield server.url, False


@pytest.mark.parametrize("wrong", [20, 40])
def test_parallel_wrong_passwords_check_no_more_than_the_limit(served, db_session, monkeypatch, wrong):
    url, in_process = served
    argon2 = Counter(monkeypatch, passwords, "verify_password")
    user = create_staff(db_session, "tanaka", ["coordinator"])
    attempts = [f"wrong-password-{i:02d}" for i in range(wrong)] + [PASSWORD]
    sessions = [requests.Session() for _ in attempts]
    tokens = [_form_token(s, f"{url}/login") for s in sessions]

    def attempt(i):
        return lambda: sessions[i].post(f"{url}/login", data={"username": "tanaka", "password": attempts[i],
                                                              "csrf_token": tokens[i]},
                                        allow_redirects=False, timeout=120).status_code
    statuses = _blast([attempt(i) for i in range(len(attempts))])

    reasons = _reasons(db_session, user.id)
    checked_wrong = reasons.count("password")
    right_got_through = statuses[-1] == 302
    assert MAX_FAILURES - 1 <= checked_wrong <= MAX_FAILURES, reasons
    assert statuses[:-1].count(401) == wrong                     # every wrong one refused
    assert len(reasons) == wrong + (0 if right_got_through else 1)   # every attempt audited once
    assert reasons.count("locked") == len(reasons) - checked_wrong    # the rest were refused unchecked
    if in_process:
        assert argon2.calls <= MAX_FAILURES + 1                   # ≤ limit wrong ones, plus the right one
    db_session.expire_all()
    row = db_session.get(StaffUser, user.id)
    assert row.locked_until is not None and row.locked_until > clock.now()
    assert row.failed_logins == 0                                 # reset when it locked, never negative
    assert _actions(db_session, user.id).count("account_locked") == 1

    # Locked: the right password is refused now, and a session that got past it earlier goes no further.
    s = requests.Session()
    resp = s.post(f"{url}/login", data={"username": "tanaka", "password": PASSWORD,
                                        "csrf_token": _form_token(s, f"{url}/login")}, allow_redirects=False)
    assert resp.status_code == 401
    if right_got_through:
        early = sessions[-1]
        resp = early.post(f"{url}/login/totp", data={"code": next_totp_code(db_session, user),
                                                     "csrf_token": _form_token(early, f"{url}/login/totp")},
                          allow_redirects=False)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert "sign_in" not in _actions(db_session, user.id)
    assert s.get(f"{url}/", allow_redirects=False).status_code == 302


def test_parallel_wrong_codes_check_no_more_than_the_limit(served, db_session, monkeypatch):
    url, in_process = served
    checks = Counter(monkeypatch, totp, "check")
    user = create_staff(db_session, "tanaka", ["coordinator"])
    right = next_totp_code(db_session, user)
    wrong = [c for c in (f"{i:06d}" for i in range(100000, 100060)) if c != right][:40]
    http = requests.Session()
    resp = http.post(f"{url}/login", data={"username": "tanaka", "password": PASSWORD,
                                           "csrf_token": _form_token(http, f"{url}/login")}, allow_redirects=False)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/totp")
    token = _form_token(http, f"{url}/login/totp")
    codes = wrong + [right]

    def attempt(code):
        # One signed-in-with-password session, shared: the cookie jar is copied per thread.
        s = requests.Session()
        s.cookies.update(http.cookies)
        return lambda: s.post(f"{url}/login/totp", data={"code": code, "csrf_token": token},
                              allow_redirects=False, timeout=120)
    answers = _blast([attempt(c) for c in codes])

    reasons = _reasons(db_session, user.id)
    assert reasons.count("totp") <= MAX_FAILURES, reasons
    if in_process:
        assert checks.calls <= MAX_FAILURES + 1
    signed_in = answers[-1].status_code == 302 and answers[-1].headers["Location"].endswith("/")
    db_session.expire_all()
    row = db_session.get(StaffUser, user.id)
    if signed_in:
        # The right code got in: the sign-in reset the count and ended the pending sign-in, so the wrong
        # codes still under way with it were not checked (totp_stale) or found no session at all.
        assert row.locked_until is None and _actions(db_session, user.id).count("sign_in") == 1
    else:
        assert MAX_FAILURES - 1 <= reasons.count("totp") <= MAX_FAILURES
        assert row.locked_until is not None and row.failed_logins == 0
        assert "sign_in" not in _actions(db_session, user.id)
        # Locked: the pending sign-in ended with the lock (a right code on it is refused: its session is
        # gone, so even its CSRF token is), and a fresh sign-in stops at the password.
        resp = http.post(f"{url}/login/totp", data={"code": pyotp.TOTP(row.totp_secret).now(), "csrf_token": token},
                         allow_redirects=False)
        assert resp.status_code in (302, 400) and "sign_in" not in _actions(db_session, user.id)
        assert http.get(f"{url}/", allow_redirects=False).status_code == 302
        fresh = requests.Session()
        resp = fresh.post(f"{url}/login", data={"username": "tanaka", "password": PASSWORD,
                                                "csrf_token": _form_token(fresh, f"{url}/login")}, allow_redirects=False)
        assert resp.status_code == 401
