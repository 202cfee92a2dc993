"""The worklist and case pages through the app: coordinators filter and act, caseworkers see only their
organisation's cases (another's is a 404), reasons from tax data stay hidden without the tax
permission, and every view and change is audited."""
from __future__ import annotations

import json
import time

from sqlalchemy import select, update

from notifier import clock
from notifier.models import AuditEvent, OutreachCase, PriorityScheme
from notifier.outreach import cases
from tests.factories import csrf_token, sign_in
from tests.outreach.casework import user


def _signed_in(app, username):
    client = app.test_client()
    s = app.extensions["db_sessionmaker"]()
    try:
        sign_in(client, s, user(s, username))
    finally:
        s.close()
    return client


def _audits(app, action):
    with app.extensions["db_sessionmaker"]() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_coordinator_filters_opens_assigns_logs_and_closes(casework):
    app, ids, users = casework
    c = _signed_in(app, users["coordinator"])
    page = c.get("/outreach/").get_data(as_text=True)
    assert 'data-total="3"' in page and "和泉市立第一小学校" in page
    assert page.index(f'data-case="{ids["91001"]}"') < page.index(f'data-case="{ids["91002"]}"')
    only = c.get("/outreach/?route=health_nurse").get_data(as_text=True)
    assert 'data-total="1"' in only and f'data-case="{ids["91003"]}"' in only
    assert c.get("/outreach/?route=elsewhere").status_code == 400
    assert c.get("/outreach/?wait=abc").status_code == 400

    cid = ids["91001"]
    case_page = c.get(f"/outreach/cases/{cid}").get_data(as_text=True)
    assert "児童福祉法第25条の2・第25条の3" in case_page
    assert "和泉 タロウ" in case_page and "小3" in case_page and "出席比率" in case_page
    token = csrf_token(c, f"/outreach/cases/{cid}")
    r = c.post(f"/outreach/cases/{cid}/assign", data={"organisation": "和泉市立第一小学校", "csrf_token": token})
    assert r.status_code == 302
    r = c.post(f"/outreach/cases/{cid}/contact", data={"kind": "visit", "on": clock.today_jst().isoformat(), "result": "会えた・話せた",
                                                        "note": "母と面談", "csrf_token": token})
    assert r.status_code == 302
    r = c.post(f"/outreach/cases/{cid}/outcome", data={"outcome": "申請につながった", "close": "1", "csrf_token": token})
    assert r.status_code == 302
    after = c.get(f"/outreach/cases/{cid}").get_data(as_text=True)
    assert "終了（申請につながった）" in after and "母と面談" in after
    with app.extensions["db_sessionmaker"]() as s:
        case = s.get(OutreachCase, cid)
        assert (case.status, case.outcome, case.assigned_org) == ("closed", "申請につながった", "和泉市立第一小学校")
    assert len([e for e in _audits(app, "view_case") if e.target_id == str(cid)]) == 3
    assert _audits(app, "view_worklist")


def test_a_caseworker_of_another_school_cannot_see_the_case(casework):
    app, ids, users = casework
    coord = _signed_in(app, users["coordinator"])
    cid = ids["91001"]
    token = csrf_token(coord, f"/outreach/cases/{cid}")
    coord.post(f"/outreach/cases/{cid}/assign", data={"organisation": "和泉市立第一小学校", "csrf_token": token})

    mine = _signed_in(app, users["school1"])
    listing = mine.get("/outreach/").get_data(as_text=True)
    assert 'data-total="1"' in listing and f'data-case="{cid}"' in listing
    page = mine.get(f"/outreach/cases/{cid}").get_data(as_text=True)
    assert "同意の記録" not in page                         # not what a school's route needs
    token = csrf_token(mine, f"/outreach/cases/{cid}")
    assert mine.post(f"/outreach/cases/{cid}/assign", data={"organisation": "x", "csrf_token": token}).status_code == 403

    other = _signed_in(app, users["school2"])
    assert 'data-total="0"' in other.get("/outreach/").get_data(as_text=True)
    assert other.get(f"/outreach/cases/{cid}").status_code == 404
    token = csrf_token(other, "/outreach/")
    r = other.post(f"/outreach/cases/{cid}/contact", data={"kind": "visit", "on": clock.today_jst().isoformat(),
                                                            "result": "会えた・話せた", "csrf_token": token})
    assert r.status_code == 404
    auditor = _signed_in(app, users["auditor"])
    assert auditor.get("/outreach/").status_code == 403


