"""Layout as chromium draws it (issue 10 item 20): a search row keeps its shape when its field shows an
error, and the rule preview's reach cards start on one line."""
from __future__ import annotations

import pytest

from tests.factories import create_staff
from tests.web.test_rule_approval_browser import new_page, sign_in
from tests.web.test_rules_pages import setup_city

pytestmark = pytest.mark.browser


def tops(locator) -> list[float]:
    return [round(item.bounding_box()["y"], 1) for item in locator.all()]


def test_the_consent_search_row_keeps_its_shape_with_an_error(live_app, live_session, chromium, screenshot_dir):
    user = create_staff(live_session, "coord", ["coordinator"])
    errors: list[str] = []
    ctx, page = new_page(chromium, errors)
    sign_in(page, live_app.url, live_session, user)
    page.goto(f"{live_app.url}/consents/")
    form = page.get_by_role("search", name="世帯の検索")
    box, button = form.locator("#q"), form.get_by_role("button", name="検索")
    before = (box.bounding_box()["y"], button.bounding_box()["y"])
    box.fill("12ab")
    button.click()
    page.locator("#e-q").wait_for()
    assert "数字で入力してください" in page.locator("#e-q").inner_text()
    q, b, kind = box.bounding_box(), button.bounding_box(), form.locator("#by").bounding_box()
    assert abs(q["y"] - b["y"]) <= 2 and abs(q["y"] - kind["y"]) <= 2, (q, b, kind)   # one row, level boxes
    assert abs(q["y"] - before[0]) <= 2 and abs(b["y"] - before[1]) <= 2                # the error did not move them
    assert page.locator("#e-q").bounding_box()["y"] > q["y"] + q["height"] - 1           # the message under its box
    page.screenshot(path=str(screenshot_dir / "layout-consent-search-error.png"), full_page=True)
    ctx.close()
    assert not [e for e in errors if not e.startswith("400 ")], errors


def test_the_reach_cards_start_on_one_line(live_app, live_session, chromium, screenshot_dir, tmp_path):
    setup_city(live_app.app, live_session, tmp_path / "city", live_app.app.test_cli_runner())
    user = create_staff(live_session, "author", ["rule_author"])
    errors: list[str] = []
    ctx, page = new_page(chromium, errors)
    sign_in(page, live_app.url, live_session, user)
    page.goto(f"{live_app.url}/rules/shugaku_enjo/v/1/preview")
    cards = page.locator("dl.reach-figures > .card")
    assert cards.count() == 5
    first_row = [y for y in tops(cards) if abs(y - tops(cards)[0]) <= 40]
    assert len(first_row) >= 3, tops(cards)                      # 1280 px wide: several cards side by side
    assert max(first_row) - min(first_row) <= 2, tops(cards)     # none higher than the others
    page.screenshot(path=str(screenshot_dir / "layout-reach-cards.png"), full_page=True)
    ctx.close()
    assert not errors, errors


def test_the_worklist_export_choice_is_wide_enough_for_its_label_and_options(live_app, live_session, chromium,
                                                                           screenshot_dir):
    """The export form's first field (after its hidden input) gets the wide column: its label stays on one
    line and 「市の内部用（全機関）」 is not cut off."""
    user = create_staff(live_session, "coord", ["coordinator"])
    errors: list[str] = []
    ctx, page = new_page(chromium, errors)
    sign_in(page, live_app.url, live_session, user)
    page.goto(f"{live_app.url}/outreach/")
    select, label = page.locator("#x-org"), page.locator("label[for=x-org]")
    assert select.bounding_box()["width"] >= 300, select.bounding_box()
    assert label.bounding_box()["height"] < 1.8 * 16 * 1.2, label.bounding_box()          # one line
    fits = page.evaluate("(() => { const s = document.querySelector('#x-org'); return s.scrollWidth <= s.clientWidth; })()")
    assert fits
    page.screenshot(path=str(screenshot_dir / "layout-worklist-export.png"), full_page=True)
    ctx.close()
    assert not errors, errors
