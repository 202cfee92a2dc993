"""Every staff page needs a session; role checks with an owner, a member and an outsider; headers."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from notifier.models import AuditEvent
from tests.factories import create_staff, sign_in

# page → (owner role, member role that may also see it, outsider role)
PROTECTED = {
    "/audit/": ("auditor", "admin", "coordinator"),
    "/imports/": ("coordinator", "admin", "rule_author"),
    "/linkage/review": ("coordinator", "admin", "caseworker"),
    "/consents/": ("coordinator", "admin", "auditor"),
    "/households/": ("coordinator", "admin", "caseworker"),
}


def staff_pages(app):
    rules = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint == "static" or getattr(view, "is_public", False) or "GET" not in rule.methods:
            continue
        if rule.arguments:
            continue
        rules.append(rule.rule)
    return rules


def test_every_staff_page_redirects_to_sign_in_without_a_session(app, client):
    pages = staff_pages(app)
    assert "/" in pages and "/audit/" in pages
    for page in pages:
        resp = client.get(page)
        assert resp.status_code == 302, page
        assert "/login" in resp.headers["Location"], page


def test_healthz_answers_without_a_session(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


@pytest.mark.parametrize("page", sorted(PROTECTED))
def test_role_checks_owner_member_outsider(app, db_session, page):
    owner_role, member_role, outsider_role = PROTECTED[page]
    for name, role, expected in (("owner", owner_role, 200), ("member", member_role, 200),
                                 ("outsider", outsider_role, 403)):
        user = create_staff(db_session, name, [role])
        c = app.test_client()
        sign_in(c, db_session, user)
        assert c.get(page).status_code == expected, (page, role)
    db_session.expire_all()
    denied = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access_denied")).all()
    assert [d.actor for d in denied] == ["outsider"]


def test_security_headers(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"


def test_pages_use_no_external_assets(client, db_session, app):
    user = create_staff(db_session, "admin1", ["admin"])
    sign_in(client, db_session, user)
    for page in ("/login", "/", "/audit/"):
        html = client.get(page).get_data(as_text=True)
        assert "http://" not in html.replace("http://localhost", "") and "https://" not in html, page


def test_the_header_names_each_user_one_way_with_their_roles(app, db_session):
    named = create_staff(db_session, "hanako", ["rule_author", "rule_approver"], display_name="作成 花子")
    plain = create_staff(db_session, "taro", ["auditor"])
    for user, name, roles in ((named, "作成 花子", "ルール作成者・ルール承認者"), (plain, "taro", "監査担当者")):
        c = app.test_client()
        sign_in(c, db_session, user)
        html = c.get("/").get_data(as_text=True)
        assert f'<span class="who-name">{name}<span class="who-roles">（{roles}）</span></span>' in html


def test_the_favicon_is_served_locally(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200 and resp.mimetype == "image/vnd.microsoft.icon"
    assert resp.data[:4] == b"\x00\x00\x01\x00"                  # an ICO file
    html = client.get("/login").get_data(as_text=True)
    assert '<link rel="icon" href="/favicon.ico"' in html and 'href="/static/img/favicon.svg"' in html
    assert client.get("/static/img/favicon.svg").status_code == 200


def test_no_staff_page_shows_a_command_line(app, db_session):
    """Empty states and notices speak to staff, not developers: no `notifier …` command on any page
    (an empty database is where the empty states with their hints show)."""
    user = create_staff(db_session, "admin1", ["admin"], tax_permission=True)
    c = app.test_client()
    sign_in(c, db_session, user)
    pages = staff_pages(app)
    assert {"/", "/ops/", "/outreach/", "/sending/", "/messages"} <= set(pages), pages
    for page in pages:
        resp = c.get(page)
        if resp.mimetype != "text/html":
            continue
        html = resp.get_data(as_text=True)
        assert "<code>notifier" not in html and "notifier " not in html.split("<main", 1)[-1], page


def test_no_template_puts_a_command_in_code():
    """The same over the templates themselves, for pages the walk above does not reach (a page with ids,
    a state an empty database does not have). The LINE simulator is a developer tool, not a staff page."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "templates"
    found = [f"{path.relative_to(root)}: {m.group(0)}"
             for path in sorted(root.rglob("*.html")) if path.parts[len(root.parts)] != "line_sim"
             for m in re.finditer(r"<code>[^<]*\bnotifier\b[^<]*</code>", path.read_text(encoding="utf-8"))]
    assert found == []