def test_reasons_from_tax_data_are_hidden_without_the_tax_permission(casework):
    app, ids, users = casework
    cid = ids["91002"]
    reasons = [{"criterion": "household_income_below", "key": "k", "label": "世帯の所得", "negated": False, "path": "p",
                "note": None, "params": {}, "sensitivity": ["tax"], "values": {}},
               {"criterion": "pupil_enrolled", "key": "k2", "label": "小中学生がいる", "negated": False, "path": "q",
                "note": None, "params": {}, "sensitivity": ["education"], "values": {}}]
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(OutreachCase).where(OutreachCase.id == cid).values(reasons=json.dumps(reasons)))
        s.commit()
    page = _signed_in(app, users["coordinator"]).get(f"/outreach/cases/{cid}").get_data(as_text=True)
    assert 'data-hidden-reasons="1"' in page
    with app.extensions["db_sessionmaker"]() as s:
        u = user(s, users["coordinator"])
        u.tax_permission = True
        s.commit()
    page = _signed_in(app, users["coordinator"]).get(f"/outreach/cases/{cid}").get_data(as_text=True)
    assert "data-hidden-reasons" not in page


def test_the_points_table_page_previews_then_saves(casework):
    app, ids, users = casework
    c = _signed_in(app, users["coordinator"])
    page = c.get("/outreach/priority").get_data(as_text=True)
    assert "出席比率" in page and 'name="attendance.bands.1"' in page
    token = csrf_token(c, "/outreach/priority")
    form = {"csrf_token": token, "attendance.bands.1": "30", "action": "preview"}
    preview = c.post("/outreach/priority", data=form).get_data(as_text=True)
    assert 'data-setai="91001"' in preview and "この点数表にした場合" in preview
    with app.extensions["db_sessionmaker"]() as s:
        assert s.get(OutreachCase, ids["91001"]).priority_points == 21      # attendance 10, absences 10, single parent 1
    r = c.post("/outreach/priority", data={**form, "action": "save", "note": "出席を重視"})
    assert r.status_code == 302
    with app.extensions["db_sessionmaker"]() as s:
        assert s.get(OutreachCase, ids["91001"]).priority_points == 41
    refused = c.post("/outreach/priority", data={**form, "attendance.bands.1": "-5"})
    assert refused.status_code == 400 and 'role="alert"' in refused.get_data(as_text=True)
    # thresholds: a refused one keeps the form as typed; a saved one rescores the open cases
    bad = c.post("/outreach/priority", data={**form, "attendance.bands.0.below": "150", "action": "save"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "1 以上 100 以下（%）" in text and 'value="150"' in text   # what was typed stays
    assert 'name="absence_months.min_absent_days"' in text and 'name="many_children.min_children"' in text
    r = c.post("/outreach/priority", data={"csrf_token": token, "absence_months.min_absent_days": "20",
                                           "action": "save", "note": "欠席の基準を上げる"})
    assert r.status_code == 302
    with app.extensions["db_sessionmaker"]() as s:
        case = s.get(OutreachCase, ids["91001"])
        assert case.priority_points == 31 and "absence_months" not in case.priority_signals   # 10 absences a month < 20
        assert s.scalars(select(PriorityScheme.version).order_by(PriorityScheme.version.desc())).first() == 2
    school = _signed_in(app, users["school1"])
    assert school.get("/outreach/priority").status_code == 403


def test_the_worklist_and_a_case_answer_in_300_ms_with_5000_open_cases(casework):
    """5,000 open cases (copies of the three households' cases under other numbers): the worklist's
    first page, a filtered page and a case page, each under 300 ms through the whole app."""
    import pandas as pd

    from notifier import bulk
    app, ids, users = casework
    engine = app.extensions["db_engine"]
    with engine.connect() as conn:
        base = pd.read_sql(select(OutreachCase).where(OutreachCase.id == ids["91001"]), conn)
    n = 5000
    frame = pd.concat([base] * n, ignore_index=True).drop(columns=["id"])
    frame["open_key"] = [f"X{i}|shugaku_enjo" for i in range(n)]
    frame["setai_no"] = [f"X{i}" for i in range(n)]
    frame["priority_points"] = [i % 57 for i in range(n)]
    frame["priority_signals"] = json.dumps([{"signal": "attendance", "label": "出席比率（直近の月）", "points": 10,
                                             "member": None, "detail": "50%"}], ensure_ascii=False)
    frame["route"] = ["school_ssw", "health_nurse", "csw"] * (n // 3) + ["csw"] * (n % 3)
    for col in ("as_of",):
        frame[col] = pd.to_datetime(frame[col]).dt.date.astype(str)
    with engine.begin() as conn:
        bulk.insert_frame(conn, "outreach_cases", bulk.iso_dates(frame, {"opened_at", "closed_at",
                                                                         "consent_withdrawn_at"}))
    c = _signed_in(app, users["coordinator"])
    assert 'data-total="5003"' in c.get("/outreach/").get_data(as_text=True)
    for path in ("/outreach/", "/outreach/?route=csw&sort=waiting&page=20", f"/outreach/cases/{ids['91001']}"):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            assert c.get(path).status_code == 200
            times.append(time.perf_counter() - t0)
        assert sorted(times)[2] < 0.3, (path, times)


def test_a_coordinator_opens_a_case_from_the_household_page(casework):
    """The household page's form opens a case by hand (POST, the 世帯番号 only in the form body); the
    case page links back to the household; a second case for the same pair is refused."""
    app, ids, users = casework
    c = _signed_in(app, users["coordinator"])
    with app.extensions["db_sessionmaker"]() as s:
        cases.close_case(s, ids["91002"], "テストのため", viewer=user(s, users["coordinator"]), actor="test")
        s.commit()
    page = c.get(f"/outreach/cases/{ids['91001']}").get_data(as_text=True)
    assert "世帯の情報" in page
    token = csrf_token(c, "/outreach/")
    form = {"csrf_token": token, "setai_no": "91002", "rule_id": "shugaku_enjo", "route": "csw", "note": "学校から相談",
            "back": "/outreach/"}
    r = c.post("/outreach/cases/new", data=form)
    assert r.status_code == 302 and "/outreach/cases/" in r.headers["Location"]
    assert "91002" not in r.headers["Location"]
    again = c.post("/outreach/cases/new", data=form, follow_redirects=True).get_data(as_text=True)
    assert "すでにあります" in again
    with app.extensions["db_sessionmaker"]() as s:
        opened = s.scalars(select(OutreachCase).where(OutreachCase.setai_no == "91002",
                                                      OutreachCase.status == "open")).one()
        assert opened.route == "csw" and opened.school_name == "和泉市立第二小学校"


def test_reasons_from_child_welfare_data_need_the_child_welfare_permission(casework):
    app, ids, users = casework
    cid = ids["91001"]
    reasons = [{"criterion": "kajiso_open", "key": "k", "label": "家庭児童相談", "negated": False, "path": "p",
                "note": None, "params": {}, "sensitivity": ["child-welfare"], "values": {}}]
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(OutreachCase).where(OutreachCase.id == cid).values(reasons=json.dumps(reasons)))
        u = user(s, users["coordinator"])
        u.tax_permission = True
        s.commit()
    assert 'data-hidden-reasons="1"' in _signed_in(app, users["coordinator"]).get(f"/outreach/cases/{cid}").get_data(
        as_text=True)
    with app.extensions["db_sessionmaker"]() as s:
        user(s, users["coordinator"]).child_welfare_permission = True
        s.commit()
    page = _signed_in(app, users["coordinator"]).get(f"/outreach/cases/{cid}").get_data(as_text=True)
    assert "data-hidden-reasons" not in page


# --- what the case page shows, and to whom ----------------------------------------------------------
REASONS = [
    {"criterion": "household_income_at_most", "key": "tax", "label": "世帯の合計所得金額が基準以下", "negated": False,
     "path": "p1", "note": None, "params": {"base": 1_000_000, "per_person": 500_000}, "sensitivity": ["tax"],
     "values": {"income": 1_234_567, "size": 2, "limit": 2_000_000}},
    {"criterion": "open_family_consultation", "key": "kajiso", "label": "家庭児童相談が継続中の世帯員がいる",
     "negated": False, "path": "p2", "note": None, "params": {}, "sensitivity": ["child-welfare"],
     "values": {"relations": ["子"]}},
    {"criterion": "receives", "key": "hogo", "label": "世帯員がサービスを受けている", "negated": False, "path": "p3",
     "note": None, "params": {"source": "seikatsu_hogo"}, "sensitivity": ["welfare"],
     "values": {"relations": ["世帯主"]}},
    {"criterion": "has_enrolled_pupil", "key": "pupil", "label": "在籍する児童生徒がいる", "negated": False, "path": "p4",
     "note": None, "params": {}, "sensitivity": ["education"], "values": {}},
]
WELFARE_WORDS = ("生活保護", "ひとり親", "児童扶養手当", "家庭児童相談", "所得", "1,234,567")


def _section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    return html[start:html.index("</section>", start)]


def _row(html: str, case_id: int) -> str:
    start = html.index(f'data-case="{case_id}"')
    return html[start:html.index("</tr>", start)]


def _on_public_assistance(app, tmp_path, atena_no: str = "1001") -> None:
    """The household's head receives 生活保護 (imported), and every open case is rescored."""
    from tests.factories import import_sources
    import_sources(app, tmp_path / "welfare", {"seikatsu_hogo": [{"宛名番号": atena_no, "保護開始日": "2024-04-01"}]})
    with app.extensions["db_sessionmaker"]() as s:
        cases.score_cases(s, cases.open_case_frame(s), clock.today_jst())
        s.commit()


def _permissions(app, username, **flags):
    with app.extensions["db_sessionmaker"]() as s:
        u = user(s, username)
        for k, v in flags.items():
            setattr(u, k, v)
        s.commit()


def test_welfare_signals_are_hidden_without_the_child_welfare_permission(casework, tmp_path):
    """As on the household page, 生活保護 and ひとり親 (児童扶養手当) signals are shown only with the
    child-welfare permission, on the case page and in the worklist; the points still count."""
    app, ids, users = casework
    cid = ids["91001"]
    _on_public_assistance(app, tmp_path)
    with app.extensions["db_sessionmaker"]() as s:
        case = s.get(OutreachCase, cid)
        assert {"public_assistance", "single_parent"} <= {x["signal"] for x in case.priority_signals}
        points = case.priority_points
    assert points == 22                                   # attendance 10, absences 10, single parent 1, 生活保護 1

    c = _signed_in(app, users["coordinator"])
    signals = _section(c.get(f"/outreach/cases/{cid}").get_data(as_text=True), "h-points")
    assert f'data-points="{points}"' in signals
    assert 'data-signal="attendance"' in signals and 'data-signal="absence_months"' in signals
    assert 'data-hidden-signals="2"' in signals and "権限がないため表示していません" in signals
    for word in WELFARE_WORDS:
        assert word not in signals, word
    listing = c.get("/outreach/").get_data(as_text=True)
    assert listing.index(f'data-case="{cid}"') < listing.index(f'data-case="{ids["91003"]}"')   # the order holds
    row = _row(listing, cid)
    assert f'data-points="{points}"' in row and "出席比率" in row
    assert "（権限のない情報を含みます）" in row
    for word in WELFARE_WORDS:
        assert word not in row, word
    assert "（権限のない情報を含みます）" in _row(listing, ids["91003"])            # ひとり親 (0歳 shown)
    assert "（権限のない情報を含みます）" not in _row(listing, ids["91002"])        # no signals at all

    _permissions(app, users["coordinator"], child_welfare_permission=True)
    c = _signed_in(app, users["coordinator"])
    signals = _section(c.get(f"/outreach/cases/{cid}").get_data(as_text=True), "h-points")
    assert 'data-signal="public_assistance"' in signals and "生活保護世帯" in signals
    assert 'data-signal="single_parent"' in signals and "data-hidden-signals" not in signals
    assert f'data-points="{points}"' in signals
    listing = c.get("/outreach/").get_data(as_text=True)
    assert "（権限のない情報を含みます）" not in listing
    assert "ひとり親世帯" in _row(listing, ids["91003"])


def test_reasons_from_welfare_data_need_the_child_welfare_permission_like_the_household_page(casework):
    app, ids, users = casework
    cid = ids["91001"]
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(OutreachCase).where(OutreachCase.id == cid).values(reasons=json.dumps(REASONS)))
        s.commit()
    _permissions(app, users["coordinator"], tax_permission=True)
    reasons = _section(_signed_in(app, users["coordinator"]).get(f"/outreach/cases/{cid}").get_data(as_text=True),
                       "h-reasons")
    assert "1,234,567" in reasons and "在籍する児童生徒がいる" in reasons
    assert 'data-hidden-reasons="2"' in reasons and "生活保護" not in reasons and "家庭児童相談" not in reasons
    _permissions(app, users["coordinator"], child_welfare_permission=True)
    reasons = _section(_signed_in(app, users["coordinator"]).get(f"/outreach/cases/{cid}").get_data(as_text=True),
                       "h-reasons")
    assert "生活保護（保護中）" in reasons and "家庭児童相談が継続中" in reasons and "data-hidden-reasons" not in reasons


def test_a_caseworker_never_sees_tax_or_welfare_data_even_with_the_permissions_set(casework, tmp_path):
    """A caseworker whose account (wrongly) carries the tax and child-welfare permissions still sees only
    what their route needs, and no household search or household page."""
    from notifier.outreach.household import household_token
    app, ids, users = casework
    cid = ids["91001"]
    _on_public_assistance(app, tmp_path)
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(OutreachCase).where(OutreachCase.id == cid).values(reasons=json.dumps(REASONS)))
        cases.assign(s, cid, "和泉市立第一小学校", viewer=user(s, users["coordinator"]), actor="test")
        s.commit()
    for who in ("coordinator", "school1"):
        _permissions(app, users[who], tax_permission=True, child_welfare_permission=True)
    # The coordinator with both permissions sees every reason and signal: the data is there to hide.
    full = _signed_in(app, users["coordinator"]).get(f"/outreach/cases/{cid}").get_data(as_text=True)
    assert "1,234,567" in full and "家庭児童相談" in full and "生活保護世帯" in full and "ひとり親世帯" in full

    school = _signed_in(app, users["school1"])
    page = school.get(f"/outreach/cases/{cid}").get_data(as_text=True)
    reasons, signals = _section(page, "h-reasons"), _section(page, "h-points")
    assert "在籍する児童生徒がいる" in reasons and 'data-hidden-reasons="3"' in reasons
    assert "出席比率" in signals and 'data-hidden-signals="2"' in signals and 'data-points="22"' in signals
    for word in WELFARE_WORDS:
        assert word not in page, word
    assert "同意の記録" not in page and "世帯の情報" not in page
    row = _row(school.get("/outreach/").get_data(as_text=True), cid)
    assert "（権限のない情報を含みます）" in row
    for word in WELFARE_WORDS:
        assert word not in row, word

    # No household search, no household page (nor its print).
    token = csrf_token(school, "/outreach/")
    assert school.get("/households/").status_code == 403
    assert school.post("/households/", data={"number": "91001", "csrf_token": token}).status_code == 403
    address = household_token(app.secret_key, "91001")
    assert school.get(f"/households/{address}").status_code == 403
    assert school.get(f"/households/{address}?print=1").status_code == 403
    denied = [e.detail["path"] for e in _audits(app, "access_denied")]
    assert denied.count("/households/") == 2 and f"/households/{address}" in denied
    assert not _audits(app, "view_household")


