"""Server-side sessions: the cookie is an opaque random id; sign-out, password and role changes end
sessions; an idle timeout and an absolute lifetime; a new id at each sign-in step."""
from __future__ import annotations

import base64
import re
from datetime import timedelta

import time_machine
from sqlalchemy import select

from notifier import clock
from notifier.auth import service
from notifier.auth.sessions import token_hash
from notifier.models import AuditEvent, WebSession
from notifier.outreach.household import household_token
from tests.conftest import TEST_SECRET
from tests.factories import PASSWORD, create_staff, csrf_token, import_sources, next_totp_code, sign_in

COOKIE = "notifier_session"
# A household's consent page (its address is opaque: no resident number in the URL).
SEARCH = "/consents/h/" + household_token(TEST_SECRET, "0000100001")


def cookie(client) -> str | None:
    c = client.get_cookie(COOKIE)
    return c.value if c else None


def with_cookie(app, value: str):
    c = app.test_client()
    c.set_cookie(COOKIE, value, domain="localhost")
    return c


def test_a_cookie_saved_before_sign_out_opens_nothing_afterwards(app, client, db_session, tmp_path):
    import_sources(app, tmp_path, {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "0000100001"}]})
    user = create_staff(db_session, "tanaka", ["coordinator"])
    sign_in(client, db_session, user)
    saved = cookie(client)
    assert with_cookie(app, saved).get(SEARCH).status_code == 200        # the copy works while signed in
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/")}).status_code == 302
    for c in (with_cookie(app, saved), client):
        resp = c.get(SEARCH)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    db_session.expire_all()
    after = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "sign_out")).one()
    views = db_session.scalars(select(AuditEvent).where(AuditEvent.id > after.id,
                                                        AuditEvent.actor == "tanaka")).all()
    assert views == []                                    # nothing was done as that user after sign-out


def test_the_cookie_is_an_opaque_random_id_and_nothing_else(app, client, db_session):
    user = create_staff(db_session, "suzuki", ["rule_author"], enrolled=False)
    values = []
    client.get("/login")
    values.append(cookie(client))
    client.post("/login", data={"username": "suzuki", "password": PASSWORD, "csrf_token": csrf_token(client, "/login")})
    values.append(cookie(client))
    page = client.get("/login/enrol").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    for value in values:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value         # token_urlsafe(32): no payload, no signature
        decoded = base64.urlsafe_b64decode(value + "=")
        for leak in (b"user_id", b"stage", b"pw", b"enrol", secret.encode(), str(user.id).encode() + b"}"):
            assert leak not in decoded
        assert secret not in value
    # The enrolment secret lives in the session row, and only the id's hash is stored.
    db_session.expire_all()
    rows = db_session.scalars(select(WebSession)).all()
    assert values[1] not in {r.token_hash for r in rows}
    mine = next(r for r in rows if r.token_hash == token_hash(values[1]))
    assert secret in mine.data and mine.user_id == user.id


def test_each_sign_in_step_gives_a_new_id_and_ends_the_old_one(app, client, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    token = csrf_token(client, "/login")
    anonymous = cookie(client)
    client.post("/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": token})
    pending = cookie(client)
    client.post("/login/totp", data={"code": next_totp_code(db_session, user),
                                     "csrf_token": csrf_token(client, "/login/totp")})
    signed_in = cookie(client)
    assert len({anonymous, pending, signed_in}) == 3
    # An id planted before sign-in (session fixation) is worth nothing after it.
    for old in (anonymous, pending):
        assert with_cookie(app, old).get("/").status_code == 302
    assert with_cookie(app, signed_in).get("/").status_code == 200


