import pytest
from tests.factories import create_staff
from tests.web.test_rules_pages import AS_OF, BASE, setup_city
from tests.browser.test_rule_approval import sign_in

def test_shots(live_app, live_session, chromium, screenshot_dir, tmp_path):
    app, base = live_app.app, live_app.url
    setup_city(app, live_session, tmp_path / "city", app.test_cli_runner())
    author = create_staff(live_session, "author", ["rule_author"], display_name="作成 花子")
    ctx = chromium.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    sign_in(page, base, live_session, author)
    page.goto(f"{base}/rules/shugaku_enjo/edit")
    page.fill(f"#{BASE}", "百万")
    page.fill("#cooldown_days", "")
    page.fill("#node-0-3-0-param-per_person", "-5")
    page.get_by_role("button", name="保存して承認を依頼する").click()
    page.wait_for_selector("#error-summary")
    page.screenshot(path=str(screenshot_dir / "tmp_errors.png"), full_page=True)
    page.goto(f"{base}/rules/home_helper/edit")
    page.click('button[value="dated:0-1:min_age"]')
    page.wait_for_selector("#node-0-1-param-min_age-from-0")
    page.locator("#node-0-1").screenshot(path=str(screenshot_dir / "tmp_home_helper.png"))
    page.goto(f"{base}/rules/new")
    page.screenshot(path=str(screenshot_dir / "tmp_new.png"), full_page=True)
    ctx.close()
    ctx = chromium.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = ctx.new_page()
    sign_in(page, base, live_session, author)
    page.goto(f"{base}/rules/shugaku_enjo/edit")
    page.select_option("#node-0-1-0-criterion", "member_aged")
    page.click("#node-0-1-0-apply")
    page.wait_for_selector("#node-0-1-0-param-min_age")
    page.locator("#node-0-1").screenshot(path=str(screenshot_dir / "tmp_nojs.png"))
    ctx.close()
