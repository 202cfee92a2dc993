"""The case service: points stored on open cases and recomputed when the points table changes (with a
preview that saves nothing), caseworker isolation, and the actions with their history and audit rows."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from notifier import clock
from notifier.models import AuditEvent, OutreachCase, OutreachCaseEvent, PriorityScheme
from notifier.outreach import cases, worklist
from notifier.outreach.priority import DEFAULT_SCHEME
from tests.outreach.casework import ACTOR, user


def _case(s, case_id):
    s.expire_all()
    return s.get(OutreachCase, case_id)


def test_points_are_stored_with_the_signals_that_gave_them(casework, db_session):
    _app, ids, _users = casework
    low = _case(db_session, ids["91001"])
    signals = {x["signal"]: x for x in low.priority_signals}
    assert signals["attendance"]["points"] == 10 and signals["attendance"]["detail"] == "50%"
    assert signals["attendance"]["member"] == "1002"
    assert signals["absence_months"]["points"] == 10
    assert low.priority_points == sum(x["points"] for x in low.priority_signals)
    assert low.area_code == "272191000101"
    regular = _case(db_session, ids["91002"])
    assert regular.priority_points == 0 and regular.priority_signals == []
    infant = _case(db_session, ids["91003"])
    assert {x["signal"] for x in infant.priority_signals} >= {"infant"}


def test_a_new_points_table_is_previewed_then_saved_and_every_open_case_rescored(casework, db_session):
    _app, ids, _users = casework
    s = db_session
    before = _case(s, ids["91001"]).priority_points
    proposed = {"attendance": {"bands": [{"below": 0.5, "points": 20}, {"below": 0.8, "points": 30},
                                         {"below": 0.9, "points": 5}]}}
    preview = cases.preview_scheme(s, proposed, clock.today_jst())
    top = preview[0]
    assert top["setai_no"] == "91001" and top["old_points"] == before and top["new_points"] == before + 20
    assert _case(s, ids["91001"]).priority_points == before          # a preview saves nothing
    assert s.scalar(select(PriorityScheme.id)) is None

    row = cases.save_scheme(s, proposed, actor=ACTOR, as_of=clock.today_jst(), note="出席を重視")
    s.commit()
    assert row.version == 1
    assert _case(s, ids["91001"]).priority_points == before + 20
    assert _case(s, ids["91001"]).priority_scheme_id == row.id
    event = s.scalars(select(AuditEvent).where(AuditEvent.action == "priority_change")).one()
    assert event.detail["signals"] == ["attendance"] and event.detail["rescored"] == 3

    with pytest.raises(cases.CaseError, match="変更がありません"):
        cases.save_scheme(s, proposed, actor=ACTOR, as_of=clock.today_jst())
    with pytest.raises(cases.CaseError, match="0 以上 1000 以下"):
        cases.save_scheme(s, {"infant": {"points": -1}}, actor=ACTOR, as_of=clock.today_jst())
    s.rollback()
    # Back to the defaults is a new version too.
    cases.save_scheme(s, DEFAULT_SCHEME, actor=ACTOR, as_of=clock.today_jst())
    s.commit()
    assert _case(s, ids["91001"]).priority_points == before


def test_a_caseworker_sees_only_their_organisations_cases(casework, db_session):
    _app, ids, users = casework
    s = db_session
    coord, school1, school2 = (user(s, users[k]) for k in ("coordinator", "school1", "school2"))
    cases.assign(s, ids["91001"], "和泉市立第一小学校", viewer=coord, actor=ACTOR)
    s.commit()
    assert cases.get_case(s, ids["91001"], school1).id == ids["91001"]
    for other in (ids["91002"], ids["91003"]):
        with pytest.raises(cases.CaseNotFound):
            cases.get_case(s, other, school1)
    with pytest.raises(cases.CaseNotFound):
        cases.get_case(s, ids["91001"], school2)
    with pytest.raises(cases.CaseNotFound):           # a caseworker cannot reassign
        cases.assign(s, ids["91001"], "和泉市立第二小学校", viewer=school1, actor=ACTOR)
    # Nor act on another organisation's case: it does not exist for them.
    with pytest.raises(cases.CaseNotFound):
        cases.assign(s, ids["91001"], "和泉市立第二小学校", viewer=school2, actor=ACTOR)
    with pytest.raises(cases.CaseNotFound):
        cases.close_case(s, ids["91001"], "他校が終了", viewer=school2, actor=ACTOR)
    with pytest.raises(cases.CaseNotFound):
        cases.record_outcome(s, ids["91001"], "申請につながった", close=True, viewer=school2, actor=ACTOR)
    with pytest.raises(cases.CaseNotFound):
        cases.close_case(s, ids["91002"], "未割当のケース", viewer=school1, actor=ACTOR)
    s.rollback()
    case = _case(s, ids["91001"])
    assert (case.status, case.assigned_org, case.outcome) == ("open", "和泉市立第一小学校", None)
    today = clock.today_jst()
    assert [r["id"] for r in worklist.worklist(s, worklist.Filters(), viewer=school1, today=today).rows] == [ids["91001"]]
    assert worklist.worklist(s, worklist.Filters(), viewer=school2, today=today).total == 0
    assert worklist.worklist(s, worklist.Filters(), viewer=coord, today=today).total == 3
    auditor = user(s, users["auditor"])
    assert worklist.worklist(s, worklist.Filters(), viewer=auditor, today=today).total == 0


def test_welfare_signals_are_shown_only_with_the_child_welfare_permission(casework, db_session):
    """The household page's rule for the priority signals: 生活保護 and ひとり親 (児童扶養手当) only with the
    child-welfare permission; a caseworker only the route's signals, whatever flags their account
    carries. Hidden signals are counted; the points are never changed."""
    _app, _ids, users = casework
    s = db_session
    coord, school1 = user(s, users["coordinator"]), user(s, users["school1"])
    signals = [{"signal": "attendance", "points": 10}, {"signal": "public_assistance", "points": 1},
               {"signal": "single_parent", "points": 1}, {"signal": "disability_child", "points": 1},
               {"signal": "missed_checkup", "points": 5}]

    def names(viewer):
        shown, hidden = cases.visible_signals(signals, viewer)
        return [x["signal"] for x in shown], hidden

    assert names(coord) == (["attendance", "disability_child", "missed_checkup"], 2)
    coord.child_welfare_permission = True
    assert names(coord) == ([x["signal"] for x in signals], 0)
    school1.child_welfare_permission = school1.tax_permission = True
    assert names(school1) == (["attendance", "missed_checkup"], 3)
    assert not cases.sees_child_welfare(school1) and not cases.sees_tax(school1)
    assert cases.visible_signals(None, coord) == ([], 0)
    s.rollback()


def test_contacts_and_outcomes_are_history_and_audited(casework, db_session):
    _app, ids, users = casework
    s = db_session
    coord, school1 = user(s, users["coordinator"]), user(s, users["school1"])
    today = clock.today_jst()
    cid = ids["91001"]
    cases.assign(s, cid, "和泉市立第一小学校", viewer=coord, actor=ACTOR)
    cases.log_contact(s, cid, cases.Contact("school_check", today, "学校で様子を確認", "担任と面談"), viewer=school1,
                      actor=ACTOR, today=today)
    with pytest.raises(cases.CaseError, match="未来"):
        cases.log_contact(s, cid, cases.Contact("phone", today + timedelta(days=1), "その他"), viewer=school1,
                          actor=ACTOR, today=today)
    with pytest.raises(cases.CaseError, match="結果を一覧"):
        cases.record_outcome(s, cid, "よくわからない", viewer=school1, actor=ACTOR)
    cases.record_outcome(s, cid, "接触できず継続", close=True, viewer=school1, actor=ACTOR)
    assert _case(s, cid).status == "open"                     # 接触できず継続 never closes
    cases.record_outcome(s, cid, "申請につながった", close=True, viewer=school1, actor=ACTOR)
    s.commit()
    case = _case(s, cid)
    assert (case.status, case.outcome, case.open_key, case.last_contact_on) == ("closed", "申請につながった", None, today)
    kinds = list(s.scalars(select(OutreachCaseEvent.kind).where(OutreachCaseEvent.case_id == cid)
                           .order_by(OutreachCaseEvent.id)))
    assert kinds == ["opened", "assigned", "contact", "outcome", "outcome", "closed"]
    changes = [e.detail["change"] for e in s.scalars(select(AuditEvent).where(
        AuditEvent.action == "case_change", AuditEvent.target_id == str(cid)).order_by(AuditEvent.id))]
    assert changes == ["opened", "assigned", "contact", "outcome", "outcome", "closed"]
    with pytest.raises(cases.CaseError, match="終了しています"):
        cases.log_contact(s, cid, cases.Contact("phone", today, "その他"), viewer=school1, actor=ACTOR, today=today)
    # Closed: the pair may be opened again.
    again = cases.open_by_hand(s, "91001", "shugaku_enjo", route="school_ssw", note="再度", viewer=coord, actor=ACTOR,
                               as_of=today)
    with pytest.raises(cases.CaseError, match="すでにあります"):
        cases.open_by_hand(s, "91001", "shugaku_enjo", route="school_ssw", note=None, viewer=coord, actor=ACTOR,
                           as_of=today)
    assert again.id != cid


def _open_since(s, case_id, days):
    """Backdate a case's opening (as_of) by `days` days."""
    s.execute(update(OutreachCase).where(OutreachCase.id == case_id)
              .values(as_of=clock.today_jst() - timedelta(days=days)))
    s.commit()


