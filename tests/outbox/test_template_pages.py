"""The message templates page: every template as LINE shows it, and approval by a second person."""
from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from notifier.models import MessageTemplateVersion
from notifier.outbox import template_dao
from tests.factories import create_staff, sign_in

SHIPPED = Path(__file__).resolve().parents[2] / "templates" / "messages"


def signed_in(app, db_session, username, roles):
    user = create_staff(db_session, username, roles)
    c = app.test_client()
    sign_in(c, db_session, user)
    return c


def token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_it_shows_pending_templates_as_line_shows_them_and_a_second_person_approves(app, db_session):
    template_dao.load_directory(db_session, SHIPPED, actor="author", activate=False)
    db_session.commit()
    author = signed_in(app, db_session, "author", ["rule_author", "rule_approver"])
    html = author.get("/messages").get_data(as_text=True)
    assert html.count("data-lock-screen>和泉市からのお知らせが届いています<") == 14     # 7 notices + 7 reminders
    assert "就学援助（学用品費・給食費などの援助）" in html and "配信停止" in html and "オンラインで申請する" in html
    assert "あなたが作成したため承認できません" in html
    row = db_session.scalars(select(MessageTemplateVersion).where(
        MessageTemplateVersion.template_id == "shugaku_enjo")).one()
    own = author.post(f"/messages/{row.id}/approve", data={"csrf_token": token(html)}, follow_redirects=True)
    assert "自分が作成した版は承認できません" in own.get_data(as_text=True)
    approver = signed_in(app, db_session, "approver", ["rule_approver"])
    page = approver.get("/messages").get_data(as_text=True)
    done = approver.post(f"/messages/{row.id}/approve", data={"csrf_token": token(page)}, follow_redirects=True)
    assert "第1版を承認し、有効にしました" in done.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(MessageTemplateVersion, row.id).status == "active"
    assert db_session.get(MessageTemplateVersion, row.id).decided_by == "approver"


def test_an_outsider_cannot_see_or_approve(app, db_session):
    template_dao.load_directory(db_session, SHIPPED, actor="author", activate=False)
    db_session.commit()
    outsider = signed_in(app, db_session, "coord", ["coordinator"])
    assert outsider.get("/messages").status_code == 403
    author = signed_in(app, db_session, "author", ["rule_author"])
    html = author.get("/messages").get_data(as_text=True)
    assert "承認して有効にする" not in html          # an author sees the preview, not the decision
    row = db_session.scalars(select(MessageTemplateVersion)).first()
    assert author.post(f"/messages/{row.id}/approve", data={"csrf_token": token(html)}).status_code == 403