def test_a_caseworker_cannot_assign_or_close_another_organisations_case(casework):
    app, ids, users = casework
    with app.extensions["db_sessionmaker"]() as s:
        coord = user(s, users["coordinator"])
        cases.assign(s, ids["91001"], "和泉市立第一小学校", viewer=coord, actor="test")
        cases.assign(s, ids["91002"], "和泉市立第二小学校", viewer=coord, actor="test")
        s.commit()
    other = _signed_in(app, users["school2"])
    token = csrf_token(other, "/outreach/")
    cid = ids["91001"]
    assert other.post(f"/outreach/cases/{cid}/close", data={"reason": "他校が終了", "csrf_token": token}).status_code == 404
    assert other.post(f"/outreach/cases/{cid}/outcome", data={"outcome": "転出", "csrf_token": token}).status_code == 404
    assert other.post(f"/outreach/cases/{cid}/assign",                 # assigning is for coordinators only
                      data={"organisation": "和泉市立第二小学校", "csrf_token": token}).status_code == 403
    assert other.post(f"/outreach/cases/{ids['91003']}/close",         # nor an unassigned case
                      data={"reason": "x", "csrf_token": token}).status_code == 404
    mine = _signed_in(app, users["school1"])
    token = csrf_token(mine, "/outreach/")
    assert mine.post(f"/outreach/cases/{ids['91002']}/close", data={"reason": "x", "csrf_token": token}).status_code == 404
    with app.extensions["db_sessionmaker"]() as s:
        for key, org in (("91001", "和泉市立第一小学校"), ("91002", "和泉市立第二小学校"), ("91003", None)):
            case = s.get(OutreachCase, ids[key])
            assert (case.status, case.assigned_org, case.outcome) == ("open", org, None)
    changes = [e.detail["change"] for e in _audits(app, "case_change")]
    assert changes.count("closed") == 0 and changes.count("outcome") == 0 and changes.count("assigned") == 2


