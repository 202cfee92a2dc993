"""The funnel per rule: each stage a subset of the one before, counted in households, month by month
and with the connected households by outcome; the dashboard draws it as SVG with the numbers beside the
bars, and each of its tables downloads as an audited CSV."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

from sqlalchemy import select

from notifier import clock
from notifier.consent import service as consent
from notifier.contract import CASE_OUTCOMES
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


def notify(session, rule_id: str, households: dict[str, str], *, as_of: dt.date = DAY, opened=(), reminded=(),
           outcomes: dict[str, tuple[str, ...]] | None = None) -> None:
    """Notices of `rule_id` that reached LINE for each household (世帯番号 → the member's 宛名番号, who
    gets a LINE account unless linked already): opened by `opened`, reminded 14 days later for
    `reminded`, and for each household of `outcomes` an outreach case with a contact and those outcomes."""
    v = dao_active_version(session, rule_id)
    for setai, atena in households.items():
        account = session.scalars(select(LineAccount).where(LineAccount.atena_no == atena)).first()
        if account is None:
            account = LineAccount(line_user_id=f"U{uuid.uuid4().hex}", atena_no=atena)
            session.add(account)
        notice = Notice(setai_no=setai, rule_id=rule_id, rule_version_id=v.id, as_of=as_of, first_sent_at=clock.now())
        session.add(notice)
        session.flush()
        session.add(Delivery(notice_id=notice.id, line_account_id=account.id, atena_no=atena, rule_id=rule_id,
                             rule_version_id=v.id, message=json.dumps([]), retry_key=str(uuid.uuid4()), status="sent",
                             first_opened_at=clock.now() if setai in opened else None))
        if setai in reminded:
            session.add(Notice(kind="reminder", reminder_of=notice.id, setai_no=setai, rule_id=rule_id,
                               rule_version_id=v.id, as_of=as_of + dt.timedelta(days=14), first_sent_at=clock.now()))
        if setai in (outcomes or {}):
            record_case(session, rule_id, setai, outcomes[setai])
    session.flush()


def record_case(session, rule_id: str, setai: str, outcomes: tuple[str, ...]) -> None:
    """An outreach case for the household's notice of the rule: a visit that met the family, then each outcome."""
    notice = session.scalars(select(Notice).where(Notice.rule_id == rule_id, Notice.setai_no == setai,
                                                  Notice.kind == "notice")).one()
    case = OutreachCase(setai_no=setai, rule_id=rule_id, rule_version_id=notice.rule_version_id, notice_id=notice.id,
                        route="csw", legal_basis="要対協", status="open", as_of=clock.today_jst(), priority_points=0)
    session.add(case)
    session.flush()
    session.add(OutreachCaseEvent(case_id=case.id, kind="contact", actor="t",
                                  detail={"contact_kind": "visit", "result": "会えた・話せた"}))
    session.add_all([OutreachCaseEvent(case_id=case.id, kind="outcome", actor="t", detail={"outcome": o})
                     for o in outcomes])
    session.flush()


def _city(app, db_session, tmp_path):
    """Five households matched by 就学援助 (shugaku_enjo): 1–4 consent, 1–3 got a notice, 1–2 opened it,
    1 got a reminder and a case that led to an application; household 4 consented but has no notice
    yet; 5 never consented (its notice is counted nowhere). Households 1–2 are also matched by ひとり親
    (hitorioya): 1 got its notice and a case that was referred to a counselling desk."""
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
    run = EligibilityRun(as_of=DAY, households=5)
    db_session.add(run)
    db_session.flush()
    for rule_id, households in (("shugaku_enjo", range(1, 6)), ("hitorioya", (1, 2))):
        v = dao_active_version(db_session, rule_id)
        for n in households:
            db_session.add(EligibilityMatch(run_id=run.id, rule_id=rule_id, rule_version_id=v.id,
                                            setai_no=f"70000{n}", reasons="[]"))
    for n in range(1, 5):
        consent.record(db_session, f"00000{n}1", grant=["notify"], actor="test", channel="窓口", staff_id="staff01")
    notify(db_session, "shugaku_enjo", {f"70000{n}": f"00000{n}1" for n in (1, 2, 3, 5)}, opened=("700001", "700002"),
           reminded=("700001",), outcomes={"700001": ("申請につながった",)})
    notify(db_session, "hitorioya", {"700001": "0000011"}, outcomes={"700001": ("相談窓口につないだ",)})
    db_session.commit()


