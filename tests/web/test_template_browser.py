"""The message templates page in headless chromium: a pending template as LINE shows it, approved by
a second person. Screenshots in SCREENSHOT_DIR (or the test's tmp dir)."""
from __future__ import annotations

from pathlib import Path

import pytest

from notifier.outbox import template_dao
from tests.factories import create_staff
from tests.web.test_rule_approval_browser import new_page, sign_in

pytestmark = pytest.mark.browser
SHIPPED = Path(__file__).resolve().parents[2] / "templates" / "messages"


def test_an_approver_sees_the_line_preview_and_approves(live_app, live_session, chromium, screenshot_dir):
    template_dao.load_directory(live_session, SHIPPED, actor="author", activate=False)
    live_session.commit()
    approver = create_staff(live_session, "approver", ["rule_approver"])
    errors: list[str] = []
    ctx, page = new_page(chromium, errors)
    sign_in(page, live_app.url, live_session, approver)
    page.goto(f"{live_app.url}/messages")
    section = page.locator("section.approval").first
    section.locator(".line-bubble").first.wait_for()
    section.screenshot(path=str(screenshot_dir / "template_pending.png"))
    assert section.locator("[data-lock-screen]").first.inner_text() == "和泉市からのお知らせが届いています"
    section.get_by_role("button", name="承認して有効にする").click()
    page.get_by_text("を承認し、有効にしました").wait_for()
    page.screenshot(path=str(screenshot_dir / "template_approved.png"), full_page=True)
    assert errors == []
    ctx.close()
