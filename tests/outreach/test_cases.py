"""The case service: points stored on open cases and recomputed when the points table changes (with a
preview that saves nothing), caseworker isolation, and the actions with their history and audit rows."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

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
    today = clock.today_jst()
    assert [r["id"] for r in worklist.worklist(s, worklist.Filters(), viewer=school1, today=today).rows] == [ids["91001"]]
    assert worklist.worklist(s, worklist.Filters(), viewer=school2, today=today).total == 0
    assert worklist.worklist(s, worklist.Filters(), viewer=coord, today=today).total == 3
    auditor = user(s, users["auditor"])
    assert worklist.worklist(s, worklist.Filters(), viewer=auditor, today=today).total == 0


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


def test_the_worklist_filters_and_sorts(casework, db_session):
    _app, ids, users = casework
    s = db_session
    coord = user(s, users["coordinator"])
    today = clock.today_jst()

    def ids_for(**kw):
        return [r["id"] for r in worklist.worklist(s, worklist.Filters(**kw), viewer=coord, today=today).rows]

    assert ids_for()[0] == ids["91001"]                        # the most points first
    assert ids_for(route="health_nurse") == [ids["91003"]]
    assert ids_for(area="2721920") == [ids["91002"]]
    assert ids_for(organisation=worklist.UNASSIGNED) != []
    assert ids_for(min_wait_days=1) == []                      # all opened today
    cases.assign(s, ids["91002"], "和泉市立第二小学校", viewer=coord, actor=ACTOR)
    s.commit()
    assert ids_for(organisation="和泉市立第二小学校") == [ids["91002"]]
    with pytest.raises(worklist.FilterError):
        worklist.parse_filters({"route": "nowhere"})
    with pytest.raises(worklist.FilterError):
        worklist.parse_filters({"wait": "-3"})
    assert worklist.parse_filters({"area": "2721", "sort": "waiting"}).args() == {"area": "2721", "sort": "waiting"}
