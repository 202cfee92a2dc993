"""A rule author edits a parameter in the browser, previews its reach and saves; a second person
approves it. Headless Debian chromium through Playwright against the app over real HTTP."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from notifier.models import RuleVersion
from tests.factories import PASSWORD, create_staff, next_totp_code
from tests.web.test_rules_pages import AS_OF, BASE, setup_city

pytestmark = pytest.mark.browser


# A shared 2-core CI machine: the reach preview builds the household table while other jobs run. Every
# wait is on the page's own state (a locator, a URL), never a JavaScript predicate: Playwright polls a
# string predicate with eval, which the page's CSP (no 'unsafe-eval') blocks.
TIMEOUT_MS = 120_000


def new_page(chromium, errors: list[str]):
    ctx = chromium.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.set_default_navigation_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    watch(page, errors)
    return ctx, page


def watch(page, errors: list[str]) -> None:
    """Collect script errors, CSP violations and failed requests (the favicon included: it is served)."""
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)


def sign_in(page, base_url, session, user):
    page.goto(f"{base_url}/login")
    page.get_by_label("ユーザー名").fill(user.username)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("確認コード（6桁）").fill(next_totp_code(session, user))
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_url(f"{base_url}/")


def test_an_author_edits_and_previews_a_rule_and_another_person_approves_it(
        live_app, live_session, chromium, screenshot_dir, tmp_path):
    app, base = live_app.app, live_app.url
    runner = app.test_cli_runner()
    setup_city(app, live_session, tmp_path / "city", runner)
    assert runner.invoke(args=["eligibility", "run", "--as-of", AS_OF]).exit_code == 0   # reach on the list
    author = create_staff(live_session, "author", ["rule_author"], display_name="作成 花子")
    approver = create_staff(live_session, "approver", ["rule_approver"], display_name="承認 太郎")
    errors: list[str] = []

    # --- the author: edit, preview, save -------------------------------------------------------
    ctx, page = new_page(chromium, errors)
    sign_in(page, base, live_session, author)
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="ルール").click()
    page.screenshot(path=str(screenshot_dir / "rule_list.png"), full_page=True)
    page.get_by_role("link", name="就学援助のご案内").click()
    page.screenshot(path=str(screenshot_dir / "rule_detail.png"), full_page=True)
    page.get_by_role("link", name="編集する").click()
    assert page.url.endswith("/rules/shugaku_enjo/edit")
    page.locator("html.js").wait_for(state="attached")   # rule_editor.js ran under the CSP

    # a structural edit round trip (add a criterion to the root group, then remove it)
    page.select_option("#node-0-new", "has_jido")
    page.get_by_role("button", name="条件全体に条件を追加").click()
    page.wait_for_selector("#node-0-4")
    assert page.input_value("#node-0-4-criterion") == "has_jido"
    page.get_by_role("button", name="条件 5を削除").click()
    page.wait_for_selector("#node-0-4", state="detached")

    income = page.locator(f"#{BASE}")
    assert income.input_value() == "1,000,000"
    income.fill("1,600,000")
    for grade in ("中1", "中2", "中3"):
        page.locator("#node-0-0-param-grades").get_by_label(grade, exact=True).uncheck()
    page.fill("#version_note", "所得基準を引き上げ、対象を小学生に絞る")
    page.fill("#as_of", AS_OF)
    page.screenshot(path=str(screenshot_dir / "rule_editor.png"), full_page=True)
    page.get_by_role("button", name="到達数を確認する").click()
    preview = page.locator("#preview")
    preview.wait_for()
    assert preview.locator('[data-figure="matches"]').inner_text() == "2"
    assert preview.locator('[data-figure="with_notify"]').inner_text() == "2"
    assert preview.locator('[data-figure="not_evaluated"]').inner_text() == "1"
    assert preview.locator('[data-figure="change"]').inner_text() == "+1 / −1 世帯"
    assert page.input_value(f"#{BASE}") == "1,600,000"           # the form keeps what was typed
    preview.screenshot(path=str(screenshot_dir / "rule_editor_preview.png"))
    page.screenshot(path=str(screenshot_dir / "rule_editor_preview_page.png"), full_page=True)

    page.get_by_role("button", name="保存して承認を依頼する").click()
    page.wait_for_url(f"{base}/rules/shugaku_enjo")
    assert "第2版として保存しました" in page.locator(".notice.success").inner_text()
    page.get_by_role("link", name="第2版").first.click()
    assert "基本額: 1,000,000円 → 1,600,000円" in page.locator("main").inner_text()
    page.get_by_role("link", name="この版の到達数を見る").click()
    page.fill("#as_of", AS_OF)
    page.get_by_role("button", name="この日で計算する").click()
    page.wait_for_url(re.compile(r".*/preview\?as_of=" + AS_OF))
    assert page.locator('[data-figure="change"]').inner_text() == "+1 / −1 世帯"
    page.screenshot(path=str(screenshot_dir / "rule_preview.png"), full_page=True)
    ctx.close()

    # --- a second person approves ---------------------------------------------------------------
    ctx, page = new_page(chromium, errors)
    sign_in(page, base, live_session, approver)
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="承認待ち").click()
    card = page.locator("section.approval", has_text="就学援助のご案内 第2版")
    assert "基本額: 1,000,000円 → 1,600,000円" in card.inner_text()
    assert "説明" not in card.inner_text()                 # text areas round-trip (CRLF from the browser)
    assert "所得基準を引き上げ、対象を小学生に絞る" in card.inner_text()
    page.screenshot(path=str(screenshot_dir / "rule_approvals.png"), full_page=True)
    card.get_by_role("button", name="承認して有効にする").click()
    page.wait_for_url(f"{base}/rules/approvals")
    assert "第2版を承認し、有効にしました" in page.locator(".notice.success").inner_text()
    page.screenshot(path=str(screenshot_dir / "rule_approved.png"), full_page=True)
    ctx.close()

    live_session.expire_all()
    rows = live_session.scalars(select(RuleVersion).where(RuleVersion.rule_id == "shugaku_enjo")
                                .order_by(RuleVersion.version)).all()
    assert [(r.version, r.status) for r in rows] == [(1, "superseded"), (2, "active")]
    assert (rows[1].created_by, rows[1].decided_by) == ("author", "approver")
    assert not errors, errors                     # no CSP violations, script errors or failed requests