def test_the_worklist_filters_and_sorts(casework, db_session):
    _app, ids, users = casework
    s = db_session
    coord = user(s, users["coordinator"])
    today = clock.today_jst()

    def ids_for(**kw):
        return [r["id"] for r in worklist.worklist(s, worklist.Filters(**kw), viewer=coord, today=today).rows]

    # 91001: 21 points (attendance, absences, single parent); 91003: 2 (infant, single parent); 91002: 0.
    assert ids_for() == [ids["91001"], ids["91003"], ids["91002"]]
    assert ids_for(route="health_nurse") == [ids["91003"]]
    assert ids_for(area="2721920") == [ids["91002"]]
    assert ids_for(area="27219") == [ids["91001"], ids["91003"], ids["91002"]]
    assert ids_for(school_code="S01") == [ids["91001"]]
    assert ids_for(school_code="S02") == [ids["91002"]]
    assert ids_for(school_code="S99") == []
    assert ids_for(organisation=worklist.UNASSIGNED) == [ids["91001"], ids["91003"], ids["91002"]]
    assert ids_for(min_wait_days=1) == []                      # all opened today
    assert ids_for(min_wait_days=0) == [ids["91001"], ids["91003"], ids["91002"]]

    # The rule filter: a second case for 91002 under another rule.
    other = cases.open_by_hand(s, "91002", "kodomo_iryo", route="csw", note=None, viewer=coord, actor=ACTOR,
                               as_of=today).id
    s.commit()
    assert ids_for(rule_id="kodomo_iryo") == [other]
    assert ids_for(rule_id="shugaku_enjo") == [ids["91001"], ids["91003"], ids["91002"]]
    assert ids_for(rule_id="nothing") == []
    assert worklist.choices(s, coord)["rules"] == ["kodomo_iryo", "shugaku_enjo"]
    assert worklist.choices(s, coord)["schools"] == [("S01", "和泉市立第一小学校"), ("S02", "和泉市立第二小学校")]

    # Status: open (the default), closed, all.
    cases.close_case(s, ids["91003"], "転居の確認", viewer=coord, actor=ACTOR)
    cases.assign(s, ids["91002"], "和泉市立第二小学校", viewer=coord, actor=ACTOR)
    s.commit()
    assert ids_for() == [ids["91001"], ids["91002"], other]
    assert ids_for(status="closed") == [ids["91003"]]
    assert ids_for(status="all") == [ids["91001"], ids["91003"], ids["91002"], other]
    assert ids_for(status="closed", route="school_ssw") == []
    waits = {r["id"]: r["waiting_days"] for r in worklist.worklist(s, worklist.Filters(status="all"), viewer=coord,
                                                                   today=today).rows}
    assert waits[ids["91003"]] is None and waits[ids["91001"]] == 0      # a closed case no longer waits
    assert ids_for(organisation="和泉市立第二小学校") == [ids["91002"]]
    assert ids_for(organisation=worklist.UNASSIGNED) == [ids["91001"], other]

    with pytest.raises(worklist.FilterError):
        worklist.parse_filters({"route": "nowhere"})
    with pytest.raises(worklist.FilterError):
        worklist.parse_filters({"wait": "-3"})
    with pytest.raises(worklist.FilterError):
        worklist.parse_filters({"status": "gone"})
    with pytest.raises(worklist.FilterError):
        worklist.parse_filters({"sort": "name"})
    assert worklist.parse_filters({"area": "2721", "sort": "waiting"}).args() == {"area": "2721", "sort": "waiting"}
    f = worklist.parse_filters({"rule": "kodomo_iryo", "school": "S01", "status": "all", "wait": "0"})
    assert (f.rule_id, f.school_code, f.status, f.min_wait_days) == ("kodomo_iryo", "S01", "all", 0)
    assert f.args() == {"rule": "kodomo_iryo", "school": "S01", "status": "all", "wait": 0}


