"""A coordinator finds a failed notice on 「お知らせの送信」 with LINE's reason, sends it again, and
resolves an unknown one: headless Debian chromium against the app over real HTTP."""
from __future__ import annotations

import pytest

from notifier import clock
from notifier.models import Delivery, OutboxAlert
from tests.factories import create_staff
from tests.outbox.builders import make_delivery
from tests.web.test_rule_approval_browser import new_page, sign_in

pytestmark = pytest.mark.browser


def test_a_coordinator_retries_a_failure_and_resolves_an_unknown(chromium, live_app, live_session, screenshot_dir):
    s = live_session
    failed = make_delivery(s, "failed", attempts=8, error_status=400,
                           error_message="The request body has 1 error(s)")
    unknown = make_delivery(s, "unknown", attempts=1)
    for _ in range(3):
        make_delivery(s, "sent", sent_at=clock.now())
    make_delivery(s, "cancelled", cancel_reason="withdrawn")
    s.add(OutboxAlert(kind="quota", detail={"status": 429}))
    coordinator = create_staff(s, "coord", ["coordinator"])
    s.commit()

    errors: list[str] = []
    ctx, page = new_page(chromium, errors)
    sign_in(page, live_app.url, s, coordinator)
    page.get_by_role("link", name="お知らせの送信").first.click()
    page.wait_for_url(f"{live_app.url}/sending/")
    assert page.locator('[data-status-count="sent"] strong').inner_text() == "3"
    assert "LINEの今月の送信上限に達したため" in page.locator('[data-alert="quota"]').inner_text()
    row = page.locator(f'tr[data-delivery="{failed.id}"]')
    assert "LINEの応答 400：The request body has 1 error(s)" in row.inner_text()
    assert "同意の撤回" in page.locator('tr[data-status="cancelled"]').inner_text()
    page.screenshot(path=str(screenshot_dir / "sending.png"), full_page=True)

    row.get_by_role("button", name="もう一度送る").click()
    page.get_by_text("もう一度送る予定にしました").wait_for()
    page.locator(f'tr[data-delivery="{unknown.id}"]').get_by_role("button", name="届いていた").click()
    page.get_by_text("確認の結果を記録しました").wait_for()
    s.expire_all()
    assert s.get(Delivery, failed.id).status == "queued" and s.get(Delivery, unknown.id).status == "sent"
    assert errors == []
    ctx.close()
