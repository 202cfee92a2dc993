"""The funnel per rule: each stage a subset of the one before, counted in households; the dashboard
draws it as SVG with the numbers beside the bars, and its CSV download is audited."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

from sqlalchemy import select

from notifier import clock
from notifier.consent import service as consent
from notifier.eligibility.dao import dao_active_version, load_directory
from notifier.models import (
    AuditEvent,
    Delivery,
    EligibilityMatch,
    EligibilityRun,
    LineAccount,
    Notice,
    OutreachCase,
    OutreachCaseEvent,
)
from notifier.outreach import charts, funnel
from tests.factories import create_staff, import_sources, sign_in

DAY = dt.date(2026, 7, 1)
ROOT = Path(__file__).resolve().parents[2]


def _household(n: int) -> list[dict]:
    return [{"宛名番号": f"00000{n}1", "世帯番号": f"70000{n}", "続柄": "世帯主", "氏名カナ": "ヤマダ ミキ",
             "生年月日": "1988-02-02", "性別": "2"}]


def _city(app, db_session, tmp_path):
    """Five matched households: 1–4 consent, 1–3 got a notice, 1–2 opened it, 1 got a reminder;
    household 4 consented but has no notice yet; 5 never consented (its notice is counted nowhere)."""
    today = clock.today_jst()
    import_sources(app, tmp_path / "city", {
        "juminhyo": sum((_household(n) for n in range(1, 6)), []),
        # household 2 applies online on the day of its notice; household 3 applied long before (no response)
        "online_shinsei": [{"申請ID": "A1", "申請者宛名番号": "0000021", "手続きコード": "shugaku_enjo",
                            "申請日時": f"{today.isoformat()} 23:59"},
                           {"申請ID": "A2", "申請者宛名番号": "0000031", "手続きコード": "shugaku_enjo",
                            "申請日時": "2025-01-10 10:00"}]})
    load_directory(db_session, ROOT / "eligibility_rules", actor="test", activate=True,
                   url_hosts=app.config["APPLICATION_URL_HOSTS"])
    v = dao_active_version(db_session, "shugaku_enjo")
    run = EligibilityRun(as_of=DAY, households=5)
    db_session.add(run)
    db_session.flush()
    for n in range(1, 6):
        db_session.add(EligibilityMatch(run_id=run.id, rule_id="shugaku_enjo", rule_version_id=v.id,
                                        setai_no=f"70000{n}", reasons="[]"))
    for n in range(1, 5):
        consent.record(db_session, f"00000{n}1", grant=["notify"], channel="窓口", staff_id="staff01")
    for n in (1, 2, 3, 5):
        account = LineAccount(line_user_id=f"U{uuid.uuid4().hex}", atena_no=f"00000{n}1")
        notice = Notice(setai_no=f"70000{n}", rule_id="shugaku_enjo", rule_version_id=v.id, as_of=DAY,
                        first_sent_at=clock.now())
        db_session.add_all([account, notice])
        db_session.flush()
        db_session.add(Delivery(notice_id=notice.id, line_account_id=account.id, atena_no=f"00000{n}1",
                                rule_id="shugaku_enjo", rule_version_id=v.id, message=json.dumps([]),
                                retry_key=str(uuid.uuid4()), status="sent",
                                first_opened_at=clock.now() if n in (1, 2) else None))
        if n == 1:
            db_session.add(Notice(kind="reminder", reminder_of=notice.id, setai_no="700001", rule_id="shugaku_enjo",
                                  rule_version_id=v.id, as_of=DAY + dt.timedelta(days=14), first_sent_at=clock.now()))
            # …then an outreach case: the school met the family, who applied
            case = OutreachCase(setai_no="700001", rule_id="shugaku_enjo", rule_version_id=v.id, notice_id=notice.id,
                                route="csw", legal_basis="要対協", status="open", as_of=today, priority_points=0)
            db_session.add(case)
            db_session.flush()
            db_session.add_all([
                OutreachCaseEvent(case_id=case.id, kind="contact", actor="t",
                                  detail={"contact_kind": "visit", "result": "会えた・話せた"}),
                OutreachCaseEvent(case_id=case.id, kind="outcome", actor="t", detail={"outcome": "申請につながった"})])
    db_session.commit()


def test_each_stage_counts_households_within_the_stage_before(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    table = funnel.funnel(db_session, as_of=clock.today_jst())
    row = table.loc["shugaku_enjo"].to_dict()
    assert row == {"eligible": 5, "consented": 4, "notified": 3, "opened": 2, "applied": 1, "reminded": 1,
                   "case": 1, "contacted": 1, "needs": 1, "connected": 1}
    assert table.loc["合計"].to_dict() == row
    rates = funnel.rates(table).loc["shugaku_enjo"]
    assert rates["consented"] == 0.8 and rates["opened"] == 0.667 and rates["reminded"] == 0.333
    assert rates["applied"] == 0.333 and rates["case"] == 1.0
    assert funnel.time_to_response(db_session, as_of=clock.today_jst()) == {"count": 1, "median": 0.0, "p90": 0.0}
    before = funnel.funnel(db_session, funnel.Period(until=DAY - dt.timedelta(days=1)), as_of=DAY)
    assert before.loc["合計"].sum() == 0                      # nothing matched before the run's date


def test_the_funnel_month_by_month(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    table = funnel.monthly(db_session, as_of=dt.date(2026, 8, 15), months=2)
    assert list(table.index) == ["2026年7月", "2026年8月"]
    # Consent is counted at the end of each month: these households consented later (today).
    assert table.loc["2026年7月", "eligible"] == 5 and table.loc["2026年7月", "consented"] == 0
    assert table.loc["2026年8月"].sum() == 0


def test_the_chart_is_svg_with_the_numbers_and_a_text_alternative():
    svg = charts.funnel_svg([("対象世帯", 200), ("お知らせが届いた", 50), ("<script>", 0)], title="合計")
    assert svg.startswith("<svg") and "200" in svg and "50（25%）" in svg and 'aria-label="合計：対象世帯 200' in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_the_dashboard_shows_the_funnel_to_coordinators_and_audits_its_csv(app, client, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))
    page = client.get("/").get_data(as_text=True)
    assert "<svg" in page and 'data-rule="shugaku_enjo"' in page and "就学援助のご案内" in page
    answer = client.get("/funnel.csv?from=2026-06-01")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    text = answer.get_data(as_text=True)
    assert text.startswith("\ufeffルールID,ルール名,対象世帯") and "shugaku_enjo,就学援助のご案内,5,4,3,2,1,1,1,1,1,1" in text
    assert db_session.scalars(select(AuditEvent).where(AuditEvent.target_type == "funnel_export")).one()
    assert client.get("/?from=0001-01-01").status_code == 400

    author = create_staff(db_session, "author", ["rule_author"])
    c2 = app.test_client()
    sign_in(c2, db_session, author)
    assert "<svg" not in c2.get("/").get_data(as_text=True)
    assert c2.get("/funnel.csv").status_code == 403