def test_the_cookie_is_not_reissued_on_every_response(client, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    sign_in(client, db_session, user)
    resp = client.get("/")
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers
    set_cookie = client.post("/logout", data={"csrf_token": csrf_token(client, "/")}).headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Expires" not in set_cookie


def test_an_idle_session_ends(app, client, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    idle = app.config["SESSION_IDLE_MINUTES"]
    with time_machine.travel(clock.now_jst(), tick=True) as traveller:
        sign_in(client, db_session, user)
        traveller.shift(timedelta(minutes=idle - 2))
        assert client.get("/").status_code == 200           # a request in time keeps it alive …
        traveller.shift(timedelta(minutes=idle - 2))
        assert client.get("/").status_code == 200
        traveller.shift(timedelta(minutes=idle + 1))        # … and one after the idle time finds it ended
        resp = client.get("/")
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_busy_session_still_ends_at_its_absolute_lifetime(app, client, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    hours, idle = app.config["SESSION_MAX_HOURS"], app.config["SESSION_IDLE_MINUTES"]
    with time_machine.travel(clock.now_jst(), tick=True) as traveller:
        sign_in(client, db_session, user)
        elapsed = timedelta()
        while elapsed + timedelta(minutes=idle // 2) < timedelta(hours=hours):
            traveller.shift(timedelta(minutes=idle // 2))
            elapsed += timedelta(minutes=idle // 2)
            assert client.get("/").status_code == 200, elapsed
        traveller.shift(timedelta(minutes=idle // 2))
        assert client.get("/").status_code == 302


def test_a_password_change_ends_every_session_of_the_user(app, db_session, runner):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    other = create_staff(db_session, "sato", ["coordinator"])
    a, b, c = app.test_client(), app.test_client(), app.test_client()
    sign_in(a, db_session, user)
    sign_in(b, db_session, user)
    sign_in(c, db_session, other)
    result = runner.invoke(args=["users", "set-password", "tanaka", "--password", "another-long-password"])
    assert result.exit_code == 0 and "2 件を終了" in result.output, result.output
    assert a.get("/").status_code == 302 and b.get("/").status_code == 302
    assert c.get("/").status_code == 200                     # other users are not affected
    db_session.expire_all()
    row = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "password_changed")).one()
    assert (row.target_id, row.detail, row.actor.startswith("cli:")) == (str(user.id), {"sessions_ended": 2}, True)
    d = app.test_client()
    sign_in(d, db_session, user, password="another-long-password")
    assert d.get("/").status_code == 200


def test_a_role_change_ends_every_session_of_the_user(app, db_session, runner):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    a = app.test_client()
    sign_in(a, db_session, user)
    assert a.get("/consents/").status_code == 200
    result = runner.invoke(args=["users", "set-roles", "tanaka", "--role", "auditor"])
    assert result.exit_code == 0, result.output
    assert a.get("/consents/").status_code == 302          # signed out, not just refused
    sign_in(a, db_session, user)
    assert a.get("/consents/").status_code == 403 and a.get("/audit/").status_code == 200
    db_session.expire_all()
    row = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "roles_changed")).one()
    assert row.detail == {"from": ["coordinator"], "to": ["auditor"], "sessions_ended": 1}


def test_account_changes_refuse_what_they_cannot_do(db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    for call in (lambda: service.change_password(db_session, user, "short", actor="test"),
                 lambda: service.set_roles(db_session, user, ["nobody"], actor="test"),
                 lambda: service.set_roles(db_session, user, ["caseworker"], actor="test")):
        try:
            call()
        except service.AccountError:
            continue
        raise AssertionError("accepted")


def test_an_unknown_or_forged_cookie_is_an_anonymous_visitor(app):
    for value in ("x" * 43, "a" * 500, "", "eyJ1c2VyX2lkIjoxLCJzdGFnZSI6ImRvbmUifQ.Zabc.sig"):
        resp = with_cookie(app, value).get("/")
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_ended_sessions_are_purged(app, client, db_session):
    with time_machine.travel(clock.now_jst(), tick=True) as traveller:
        client.get("/login")
        db_session.expire_all()
        assert len(db_session.scalars(select(WebSession)).all()) == 1
        traveller.shift(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
        app.test_client().get("/login")                     # a new session purges the ended ones
        db_session.expire_all()
        assert len(db_session.scalars(select(WebSession)).all()) == 1