def test_the_case_page_shows_notices_reminders_opens_and_consent_history(casework):
    from datetime import timedelta

    from notifier.consent import service as consent
    from tests.outreach.casework import notify
    app, ids, users = casework
    cid = ids["91001"]
    now = clock.now().replace(second=0, microsecond=0)
    sent, opened, reminded = now - timedelta(days=20), now - timedelta(days=19, hours=3), now - timedelta(days=6)
    granted, taxed, withdrawn = now - timedelta(days=40), now - timedelta(days=35), now - timedelta(days=2)
    with app.extensions["db_sessionmaker"]() as s:
        notify(s, cid, atena_no="1001", sent_at=sent, opened_at=opened, reminder_sent_at=reminded)
        consent.record(s, "1001", grant=["notify"], actor="test", channel="LINE", occurred_at=granted)
        consent.record(s, "1001", grant=["tax"], actor="test", channel="窓口", staff_id="S001", occurred_at=taxed)
        consent.record(s, "1001", withdraw=["notify"], actor="test", channel="LINE", occurred_at=withdrawn)
        s.commit()

    def jst(ts):
        return clock.utc_to_jst(ts).strftime("%Y-%m-%d %H:%M")

    page = _signed_in(app, users["coordinator"]).get(f"/outreach/cases/{cid}").get_data(as_text=True)
    notices = _section(page, "h-notices")
    first, second = notices.index('data-notice="お知らせ"'), notices.index('data-notice="リマインド"')
    assert first < second
    notice_row = notices[first:notices.index("</tr>", first)]
    reminder_row = notices[second:notices.index("</tr>", second)]
    assert jst(sent) in notice_row and jst(opened) in notice_row           # sent, and the /r/ link opened
    assert jst(reminded) in reminder_row and "開いていません" in reminder_row
    history = _section(page, "h-consent")
    entries = [history[i:history.index("</li>", i)] for i in range(len(history)) if history.startswith("<li", i)]
    assert entries == [
        f'<li data-consent="同意">{jst(granted)} お知らせの送付：同意（LINE）',
        f'<li data-consent="同意">{jst(taxed)} 所得状況の確認（課税情報）：同意（窓口）',
        f'<li data-consent="撤回">{jst(withdrawn)} お知らせの送付：撤回（LINE）',
        f'<li data-consent="撤回">{jst(withdrawn)} 所得状況の確認（課税情報）：撤回（LINE）',
    ]
    # The page of a household with none of these says so.
    other = _signed_in(app, users["coordinator"]).get(f"/outreach/cases/{ids['91002']}").get_data(as_text=True)
    assert "お知らせはありません。" in other and "同意の記録はありません。" in other


