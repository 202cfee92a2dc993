"""A coordinator searches a household by 宛名番号, opens its page and prints it: headless Debian chromium
against the app over real HTTP. The print (A4, print media) of a household of eight is one page."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from notifier import clock
from notifier.consent import service as consent
from notifier.contract import OUTREACH_LEGAL_BASIS
from notifier.models import Notice, OutreachCase, RuleVersion
from notifier.outreach import household as hp
from tests.factories import create_staff, import_sources
from tests.web.test_rule_approval_browser import new_page, sign_in
from tests.web.test_rules_pages import AS_OF, CITY

pytestmark = pytest.mark.browser

SURNAME = "タカハシ"
BIG = [  # eight members: grandparents, parents, four children (two pupils, one in 保育, a baby)
    ("0000091", "世帯主", "タカハシ イサム", "1950-05-05", "1"), ("0000092", "妻", "タカハシ フミ", "1952-08-08", "2"),
    ("0000093", "子", "タカハシ ケンジ", "1982-03-03", "1"), ("0000094", "子の妻", "タカハシ ユミ", "1984-04-04", "2"),
    ("0000095", "孫", "タカハシ ハルト", "2013-06-10", "1"), ("0000096", "孫", "タカハシ アオイ", "2017-09-01", "2"),
    ("0000097", "孫", "タカハシ レン", "2021-12-12", "1"), ("0000098", "孫", "タカハシ ミオ", "2025-10-01", "2"),
]
NAMES = {"0000091": "高橋 勇", "0000092": "高橋 ふみ", "0000093": "高橋 健二", "0000094": "高橋 由美",
         "0000095": "高橋 陽翔", "0000096": "高橋 葵", "0000097": "高橋 蓮", "0000098": "高橋 澪"}
DATA = {
    "juminhyo": CITY["juminhyo"] + [
        {"宛名番号": a, "世帯番号": "700009", "続柄": rel, "氏名": NAMES[a], "氏名カナ": kana, "生年月日": born, "性別": sex}
        for a, rel, kana, born, sex in BIG],
    "shiminzei": CITY["shiminzei"] + [
        {"宛名番号": "0000091", "課税年度": "2026", "合計所得金額": "1800000", "課税区分": "課税"},
        {"宛名番号": "0000093", "課税年度": "2026", "合計所得金額": "2400000", "課税区分": "課税"},
        {"宛名番号": "0000094", "課税年度": "2026", "合計所得金額": "0", "課税区分": "非課税"}],
    "gakureibo": CITY["gakureibo"] + [
        {"児童生徒番号": "80095", "氏名カナ": "タカハシ ハルト", "生年月日": "2013-06-10", "性別": "1", "住所コード": "272191000101",
         "学校コード": "J01", "学校名": "和泉市立第一中学校", "学年": "中1"},
        {"児童生徒番号": "80096", "氏名カナ": "タカハシ アオイ", "生年月日": "2017-09-01", "性別": "2", "住所コード": "272191000101",
         "学校コード": "E01", "学校名": "和泉市立第一小学校", "学年": "小3"}],
    "jido_teate": [{"受給者宛名番号": "0000093", "児童宛名番号": c, "認定日": "2021-01-01"}
                   for c in ("0000095", "0000096", "0000097", "0000098")],
    "kodomo_iryo": [{"宛名番号": c, "資格開始日": "2021-01-01"} for c in ("0000095", "0000096", "0000097", "0000098")],
    "hoiku": [{"宛名番号": "0000097", "施設名": "和泉市立いずみ保育園", "入所日": "2024-04-01"}],
    "kaigo_nintei": [{"宛名番号": "0000091", "要介護状態区分": "要介護2", "認定有効期間開始日": "2026-01-01",
                      "認定有効期間終了日": "2027-12-31"}],
    "kaigo_service": [{"宛名番号": "0000091", "サービス種類": "訪問介護", "サービス提供年月": "2026-10"}],
    "shogai_techo": [{"宛名番号": "0000092", "手帳種別": "身体", "等級": "3級", "交付日": "2019-05-01"}],
    "boshi_kenshin": [{"宛名番号": "0000098", "健診種別": "4か月児", "対象年月": "2026-02"}],
    "shusseki": [{"児童生徒番号": "80095", "年月": "2026-10", "授業日数": "21", "欠席日数": "6"}],
    "online_shinsei": [{"申請ID": "A-1", "申請者宛名番号": "0000093", "手続きコード": "kodomo_iryo",
                        "手続き名": "こども医療費助成の申請", "申請日時": "2026-10-20 10:00"}],
}


def test_a_coordinator_finds_a_household_and_prints_it_on_one_a4_page(chromium, live_app, live_session,
                                                                       screenshot_dir, tmp_path):
    app, base, s = live_app.app, live_app.url, live_session
    runner = app.test_cli_runner()
    import_sources(app, tmp_path / "city", DATA, complete=True)
    assert runner.invoke(args=["link", "run", "--as-of", AS_OF]).exit_code == 0
    assert runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"]).exit_code == 0
    consent.record(s, "0000093", grant=["notify", "tax"], actor="test", channel="窓口", staff_id="staff01")
    s.commit()
    assert runner.invoke(args=["eligibility", "run", "--as-of", AS_OF]).exit_code == 0
    # A notice sent on AS_OF, its reminder, and the outreach case follow-up opened (as follow-up leaves them).
    version = s.scalars(select(RuleVersion).where(RuleVersion.rule_id == "shugaku_enjo",
                                                  RuleVersion.status == "active")).one()
    sent = clock.now() - timedelta(days=20)
    notice = Notice(setai_no="700009", rule_id="shugaku_enjo", rule_version_id=version.id,
                    as_of=date.fromisoformat(AS_OF), first_sent_at=sent)
    s.add(notice)
    s.flush()
    s.add(Notice(kind="reminder", reminder_of=notice.id, setai_no="700009", rule_id="shugaku_enjo",
                 rule_version_id=version.id, as_of=date(2026, 11, 15), first_sent_at=sent + timedelta(days=14)))
    case = OutreachCase(open_key="700009|shugaku_enjo", setai_no="700009", rule_id="shugaku_enjo",
                        rule_version_id=version.id, notice_id=notice.id, route="school_ssw",
                        school_code="J01", school_name="和泉市立第一中学校", legal_basis=OUTREACH_LEGAL_BASIS,
                        as_of=date(2026, 11, 29), assigned_org="和泉市立第一中学校")
    s.add(case)
    for i, rule_id in enumerate(("kodomo_iryo", "jido_teate", "kenshin_mijushin")):   # a busy household
        v = s.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id, RuleVersion.status == "active")).one()
        n = Notice(setai_no="700009", rule_id=rule_id, rule_version_id=v.id, as_of=date(2026, 9, 1 + i),
                   first_sent_at=sent - timedelta(days=60))
        s.add(n)
        s.flush()
        s.add(OutreachCase(open_key=f"700009|{rule_id}", setai_no="700009", rule_id=rule_id, rule_version_id=v.id,
                           notice_id=n.id, route="health_nurse", legal_basis=OUTREACH_LEGAL_BASIS,
                           as_of=date(2026, 10, 1), assigned_org="和泉市こども未来室（保健師）"))
    s.commit()
    coordinator = create_staff(s, "coord", ["coordinator"], display_name="調整 次郎", tax_permission=True)

    errors: list[str] = []
    ctx, page = new_page(chromium, errors)
    sign_in(page, base, s, coordinator)
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="世帯の検索").click()
    page.get_by_label("世帯番号または宛名番号").fill("0000096")
    page.get_by_role("button", name="検索").click()
    page.wait_for_url(re.compile(r"/households/[A-Za-z0-9_-]{20,}\?via=atena$"))
    assert "0000096" not in page.url and "700009" not in page.url
    assert hp.setai_from_token(app.secret_key, page.url.split("/households/")[1].split("?")[0]) == "700009"
    assert page.locator("tr[data-member]").count() == 8
    assert "和泉市立第一小学校 小3" in page.locator('tr[data-member="0000096"]').inner_text()
    assert "要介護2" in page.locator('tr[data-program="kaigo"]').inner_text()
    assert "2026-10 欠席 6日／授業 21日" in page.locator('tr[data-program="shusseki"]').inner_text()
    assert "1件（最新：こども医療費助成の申請 2026-10-20）" in page.locator('tr[data-program="online_shinsei"]').inner_text()
    assert page.locator('tr[data-program="seikatsu_hogo"]').inner_text().strip().endswith(hp.HIDDEN_TEXT)
    assert "合計所得 2,400,000円" in page.locator('tr[data-program="shiminzei"]').inner_text()
    assert "表示・印刷：調整 次郎" in page.locator(".printed-by").first.inner_text()
    assert page.locator('[data-rule="shugaku_enjo"]').count() == 1
    assert page.locator(f'[data-case="{case.id}"] a').get_attribute("href") == f"/outreach/cases/{case.id}"
    assert page.locator("[data-notices]").inner_text().startswith("5 件（送信済み 5 件）")
    assert page.locator("[data-case]").count() == 4
    page.screenshot(path=str(screenshot_dir / "household.png"), full_page=True)
    page.evaluate("() => { window.printed = 0; window.print = () => { window.printed += 1; }; }")
    page.get_by_role("button", name="印刷").click()
    assert page.evaluate("window.printed") == 1

    screen_pdf = page.pdf(format="A4")           # 「印刷」 on the page itself prints the same one page
    assert screen_pdf.count(b"/Type /Page") - screen_pdf.count(b"/Type /Pages") == 1
    page.get_by_role("link", name="印刷用の表示").click()
    page.wait_for_url(re.compile(r"\?print=1$"))
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 718, "height": 1054})     # A4 less the @page margins, at 96 dpi
    page.screenshot(path=str(screenshot_dir / "household_print.png"), full_page=True)
    assert page.locator('tr[data-program="shogai_service"]').is_hidden()          # unused: one line in print
    assert "障害福祉サービス" in page.locator(".unused-summary").inner_text()
    pdf = page.pdf(format="A4")
    (screenshot_dir / "household.pdf").write_bytes(pdf)
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1
    assert errors == []
    ctx.close()