def test_the_worklist_waits_and_sorts_by_waiting_time_and_newest(casework, db_session):
    _app, ids, users = casework
    s = db_session
    coord = user(s, users["coordinator"])
    today = clock.today_jst()
    _open_since(s, ids["91001"], 3)
    _open_since(s, ids["91002"], 10)     # 91003 opened today

    def rows(**kw):
        return worklist.worklist(s, worklist.Filters(**kw), viewer=coord, today=today).rows

    def ids_for(**kw):
        return [r["id"] for r in rows(**kw)]

    assert ids_for() == [ids["91001"], ids["91003"], ids["91002"]]                  # points: 21, 2, 0
    assert ids_for(sort="waiting") == [ids["91002"], ids["91001"], ids["91003"]]    # 10, 3, 0 days
    assert ids_for(sort="newest") == [ids["91003"], ids["91001"], ids["91002"]]
    assert {r["id"]: r["waiting_days"] for r in rows()} == {ids["91001"]: 3, ids["91002"]: 10, ids["91003"]: 0}
    assert ids_for(min_wait_days=3) == [ids["91001"], ids["91002"]]                 # by points
    assert ids_for(min_wait_days=3, sort="waiting") == [ids["91002"], ids["91001"]]
    assert ids_for(min_wait_days=4) == [ids["91002"]]
    assert ids_for(min_wait_days=10) == [ids["91002"]]
    assert ids_for(min_wait_days=11) == []
    # Ties: the same waiting time falls back to points (waiting) and to the newer case (newest).
    _open_since(s, ids["91003"], 3)
    assert ids_for(sort="waiting") == [ids["91002"], ids["91001"], ids["91003"]]
    assert ids_for(sort="newest") == [ids["91003"], ids["91001"], ids["91002"]]
    assert worklist.parse_filters({"wait": "3", "sort": "newest"}) == worklist.Filters(min_wait_days=3, sort="newest")