def test_the_points_table_page_and_its_preview_are_audited(casework):
    app, _ids, users = casework
    c = _signed_in(app, users["coordinator"])
    assert c.get("/outreach/priority").status_code == 200
    token = csrf_token(c, "/outreach/priority")
    assert c.post("/outreach/priority", data={"csrf_token": token, "attendance.bands.1": "30",
                                              "action": "preview"}).status_code == 200
    rows = [e for e in _audits(app, "view_worklist") if e.target_type == "priority_scheme"]
    details = [e.detail for e in rows]
    assert {"page": "priority"} in details
    assert {"page": "priority_preview", "households": 3} in details
    assert all(e.target_id == "0" and e.actor == users["coordinator"] for e in rows)   # the shipped defaults
    c.post("/outreach/priority", data={"csrf_token": token, "attendance.bands.1": "30", "action": "save"})
    c.get("/outreach/priority")
    assert [e.target_id for e in _audits(app, "view_worklist") if e.target_type == "priority_scheme"][-1] == "1"

    trail = _signed_in(app, users["auditor"]).get("/audit/?action=view_worklist").get_data(as_text=True)
    assert "優先度の点数表の画面を表示" in trail and "優先度の点数表（初期設定）" in trail
    assert "点数表の変更案を試算し、その場合の世帯の点数と順位を表示（保存はしていません）" in trail
    assert "表示した世帯 3 件" in trail and "優先度の点数表 第1版" in trail
