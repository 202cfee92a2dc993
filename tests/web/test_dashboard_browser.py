"""Issue 13 §5–6 in headless Debian chromium over real HTTP: after a real eligibility run, notices and
outreach cases, a coordinator opens the dashboard; the funnel and consent charts render with their
numbers beside them, the month table follows the chosen rule, and the CSV downloads carry the BOM.
Full-page screenshots go to $SCREENSHOT_DIR when set."""
from __future__ import annotations

import datetime as dt

import pytest

from notifier import clock
from notifier.outreach import funnel
from tests.factories import create_staff
from tests.outreach.test_funnel import notify, record_case
from tests.web.test_rule_approval_browser import new_page, sign_in
from tests.web.test_rules_pages import AS_OF, setup_city

pytestmark = pytest.mark.browser

BOM = "\ufeff".encode()


def _download(page, selector: str):
    with page.expect_download() as info:
        page.locator(selector).click()
    download = info.value
    return download.suggested_filename, open(download.path(), "rb").read()


def test_a_coordinator_reads_the_funnel_dashboard_and_downloads_its_tables(
        live_app, live_session, chromium, screenshot_dir, tmp_path):
    app, base, s = live_app.app, live_app.url, live_session
    runner = app.test_cli_runner()
    setup_city(app, s, tmp_path / "city", runner)            # import, 名寄せ, the shipped rules, three consents
    result = runner.invoke(args=["eligibility", "run", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    day = dt.date.fromisoformat(AS_OF)
    today = clock.today_jst()                                # consent was recorded today
    matched = funnel.funnel(s, as_of=today)
    assert matched.loc["shugaku_enjo", "eligible"] == 2 and matched.loc["shugaku_enjo", "consented"] == 2
    # the two matched, consenting households get their 就学援助 notice; one opens it, is reminded and
    # met by the CSW, who records two outcomes
    notify(s, "shugaku_enjo", {"700001": "0000011", "700003": "0000031"}, as_of=day, opened=("700001",),
           reminded=("700001",))
    record_case(s, "shugaku_enjo", "700001", ("ニーズあり", "申請につながった", "相談窓口につないだ"))
    coordinator = create_staff(s, "coord", ["coordinator"], display_name="調整 一郎")
    s.commit()
    table = funnel.funnel(s, as_of=today)
    total = table.loc["合計"]
    assert total["notified"] == 2 and total["connected"] == 1

    errors: list[str] = []
    ctx, page = new_page(chromium, errors)
    sign_in(page, base, s, coordinator)
    page.goto(f"{base}/")

    # --- the funnel chart, its numbers beside the bars, the per-rule table -------------------------
    chart = page.locator("section[aria-labelledby=h-funnel] svg.chart")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    counts = chart.locator("text").all_text_contents()
    assert "対象世帯" in counts and f"{int(total['eligible']):,}" in counts
    assert f"{int(total['notified']):,}（{total['notified'] / total['eligible']:.0%}）" in counts
    for label in chart.locator("text").all():                  # no label cut off at the chart's edges
        b = label.bounding_box()
        assert b["x"] >= box["x"] - 1 and b["x"] + b["width"] <= box["x"] + box["width"] + 1, label.text_content()
    row = page.locator('table[data-funnel] tr[data-rule="shugaku_enjo"]')
    assert row.locator('[data-stage="notified"]').inner_text().split() == ["2", "100%"]
    outcomes = page.locator('table[data-outcomes] tr[data-rule="shugaku_enjo"]')
    assert outcomes.locator('[data-outcome="connected"]').inner_text() == "1"
    assert outcomes.locator('[data-outcome="申請につながった"]').inner_text() == "1"
    assert outcomes.locator('[data-outcome="相談窓口につないだ"]').inner_text() == "1"

    # --- the consent chart with its table beside it ---------------------------------------------------
    uptake = page.locator("section[aria-labelledby=h-uptake] svg.chart")
    assert uptake.is_visible()
    ubox = uptake.bounding_box()
    assert ubox["width"] > 300 and ubox["height"] > 80
    assert "通知に同意している世帯数" in uptake.get_attribute("aria-label")
    numbers = page.locator("table[data-uptake]")
    assert numbers.is_visible()
    nbox = numbers.bounding_box()
    assert nbox["x"] >= ubox["x"] + ubox["width"]                # beside the chart, not under it
    assert numbers.locator("tbody tr").last.inner_text().split() == ["現在", "3"]

    # --- the month table, all rules -----------------------------------------------------------------
    months = page.locator("table[data-months]")
    assert months.is_visible()
    assert "すべてのルールの合計" in page.locator("#h-months").inner_text()
    assert page.locator("main").bounding_box()["width"] <= 1280          # wide tables scroll inside
    page.screenshot(path=str(screenshot_dir / "dashboard-1-all-rules.png"), full_page=True)
    for section in ("funnel", "funnel-table", "outcomes", "months", "uptake"):     # each at full size, to look at
        page.locator(f"section[aria-labelledby=h-{section}]").screenshot(
            path=str(screenshot_dir / f"dashboard-1-{section}.png"))

    name, data = _download(page, "a[data-csv=funnel]")
    assert name == "funnel.csv" and data.startswith(BOM + "ルールID,ルール名,対象世帯".encode())
    assert "shugaku_enjo,就学援助のご案内,2,2,100.0,2,100.0,1,50.0,".encode() in data
    name, data = _download(page, "a[data-csv=uptake]")
    assert name == "consent-uptake.csv" and data.startswith(BOM + "時点,日付,通知に同意している世帯".encode())

    # --- one rule's months ---------------------------------------------------------------------------
    page.select_option("#f-rule", "shugaku_enjo")
    page.get_by_role("button", name="このルールで表示する").click()
    page.wait_for_url("**/?rule=shugaku_enjo")
    assert page.locator("table[data-months]").get_attribute("data-months-rule") == "shugaku_enjo"
    assert "就学援助のご案内" in page.locator("#h-months").inner_text()
    november = page.locator('table[data-months] tr[data-month="2026年11月"]')
    if november.count():                                     # the run's month is among the last six
        assert november.locator('[data-stage="eligible"]').inner_text() == "2"
        assert november.locator('[data-stage="connected"]').inner_text().split() == ["1", "100%"]
    page.locator("table[data-months]").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "dashboard-2-one-rule.png"), full_page=True)
    name, data = _download(page, "a[data-csv=months]")
    assert name == "funnel-months-shugaku_enjo.csv"
    assert data.startswith(BOM + "月,ルールID,ルール名,対象世帯".encode())
    assert {line.split(b",")[1] for line in data.splitlines()[1:]} == {b"shugaku_enjo"}
    name, data = _download(page, "a[data-csv=outcomes]")
    assert name == "funnel-outcomes.csv" and data.startswith(BOM + "ルールID,ルール名,支援につないだ（世帯）".encode())

    # --- a narrow window: the charts still fit and the tables scroll -------------------------------------
    page.set_viewport_size({"width": 720, "height": 900})
    assert page.locator("section[aria-labelledby=h-uptake] svg.chart").bounding_box()["width"] > 300
    page.screenshot(path=str(screenshot_dir / "dashboard-3-narrow.png"), full_page=True)
    ctx.close()
    assert not errors, errors                     # no CSP violations, script errors or failed requests