def test_the_worklist_pages(casework, db_session):
    _app, ids, users = casework
    s = db_session
    coord = user(s, users["coordinator"])
    today = clock.today_jst()

    def page(n, **kw):
        return worklist.worklist(s, worklist.Filters(**kw), viewer=coord, today=today, page=n, page_size=2)

    first, second = page(1), page(2)
    assert (first.total, first.pages, first.page) == (3, 2, 1)
    assert [r["id"] for r in first.rows] == [ids["91001"], ids["91003"]]
    assert (second.total, second.pages, second.page) == (3, 2, 2)
    assert [r["id"] for r in second.rows] == [ids["91002"]]
    assert page(9).page == 2 and [r["id"] for r in page(9).rows] == [ids["91002"]]     # past the end: the last
    assert page(0).page == 1 and [r["id"] for r in page(0).rows] == [ids["91001"], ids["91003"]]
    one = page(1, route="school_ssw")
    assert (one.total, one.pages, [r["id"] for r in one.rows]) == (2, 1, [ids["91001"], ids["91002"]])
    none = page(1, school_code="S99")
    assert (none.total, none.pages, none.page, none.rows) == (0, 1, 1, [])
    everything = worklist.worklist(s, worklist.Filters(), viewer=coord, today=today, page=2)
    assert (everything.total, everything.pages, everything.page, len(everything.rows)) == (3, 1, 1, 3)