SHUGAKU = {"eligible": 5, "consented": 4, "notified": 3, "opened": 2, "applied": 1, "reminded": 1,
           "case": 1, "contacted": 1, "needs": 1, "connected": 1}
HITORIOYA = {"eligible": 2, "consented": 2, "notified": 1, "opened": 0, "applied": 0, "reminded": 0,
             "case": 1, "contacted": 1, "needs": 1, "connected": 1}


def _months_since_july(today: dt.date) -> int:
    """How many months back from today's reach July 2026, the fixture's month."""
    return (today.year - DAY.year) * 12 + today.month - DAY.month + 1


def test_each_stage_counts_households_within_the_stage_before(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    table = funnel.funnel(db_session, as_of=clock.today_jst())
    assert table.loc["shugaku_enjo"].to_dict() == SHUGAKU
    assert table.loc["hitorioya"].to_dict() == HITORIOYA
    assert table.loc["合計"].to_dict() == {k: SHUGAKU[k] + HITORIOYA[k] for k in SHUGAKU}
    rates = funnel.rates(table).loc["shugaku_enjo"]
    assert rates["consented"] == 0.8 and rates["opened"] == 0.667 and rates["reminded"] == 0.333
    assert rates["applied"] == 0.333 and rates["case"] == 1.0
    assert funnel.rates(table).loc["hitorioya", "case"] != funnel.rates(table).loc["hitorioya", "case"]   # 0 reminded
    assert funnel.time_to_response(db_session, as_of=clock.today_jst()) == {"count": 1, "median": 0.0, "p90": 0.0}
    before = funnel.funnel(db_session, funnel.Period(until=DAY - dt.timedelta(days=1)), as_of=DAY)
    assert before.loc["合計"].sum() == 0                      # nothing matched before the run's date


def test_the_funnel_month_by_month(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    table = funnel.monthly(db_session, as_of=dt.date(2026, 8, 15), months=2)
    assert list(table.index) == ["2026年7月", "2026年8月"]
    # Consent is counted at the end of each month: these households consented later (today).
    assert table.loc["2026年7月", "eligible"] == 7 and table.loc["2026年7月", "consented"] == 0
    assert table.loc["2026年8月"].sum() == 0


def test_the_month_table_of_one_rule_counts_that_rule_only(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    today = clock.today_jst()
    months = _months_since_july(today)
    readings = funnel.Readings(db_session)
    by_rule = funnel.monthly_by_rule(db_session, as_of=today, months=months, readings=readings)
    assert set(by_rule.index.get_level_values("rule_id")) == {"hitorioya", "shugaku_enjo", "合計"}
    one = funnel.rule_months(by_rule, "hitorioya")
    assert list(one.index)[0] == "2026年7月" and len(one) == months
    assert one.loc["2026年7月"].to_dict() == HITORIOYA               # shugaku_enjo's 5 → 3 → … are not in it
    assert one.iloc[1:].to_numpy().sum() == 0
    assert funnel.rule_months(by_rule, "shugaku_enjo").loc["2026年7月"].to_dict() == SHUGAKU
    assert funnel.rule_months(by_rule).loc["2026年7月", "eligible"] == 7
    assert funnel.rule_months(by_rule, "jido_teate").to_numpy().sum() == 0      # a rule without matches: zeros
    shares = funnel.rates(one).loc["2026年7月"]
    assert shares["consented"] == 1.0 and shares["notified"] == 0.5 and shares["opened"] == 0.0
    # the same table through monthly(rule=…), sharing what the page has read
    assert funnel.monthly(db_session, as_of=today, months=months, readings=readings,
                          rule="hitorioya").equals(one)


def test_connected_households_by_outcome_per_rule(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    record_case(db_session, "shugaku_enjo", "700003", ("ニーズあり", "要対協に登録", "就園につながった"))
    record_case(db_session, "shugaku_enjo", "700002", ("ニーズなし",))          # contacted, not connected
    record_case(db_session, "shugaku_enjo", "700005", ("他事業につないだ",))      # never consented: not counted
    db_session.commit()
    table = funnel.connected_by_outcome(db_session, as_of=clock.today_jst())
    assert list(table.columns) == ["connected", *funnel.CONNECTED]
    assert table.loc["shugaku_enjo"].to_dict() == {"connected": 2, "申請につながった": 1, "就園につながった": 1,
                                                   "要対協に登録": 1, "相談窓口につないだ": 0, "他事業につないだ": 0}
    assert table.loc["hitorioya"].to_dict() == {"connected": 1, "申請につながった": 0, "就園につながった": 0,
                                                "要対協に登録": 0, "相談窓口につないだ": 1, "他事業につないだ": 0}
    assert table.loc["合計", "connected"] == 3 and table.loc["合計", "相談窓口につないだ"] == 1
    assert funnel.funnel(db_session, as_of=clock.today_jst()).loc["shugaku_enjo", "connected"] == 2
    # outside the period: nothing
    before = funnel.connected_by_outcome(db_session, funnel.Period(until=DAY - dt.timedelta(days=1)), as_of=DAY)
    assert list(before.index) == ["合計"] and before.to_numpy().sum() == 0


def test_the_connected_outcomes_are_outcomes_of_the_contract():
    assert set(funnel.CONNECTED) <= set(CASE_OUTCOMES) and set(funnel.NEEDS) <= set(CASE_OUTCOMES)


def test_consent_uptake_month_ends_and_today(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    today = clock.today_jst()
    table = funnel.consent_uptake_table(db_session, as_of=today, months=3)
    assert list(table["label"])[-1] == "現在" and list(table["households"]) == [0, 0, 0, 4]
    assert table["day"].iloc[-2] == today.replace(day=1) - dt.timedelta(days=1)
    assert funnel.consent_uptake(db_session, as_of=today, months=3)[-1] == ("現在", 4)


def test_the_chart_is_svg_with_the_numbers_and_a_text_alternative():
    svg = charts.funnel_svg([("対象世帯", 200), ("お知らせが届いた", 50), ("<script>", 0)], title="合計")
    assert svg.startswith("<svg") and "200" in svg and "50（25%）" in svg and 'aria-label="合計：対象世帯 200' in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def _exports(db_session) -> list[str]:
    db_session.expire_all()
    return [e.target_id for e in db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export",
                                                                              AuditEvent.target_type == "funnel_export")
                                                    .order_by(AuditEvent.id))]


def test_the_dashboard_shows_the_funnel_to_coordinators_and_audits_its_csv(app, client, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    coord = create_staff(db_session, "coord", ["coordinator"])
    sign_in(client, db_session, coord)
    page = client.get("/").get_data(as_text=True)
    assert "<svg" in page and 'data-rule="shugaku_enjo"' in page and "就学援助のご案内" in page
    for csv in ("funnel", "outcomes", "months", "uptake"):
        assert f'data-csv="{csv}"' in page
    answer = client.get("/funnel.csv?from=2026-06-01")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == "attachment; filename=funnel.csv"
    text = answer.get_data(as_text=True)
    header, *rows = text.splitlines()
    assert header.startswith("\ufeffルールID,ルール名,対象世帯,通知の同意あり,通知の同意あり／対象世帯（%）,お知らせが届いた,"
                             "お知らせが届いた／通知の同意あり（%）")
    assert "見守りケース／リマインドが届いた（%）" in header and "申請・利用につながった／お知らせが届いた（%）" in header
    # counts with each rate beside them, in percent (a base of 0 leaves the cell empty)
    assert "shugaku_enjo,就学援助のご案内,5,4,80.0,3,75.0,2,66.7,1,33.3,1,33.3,1,100.0,1,100.0,1,100.0,1,100.0" in rows
    assert "hitorioya,ひとり親家庭の手続きのご案内,2,2,100.0,1,50.0,0,0.0,0,0.0,0,0.0,1,,1,100.0,1,100.0,1,100.0" in rows
    assert rows[-1].startswith("合計,,7,6,")
    assert _exports(db_session) == ["funnel.csv"]
    assert client.get("/?from=0001-01-01").status_code == 400

    author = create_staff(db_session, "author", ["rule_author"])
    c2 = app.test_client()
    sign_in(c2, db_session, author)
    assert "<svg" not in c2.get("/").get_data(as_text=True)
    for url in ("/funnel.csv", "/funnel-months.csv", "/funnel-outcomes.csv", "/consent-uptake.csv"):
        assert c2.get(url).status_code == 403, url
    assert _exports(db_session) == ["funnel.csv"]


def test_the_month_table_per_rule_on_the_dashboard_and_its_csv(app, client, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))
    page = client.get("/?rule=hitorioya").get_data(as_text=True)
    assert 'data-months-rule="hitorioya"' in page and "月ごとの推移（ひとり親家庭の手続きのご案内）" in page
    assert '<option value="hitorioya" selected>' in page
    july = page[page.index('<tr data-month="2026年7月">'):]
    july = july[:july.index("</tr>")]
    assert '<td class="num" data-stage="eligible">2</td>' in july and 'data-stage="notified">1<br>' in july
    assert 'data-rate="notified">50%' in july
    assert client.get("/?rule=no_such_rule").status_code == 400
    assert client.get("/funnel-months.csv?rule=no_such_rule").status_code == 400

    answer = client.get("/funnel-months.csv?rule=hitorioya")
    assert answer.status_code == 200 and "filename=funnel-months-hitorioya.csv" in answer.headers["Content-Disposition"]
    header, *rows = answer.get_data(as_text=True).splitlines()
    assert header.startswith("\ufeff月,ルールID,ルール名,対象世帯,通知の同意あり,通知の同意あり／対象世帯（%）")
    assert {r.split(",")[1] for r in rows} == {"hitorioya"}                # the other rule is not in it
    assert "2026年7月,hitorioya,ひとり親家庭の手続きのご案内,2,2,100.0,1,50.0," in answer.get_data(as_text=True)

    every = client.get("/funnel-months.csv").get_data(as_text=True).splitlines()[1:]
    july_rows = [r for r in every if r.startswith("2026年7月,")]
    assert [r.split(",")[1] for r in july_rows] == ["hitorioya", "shugaku_enjo", "合計"]
    assert july_rows[1].startswith("2026年7月,shugaku_enjo,就学援助のご案内,5,4,80.0,3,75.0,")
    assert july_rows[2].startswith("2026年7月,合計,,7,6,")
    assert _exports(db_session) == ["funnel-months-hitorioya.csv", "funnel-months.csv"]


def test_the_outcome_and_uptake_tables_download_as_audited_csv(app, client, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    record_case(db_session, "shugaku_enjo", "700003", ("要対協に登録",))
    db_session.commit()
    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))
    page = client.get("/").get_data(as_text=True)
    row = page[page.index('<table class="funnel" data-outcomes>'):]
    row = row[row.index('<tr data-rule="shugaku_enjo"'):]
    row = row[:row.index("</tr>")]
    assert '<td class="num" data-outcome="connected">2</td>' in row
    assert '<td class="num" data-outcome="要対協に登録">1</td>' in row

    answer = client.get("/funnel-outcomes.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    lines = answer.get_data(as_text=True).splitlines()
    assert lines[0] == ("\ufeffルールID,ルール名,支援につないだ（世帯）,申請につながった,就園につながった,要対協に登録,"
                        "相談窓口につないだ,他事業につないだ")
    assert lines[1:] == ["hitorioya,ひとり親家庭の手続きのご案内,1,0,0,0,1,0", "shugaku_enjo,就学援助のご案内,2,1,0,1,0,0",
                         "合計,,3,1,0,1,1,0"]

    answer = client.get("/consent-uptake.csv")
    assert answer.status_code == 200 and "filename=consent-uptake.csv" in answer.headers["Content-Disposition"]
    lines = answer.get_data(as_text=True).splitlines()
    assert lines[0] == "\ufeff時点,日付,通知に同意している世帯" and len(lines) == 1 + 13
    assert lines[-1] == f"現在,{clock.today_jst().isoformat()},4"
    assert _exports(db_session) == ["funnel-outcomes.csv", "consent-uptake.csv"]
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.target_id == "consent-uptake.csv")).one()
    assert event.actor == "coord" and event.detail == {"rows": 13}


def test_the_dashboard_reads_the_consent_history_and_responses_once(app, db_session, tmp_path, monkeypatch):
    _city(app, db_session, tmp_path)
    from notifier.followup import run as followup_run
    calls = {"history": 0, "responses": 0}
    load, responses = funnel.ConsentHistory.load.__func__, followup_run.responses

    def counted_load(cls, session):
        calls["history"] += 1
        return load(cls, session)

    def counted_responses(*args, **kwargs):
        calls["responses"] += 1
        return responses(*args, **kwargs)

    monkeypatch.setattr(funnel.ConsentHistory, "load", classmethod(counted_load))
    monkeypatch.setattr(followup_run, "responses", counted_responses)
    board = funnel.dashboard(db_session, as_of=clock.today_jst(), rule="hitorioya")
    assert calls == {"history": 1, "responses": 1}
    assert board.funnel.loc["hitorioya"].to_dict() == HITORIOYA and board.outcomes.loc["合計", "connected"] == 2
    if _months_since_july(clock.today_jst()) <= 6:                 # July 2026 is among the last six months
        assert board.months.loc["2026年7月"].to_dict() == HITORIOYA


def test_the_dashboard_before_any_run_shows_the_consent_chart_only(client, db_session):
    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))
    page = client.get("/").get_data(as_text=True)
    assert 'data-uptake' in page and 'data-csv="uptake"' in page
    assert "data-funnel" not in page and "data-months" not in page and "該当判定はまだありません" in page


def test_the_dashboard_is_kept_until_something_it_reads_changes(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    cache, today = funnel.DashboardCache(), clock.today_jst()

    def board():
        return funnel.dashboard(db_session, as_of=today, cache=cache)

    first = board()
    assert board() is first and cache.builds == 1
    assert first.funnel.loc["shugaku_enjo", "consented"] == 4
    # a consent (household 5), then a case outcome, then a new notice: each is seen at once
    consent.record(db_session, "0000051", grant=["notify"], actor="test", channel="窓口", staff_id="staff01")
    db_session.commit()
    second = board()
    assert cache.builds == 2 and second.funnel.loc["shugaku_enjo", "consented"] == 5
    record_case(db_session, "shugaku_enjo", "700002", ("就園につながった",))
    db_session.commit()
    assert board().funnel.loc["shugaku_enjo", "case"] == 2 and cache.builds == 3
    notify(db_session, "hitorioya", {"700002": "0000021"})
    db_session.commit()
    assert board().funnel.loc["hitorioya", "notified"] == 2 and cache.builds == 4
    assert board() is not second and cache.builds == 4
    # another day or period is its own entry
    funnel.dashboard(db_session, funnel.Period(since=DAY), as_of=today, cache=cache)
    assert cache.builds == 5
