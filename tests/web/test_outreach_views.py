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
