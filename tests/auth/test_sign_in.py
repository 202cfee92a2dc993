"""Sign-in with password and TOTP, enrolment, lock-out, CSRF, session cookie flags."""
from __future__ import annotations

import pyotp
from sqlalchemy import select

from notifier.models import AuditEvent
from tests.factories import PASSWORD, create_staff, csrf_token, next_totp_code, sign_in


def _audit_actions(session):
    session.expire_all()
    return [row.action for row in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_it_signs_in_with_password_and_second_factor(client, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    sign_in(client, db_session, user)
    page = client.get("/")
    assert page.status_code == 200
    assert "ダッシュボード" in page.get_data(as_text=True)
    assert "sign_in" in _audit_actions(db_session)


def test_it_does_not_sign_in_with_the_password_alone(client, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    token = csrf_token(client, "/login")
    resp = client.post("/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/totp")
    # Password accepted, second factor not given: staff pages still redirect to sign-in.
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    # A wrong code is refused and counted.
    token = csrf_token(client, "/login/totp")
    resp = client.post("/login/totp", data={"code": "000000", "csrf_token": token})
    assert resp.status_code == 401
    assert client.get("/").status_code == 302
    db_session.refresh(user)
    assert user.failed_logins == 1


def test_it_refuses_a_reused_totp_code_and_says_to_wait_without_counting_it(client, app, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    code = next_totp_code(db_session, user)
    answers = []
    for _ in range(2):
        c = app.test_client()
        token = csrf_token(c, "/login")
        c.post("/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": token})
        token = csrf_token(c, "/login/totp")
        answers.append(c.post("/login/totp", data={"code": code, "csrf_token": token}))
    assert [a.status_code for a in answers] == [302, 401]
    page = answers[1].get_data(as_text=True)
    assert "この確認コードはすでに使われました" in page and "次のコードが表示されるまで" in page
    assert "確認コードが正しくありません" not in page
    db_session.refresh(user)
    assert user.failed_logins == 0                       # not a guess: it does not count towards lock-out
    db_session.expire_all()
    last = db_session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (last.action, last.detail) == ("sign_in_failed", {"reason": "totp_reused"})


def test_reused_codes_never_lock_the_account(client, app, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    sign_in(client, db_session, user)
    db_session.refresh(user)
    used = pyotp.TOTP(user.totp_secret).generate_otp(user.totp_last_step)
    c = app.test_client()
    token = csrf_token(c, "/login")
    c.post("/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": token})
    token = csrf_token(c, "/login/totp")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 2):
        assert c.post("/login/totp", data={"code": used, "csrf_token": token}).status_code == 401
    db_session.refresh(user)
    assert user.locked_until is None and user.failed_logins == 0
    resp = c.post("/login/totp", data={"code": next_totp_code(db_session, user), "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_it_enrols_the_second_factor_on_first_sign_in(client, db_session):
    user = create_staff(db_session, "suzuki", ["rule_author"], enrolled=False)
    token = csrf_token(client, "/login")
    resp = client.post("/login", data={"username": "suzuki", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"].endswith("/login/enrol")
    page = client.get("/login/enrol").get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page
    with client.session_transaction() as sess:
        secret = sess["enrol_secret"]
    assert secret in page
    token = csrf_token(client, "/login/enrol")
    resp = client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert resp.status_code == 302
    assert client.get("/").status_code == 200
    db_session.refresh(user)
    assert user.totp_secret == secret and user.totp_enrolled_at is not None
    assert "totp_enrolled" in _audit_actions(db_session)


def test_it_gives_the_same_answer_for_unknown_users_and_wrong_passwords(client, db_session):
    create_staff(db_session, "tanaka", ["coordinator"])
    answers = []
    for username, password in (("nobody", PASSWORD), ("tanaka", "wrong-password-123")):
        token = csrf_token(client, "/login")
        resp = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
        answers.append((resp.status_code, "正しくないか" in resp.get_data(as_text=True)))
    assert answers == [(401, True), (401, True)]
    assert _audit_actions(db_session).count("sign_in_failed") == 2


def test_it_locks_the_account_after_repeated_failures(client, app, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        token = csrf_token(client, "/login")
        client.post("/login", data={"username": "tanaka", "password": "wrong-password-123", "csrf_token": token})
    db_session.refresh(user)
    assert user.locked_until is not None
    assert "account_locked" in _audit_actions(db_session)
    # Even the right password is refused while locked.
    token = csrf_token(client, "/login")
    resp = client.post("/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 401


def test_it_rejects_a_form_without_csrf_token(client, db_session):
    create_staff(db_session, "tanaka", ["coordinator"])
    resp = client.post("/login", data={"username": "tanaka", "password": PASSWORD})
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)
    assert "sign_in_failed" not in _audit_actions(db_session)


def test_it_rejects_a_forged_csrf_token(client, db_session):
    create_staff(db_session, "tanaka", ["coordinator"])
    client.get("/login")
    resp = client.post("/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": "forged"})
    assert resp.status_code == 400


def test_sign_out_needs_csrf_and_ends_the_session(client, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    sign_in(client, db_session, user)
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    token = csrf_token(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_the_session_cookie_is_httponly_and_samesite(client, db_session):
    create_staff(db_session, "tanaka", ["coordinator"])
    token = csrf_token(client, "/login")
    resp = client.post("/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": token})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_next_parameter_cannot_send_staff_elsewhere(client, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    token = csrf_token(client, "/login")
    client.post("/login?next=//evil.example/", data={"username": "tanaka", "password": PASSWORD, "csrf_token": token})
    token = csrf_token(client, "/login/totp")
    resp = client.post("/login/totp", data={"code": next_totp_code(db_session, user), "csrf_token": token})
    assert resp.headers["Location"] == "/"


def test_wrong_second_factor_codes_lock_the_account_too(client, app, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    token = csrf_token(client, "/login")
    client.post("/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": token})
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        token = csrf_token(client, "/login/totp")
        resp = client.post("/login/totp", data={"code": "000000", "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    db_session.refresh(user)
    assert user.locked_until is not None
    assert client.get("/").status_code == 302


def test_a_second_factor_overtaken_by_another_sign_in_starts_again(app, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    first, second = app.test_client(), app.test_client()
    for c in (first, second):
        token = csrf_token(c, "/login")
        assert c.post("/login", data={"username": "tanaka", "password": PASSWORD, "csrf_token": token}).status_code == 302
    token = csrf_token(second, "/login/totp")
    sign_code = next_totp_code(db_session, user)
    assert first.post("/login/totp", data={"code": sign_code, "csrf_token": csrf_token(first, "/login/totp")}
                      ).status_code == 302
    resp = second.post("/login/totp", data={"code": next_totp_code(db_session, user), "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert "別の画面でこのアカウントのサインインが完了した" in second.get("/login").get_data(as_text=True)
    db_session.refresh(user)
    assert user.failed_logins == 0 and user.locked_until is None
    assert second.get("/").status_code == 302 and first.get("/").status_code == 200
