"""Exports of open outreach cases: pseudonyms stable per partner and different across partners, no
direct identifier anywhere in the masked file, the key table for admins only, the identified file's
exact columns, one audit row per export, and the bulk-export alert above (not at) the limit."""
from __future__ import annotations

import datetime as dt
import json
import logging

import pandas as pd
import pytest
from sqlalchemy import select

from notifier import audit
from notifier.contract import OUTREACH_LEGAL_BASIS
from notifier.models import SOURCE_TABLES, AuditEvent, OutreachCase, OutreachCaseEvent, RuleVersion, StaffUser
from notifier.outreach import export as ex
from notifier.outreach import masking
from tests.factories import create_staff, import_sources, sign_in

AS_OF = dt.date(2026, 11, 2)
KEY = "test-pseudonym-key"
SHAKYO = "和泉市社会福祉協議会"
SHOKUDO = "こども食堂ひまわり"
ACTOR = audit.Actor(label="coord1")
REASONS = ["非課税世帯", "ひとり親控除あり", "療育手帳B1", "要保護児童"]

RESIDENTS = [
    # household 900001: 世帯主, spouse, two children (8 and 5 on AS_OF); an address with 丁目 and a room
    {"宛名番号": "9000011", "世帯番号": "900001", "氏名": "山田 太郎", "氏名カナ": "ヤマダ タロウ", "生年月日": "1980-05-05",
     "性別": "1", "続柄": "世帯主", "住所コード": "272191001001", "住所": "大阪府和泉市府中町一丁目１番２号　コーポ和泉１０１号室"},
    {"宛名番号": "9000012", "世帯番号": "900001", "氏名": "山田 花子", "氏名カナ": "ヤマダ ハナコ", "生年月日": "1982-07-07",
     "性別": "2", "続柄": "妻", "住所コード": "272191001001", "住所": "大阪府和泉市府中町一丁目１番２号　コーポ和泉１０１号室"},
    {"宛名番号": "9000013", "世帯番号": "900001", "氏名": "山田 一郎", "氏名カナ": "ヤマダ イチロウ", "生年月日": "2018-03-03",
     "性別": "1", "続柄": "子", "住所コード": "272191001001", "住所": "大阪府和泉市府中町一丁目１番２号　コーポ和泉１０１号室"},
    {"宛名番号": "9000014", "世帯番号": "900001", "氏名": "山田 二葉", "氏名カナ": "ヤマダ フタバ", "生年月日": "2021-06-06",
     "性別": "2", "続柄": "子", "住所コード": "272191001001", "住所": "大阪府和泉市府中町一丁目１番２号　コーポ和泉１０１号室"},
    # household 900002: the 世帯主 moved out; the oldest current adult is the guardian; 番地 address
    {"宛名番号": "9000021", "世帯番号": "900002", "氏名": "佐藤 健一", "氏名カナ": "サトウ ケンイチ", "生年月日": "1970-01-01",
     "性別": "1", "続柄": "世帯主", "住所コード": "272191002000", "住所": "大阪府和泉市三林町１２３番地",
     "消除日": "2026-01-10", "消除事由": "転出"},
    {"宛名番号": "9000022", "世帯番号": "900002", "氏名": "佐藤 恵子", "氏名カナ": "サトウ ケイコ", "生年月日": "1985-02-02",
     "性別": "2", "続柄": "妻", "住所コード": "272191002000", "住所": "大阪府和泉市三林町１２３番地"},
    {"宛名番号": "9000023", "世帯番号": "900002", "氏名": "佐藤 美咲", "氏名カナ": "サトウ ミサキ", "生年月日": "1990-09-09",
     "性別": "2", "続柄": "妹", "住所コード": "272191002000", "住所": "大阪府和泉市三林町１２３番地"},
    {"宛名番号": "9000024", "世帯番号": "900002", "氏名": "佐藤 翔太", "氏名カナ": "サトウ ショウタ", "生年月日": "2012-04-10",
     "性別": "1", "続柄": "子", "住所コード": "272191002000", "住所": "大阪府和泉市三林町１２３番地"},
    # household 900003: one resident without a text address (the 住所コード's 町字 part is used)
    {"宛名番号": "9000031", "世帯番号": "900003", "氏名": "鈴木 誠司", "氏名カナ": "スズキ セイジ", "生年月日": "1975-12-12",
     "性別": "1", "続柄": "世帯主", "住所コード": "272191003004", "住所": ""},
    # household 900004: only a closed case
    {"宛名番号": "9000041", "世帯番号": "900004", "氏名": "高橋 悟志", "氏名カナ": "タカハシ サトシ", "生年月日": "1988-08-08",
     "性別": "1", "続柄": "世帯主", "住所コード": "272191001002", "住所": "大阪府和泉市府中町二丁目３番４号"},
]


def _city(app, db_session, tmp_path) -> dict[str, int]:
    """Five open cases (two for household 900001, two for 900002 with different partners, one
    unassigned) and a closed one; contacts on the first case. Returns case ids by name."""
    import_sources(app, tmp_path / "city", {"juminhyo": RESIDENTS})
    versions = {}
    for rule_id, name in (("shugaku_enjo", "就学援助のご案内"), ("jidou_teate", "児童手当のご案内")):
        v = RuleVersion(rule_id=rule_id, version=1, name=name, definition="{}", content_hash=rule_id, status="active",
                        created_by="test")
        db_session.add(v)
        db_session.flush()
        versions[rule_id] = v.id
    spec = {"c1": ("900001", "shugaku_enjo", SHAKYO, "open", None),
            "c2": ("900001", "jidou_teate", SHAKYO, "open", "要対協に登録"),
            "c3": ("900002", "shugaku_enjo", SHOKUDO, "open", None),
            "c4": ("900002", "jidou_teate", SHAKYO, "open", None),
            "c5": ("900003", "shugaku_enjo", None, "open", None),
            "c6": ("900004", "shugaku_enjo", SHAKYO, "closed", "転出")}
    ids = {}
    for name, (setai, rule, org, status, outcome) in spec.items():
        case = OutreachCase(open_key=f"{setai}|{rule}" if status == "open" else None, setai_no=setai, rule_id=rule,
                            rule_version_id=versions[rule], reasons=json.dumps(REASONS, ensure_ascii=False),
                            route="csw", school_code="S001", school_name="和泉市立第一小学校",
                            legal_basis=OUTREACH_LEGAL_BASIS, status=status, outcome=outcome, assigned_org=org,
                            as_of=dt.date(2026, 10, 1), opened_at=dt.datetime(2026, 9, 30, 16, 30))  # 10/1 JST
        db_session.add(case)
        db_session.flush()
        ids[name] = case.id
    db_session.add_all([
        OutreachCaseEvent(case_id=ids["c1"], kind="contact", actor="test", at=dt.datetime(2026, 10, 5, 1, 0)),
        OutreachCaseEvent(case_id=ids["c1"], kind="contact", actor="test", at=dt.datetime(2026, 10, 20, 16, 0)),
        OutreachCaseEvent(case_id=ids["c3"], kind="note", actor="test", at=dt.datetime(2026, 10, 21, 1, 0)),
    ])
    db_session.commit()
    return ids


def _export(db_session, kind="masked", organisation=None, limit=500, actor=ACTOR):
    result = ex.export(db_session, kind, organisation=organisation, key=KEY, as_of=AS_OF, actor=actor,
                       alert_limit=limit)
    db_session.commit()
    return result


def _pseudonyms(rows) -> set[str]:
    return {r["仮名ID"] for r in rows}


def test_pseudonyms_are_stable_for_one_partner_and_differ_across_partners(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    first = _export(db_session, organisation=SHAKYO).rows
    again = _export(db_session, organisation=SHAKYO).rows
    assert first == again and len(first) == 3                                    # c1, c2, c4
    # household 900001's two cases carry one 仮名ID (the guardian, 世帯主 9000011)
    org_key = masking.organisation_key(KEY.encode(), SHAKYO)
    assert _pseudonyms(first) == {masking.pseudonym(org_key, "9000011"), masking.pseudonym(org_key, "9000022")}
    assert all(len(p) == masking.PSEUDONYM_LENGTH and int(p, 16) >= 0 for p in _pseudonyms(first))
    shokudo = _export(db_session, organisation=SHOKUDO).rows
    assert len(shokudo) == 1 and shokudo[0]["担当機関"] == SHOKUDO
    # the same person (佐藤 恵子, guardian of 900002) in both partners' files: different 仮名ID
    assert shokudo[0]["仮名ID"] not in _pseudonyms(first)
    everyone = _export(db_session).rows
    assert len(everyone) == 5 and not (_pseudonyms(everyone) & (_pseudonyms(first) | _pseudonyms(shokudo)))
    # another key: other pseudonyms
    other = ex.masked_rows(db_session, organisation=SHAKYO, key="another-key", as_of=AS_OF)
    assert not (_pseudonyms(other) & _pseudonyms(first))


def test_the_masked_rows_hold_only_reduced_values(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    rows = _export(db_session).rows
    assert all(list(r) == ex.MASKED_COLUMNS for r in rows)
    org_key = masking.organisation_key(KEY.encode(), "")
    by_pid = {}
    for r in rows:
        by_pid.setdefault(r["仮名ID"], []).append(r)
    yamada = by_pid[masking.pseudonym(org_key, "9000011")]
    assert {r["対象サービス"] for r in yamada} == {"就学援助のご案内", "児童手当のご案内"}
    assert {(r["町字"], r["子どもの年齢"], r["開始日"], r["状況"]) for r in yamada} == {
        ("和泉市府中町一丁目", "8歳、5歳", "2026年10月", "対応中")}
    sato = by_pid[masking.pseudonym(org_key, "9000022")]          # the 世帯主 moved out: the oldest adult
    assert {(r["町字"], r["子どもの年齢"]) for r in sato} == {("和泉市三林町", "14歳")}
    assert {r["担当機関"] for r in sato} == {SHOKUDO, SHAKYO}
    suzuki = by_pid[masking.pseudonym(org_key, "9000031")]
    assert [(r["町字"], r["子どもの年齢"], r["担当機関"]) for r in suzuki] == [("272191-003004", "", "")]
    assert {r["経路"] for r in rows} == {"コミュニティソーシャルワーカー（CSW・いきいきネット相談支援センター）"}


def _identifiers(db_session) -> set[str]:
    """Every direct identifier of the city's residents as the export could spell it."""
    jumin = SOURCE_TABLES["juminhyo"]
    out = set()
    for r in db_session.execute(select(jumin)).mappings():
        out |= {r["atena_no"], r["setai_no"], r["name"], r["name_kana"], r["address"] or ""}
        out |= set(r["name"].split()) | set(r["name_kana"].split())        # surname and given name alone
        b = r["birth_date"]
        if b is not None:
            b = pd.Timestamp(b).date()
            out |= {b.isoformat(), b.strftime("%Y%m%d"), b.strftime("%Y/%m/%d"), f"{b.year}年{b.month}月{b.day}日"}
        if r["address"]:
            # the house number part of the address ("１番２号", "１２３番地") must be dropped too
            tail = r["address"].split("丁目")[-1].split("町")[-1]
            out |= set(tail.split("　"))
    return {v for v in out if v}


def test_no_direct_identifier_in_any_cell_of_the_masked_export(app, db_session, tmp_path):
    ids = _city(app, db_session, tmp_path)
    identifiers = _identifiers(db_session) | set(REASONS) | {"要対協に登録", "和泉市立第一小学校", "S001"}
    assert {"9000011", "900001", "山田 太郎", "ヤマダ タロウ", "2018-03-03", "１番２号"} <= identifiers
    for org in (None, SHAKYO, SHOKUDO):
        result = _export(db_session, organisation=org)
        assert result.columns == ex.MASKED_COLUMNS and result.rows
        for row in result.rows:
            assert list(row) == ex.MASKED_COLUMNS
            for column, value in row.items():
                text = str(value)
                for ident in identifiers:
                    assert ident not in text, (column, value)
        text = result.csv()
        assert text.startswith("\ufeff仮名ID,町字,子どもの年齢")
        for ident in identifiers:
            assert ident not in text
        # no case id either: it would join two partners' files
        assert not any(str(ids[c]) == str(v) for r in result.rows for v in r.values() for c in ids)


def test_the_key_table_maps_each_pseudonym_to_the_guardian(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    masked = _export(db_session, organisation=SHAKYO).rows
    table = _export(db_session, "key_table", organisation=SHAKYO)
    assert table.columns == ["仮名ID", "宛名番号", "氏名"]
    assert {r["仮名ID"] for r in table.rows} == _pseudonyms(masked)
    assert sorted((r["宛名番号"], r["氏名"]) for r in table.rows) == [("9000011", "山田 太郎"), ("9000022", "佐藤 恵子")]


def test_the_identified_export_has_exactly_its_columns(app, db_session, tmp_path):
    ids = _city(app, db_session, tmp_path)
    result = _export(db_session, "identified")
    assert result.columns == ["case_id", "世帯番号", "宛名番号", "rule_id", "route", "organisation", "status",
                              "opened_on", "last_contact_on", "outcome"]
    assert result.csv().startswith("\ufeffcase_id,世帯番号,宛名番号,rule_id,route,organisation,status,opened_on,"
                                   "last_contact_on,outcome\r\n")
    by_id = {r["case_id"]: r for r in result.rows}
    assert set(by_id) == {ids[c] for c in ("c1", "c2", "c3", "c4", "c5")}            # the closed case is not in it
    assert by_id[ids["c1"]] == {"case_id": ids["c1"], "世帯番号": "900001", "宛名番号": "9000011",
                                "rule_id": "shugaku_enjo", "route": "csw", "organisation": SHAKYO, "status": "open",
                                "opened_on": "2026-10-01", "last_contact_on": "2026-10-21", "outcome": ""}
    assert by_id[ids["c2"]]["outcome"] == "要対協に登録" and by_id[ids["c2"]]["last_contact_on"] == ""
    assert by_id[ids["c3"]]["宛名番号"] == "9000022" and by_id[ids["c3"]]["last_contact_on"] == ""   # a note is no contact
    assert [r["case_id"] for r in _export(db_session, "identified", organisation=SHOKUDO).rows] == [ids["c3"]]


def test_every_export_writes_one_audit_row_without_personal_data(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    _export(db_session)
    _export(db_session, "identified", organisation=SHAKYO)
    _export(db_session, "key_table", organisation=SHOKUDO)
    rows = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)).all()
    assert [(r.target_type, r.target_id, r.actor) for r in rows] == [
        ("outreach_export", "masked", "coord1"), ("outreach_export", "identified", "coord1"),
        ("outreach_export", "key_table", "coord1")]
    assert [r.detail for r in rows] == [
        {"kind": "masked", "organisation": None, "rows": 5, "households": 3, "as_of": "2026-11-02"},
        {"kind": "identified", "organisation": SHAKYO, "rows": 3, "households": 2, "as_of": "2026-11-02"},
        {"kind": "key_table", "organisation": SHOKUDO, "rows": 1, "households": 1, "as_of": "2026-11-02"}]
    blob = json.dumps([r.detail for r in rows], ensure_ascii=False)
    assert not any(i in blob for i in _identifiers(db_session) if len(i) > 2)


def test_a_bad_organisation_or_kind_is_refused_and_leaves_no_audit_row(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    for org in ("存在しない団体", "  "):
        with pytest.raises(ex.ExportError, match="組織"):
            ex.export(db_session, "masked", organisation=org, key=KEY, as_of=AS_OF, actor=ACTOR, alert_limit=9)
    with pytest.raises(ex.ExportError, match="出力の種類"):
        ex.export(db_session, "everything", organisation=None, key=KEY, as_of=AS_OF, actor=ACTOR, alert_limit=9)
    with pytest.raises(ex.ExportError, match="PSEUDONYM_KEY"):
        ex.export(db_session, "masked", organisation=None, key="", as_of=AS_OF, actor=ACTOR, alert_limit=9)
    db_session.rollback()
    assert db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all() == []
    # an organisation known only from a staff account is fine (its file is empty)
    create_staff(db_session, "cw", ["caseworker"], organisation="和泉市立第二小学校")
    assert _export(db_session, organisation="和泉市立第二小学校").rows == []


def test_the_bulk_export_alert_fires_above_the_limit_and_not_at_it(app, db_session, tmp_path, caplog):
    from notifier import clock
    _city(app, db_session, tmp_path)
    today = clock.today_jst()
    caplog.set_level(logging.WARNING, logger="notifier.outreach.export")
    first = _export(db_session, limit=3)                          # 3 households: at the limit
    assert (first.households, first.day_total, first.alert) == (3, 3, False)
    assert ex.bulk_export_alerts(db_session, today, 3) == [] and not caplog.records
    _export(db_session, organisation=SHOKUDO, limit=3, actor=audit.Actor(label="other"))   # another user
    assert ex.bulk_export_alerts(db_session, today, 3) == []
    second = _export(db_session, "identified", organisation=SHOKUDO, limit=3)     # 1 more: 4 > 3
    assert (second.day_total, second.alert) == (4, True)
    assert ex.bulk_export_alerts(db_session, today, 3) == [{"actor": "coord1", "households": 4, "limit": 3}]
    assert ex.bulk_export_alerts(db_session, today, 4) == []
    assert ex.bulk_export_alerts(db_session, today + dt.timedelta(days=1), 3) == []      # per JST day
    [warning] = caplog.records
    assert "coord1" in warning.getMessage() and "4" in warning.getMessage()
    assert not any(i in warning.getMessage() for i in _identifiers(db_session) if len(i) > 2)


# --- the web ---------------------------------------------------------------------------------------
def test_the_web_download_by_role(app, client, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    coordinator = create_staff(db_session, "coord", ["coordinator"], child_welfare_permission=True)
    sign_in(client, db_session, coordinator)
    answer = client.get(f"/outreach/export.csv?organisation={SHAKYO}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    body = answer.get_data(as_text=True)
    assert body.startswith("\ufeff仮名ID,") and len(body.strip().splitlines()) == 4
    assert client.get("/outreach/export.csv?kind=identified").status_code == 200
    assert client.get("/outreach/export.csv?kind=key_table").status_code == 403
    assert client.get("/outreach/export.csv?kind=everything").status_code == 400
    assert client.get("/outreach/export.csv?organisation=存在しない団体").status_code == 400
    denied = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access_denied")).all()
    assert [d.detail for d in denied] == [{"path": "/outreach/export.csv", "kind": "key_table"}]
    exports = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [(e.target_id, e.actor) for e in exports] == [("masked", "coord"), ("identified", "coord")]

    plain = app.test_client()          # a coordinator without the child-welfare permission
    sign_in(plain, db_session, create_staff(db_session, "coord2", ["coordinator"]))
    assert plain.get("/outreach/export.csv").status_code == 200
    assert plain.get("/outreach/export.csv?kind=identified").status_code == 403

    other = app.test_client()
    sign_in(other, db_session, create_staff(db_session, "cw", ["caseworker"]))   # 和泉市立第一小学校: no cases
    own = other.get("/outreach/export.csv")                # a caseworker: their organisation's masked file only
    assert own.status_code == 200 and own.get_data(as_text=True).strip() == "\ufeff" + ",".join(ex.MASKED_COLUMNS)
    assert other.get(f"/outreach/export.csv?organisation={SHAKYO}").status_code == 403
    assert other.get("/outreach/export.csv?kind=identified").status_code == 403
    admin_client = app.test_client()
    sign_in(admin_client, db_session, create_staff(db_session, "admin1", ["admin"]))
    table = admin_client.get(f"/outreach/export.csv?kind=key_table&organisation={SHAKYO}")
    assert table.status_code == 200 and table.get_data(as_text=True).startswith("\ufeff仮名ID,宛名番号,氏名\r\n")


def test_the_dashboard_shows_bulk_export_alerts_to_auditors(app, client, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    app.config["BULK_EXPORT_ALERT_HOUSEHOLDS"] = 2
    _export(db_session, limit=2)                                  # 3 households > 2
    auditor = app.test_client()
    sign_in(auditor, db_session, create_staff(db_session, "aud", ["auditor"]))
    page = auditor.get("/").get_data(as_text=True)
    assert "data-export-alerts" in page and 'data-actor="coord1"' in page and "3 世帯" in page
    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))
    assert "data-export-alerts" not in client.get("/").get_data(as_text=True)


def test_a_generated_city_masked_export_holds_no_identifier(app, db_session, tiny_exports):
    """The generator's addresses (丁目 and 番地 forms, rooms, 外字, full-width digits) and names: every
    cell of the masked export of 40 households, checked against every resident of the city."""
    from notifier.ingest.importer import import_directory
    from notifier.ingest.mapping import Mapping
    summary = import_directory(app.extensions["db_engine"], tiny_exports, Mapping(), actor="test")
    assert not summary.failed
    jumin = SOURCE_TABLES["juminhyo"]
    setai = sorted(set(db_session.scalars(select(jumin.c.setai_no).where(jumin.c.removed_on.is_(None)))))[:40]
    v = RuleVersion(rule_id="shugaku_enjo", version=1, name="就学援助のご案内", definition="{}", content_hash="x",
                    status="active", created_by="test")
    db_session.add(v)
    db_session.flush()
    for i, s in enumerate(setai):
        db_session.add(OutreachCase(open_key=f"{s}|shugaku_enjo", setai_no=s, rule_id="shugaku_enjo",
                                    rule_version_id=v.id, route="csw", legal_basis=OUTREACH_LEGAL_BASIS,
                                    status="open", assigned_org=SHAKYO if i % 2 else SHOKUDO, as_of=AS_OF))
    db_session.commit()
    identifiers = _identifiers(db_session)
    for org in (None, SHAKYO):
        rows = _export(db_session, organisation=org).rows
        assert len(rows) == (40 if org is None else 20)
        assert len(_pseudonyms(rows)) == len(rows)
        for row in rows:
            for column, value in row.items():
                assert not any(i in str(value) for i in identifiers if len(i) > 2), (column, value)
            # 町字 keeps no house number: no digit outside 丁目's number, no 番/号
            choaza = row["町字"]
            assert choaza and "番" not in choaza and "号" not in choaza, choaza
            assert not any(ch.isdigit() for ch in choaza.split("丁目")[-1]) or "-" in choaza, choaza


# --- caseworkers: their own organisation's masked file ----------------------------------------------
def test_a_caseworkers_export_covers_the_organisation_on_their_account_only(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    worker = create_staff(db_session, "cw1", ["caseworker"], organisation=SHAKYO)
    coordinator = create_staff(db_session, "coord", ["coordinator"], child_welfare_permission=True)
    admin = create_staff(db_session, "admin1", ["admin"])
    assert ex.export_organisation(worker, "masked", None) == SHAKYO
    assert ex.export_organisation(worker, "masked", SHAKYO) == SHAKYO
    for kind, requested in (("masked", SHOKUDO), ("identified", None), ("identified", SHAKYO), ("key_table", None),
                            ("key_table", SHAKYO)):
        with pytest.raises(ex.ExportDenied):
            ex.export_organisation(worker, kind, requested)
    nowhere = create_staff(db_session, "cw0", ["caseworker"])
    nowhere.organisation = None              # accounts refuse this; an account cleared by hand has no file
    with pytest.raises(ex.ExportDenied):
        ex.export_organisation(nowhere, "masked", None)
    # city staff still choose
    assert ex.export_organisation(coordinator, "masked", SHOKUDO) == SHOKUDO
    assert ex.export_organisation(coordinator, "masked", None) is None
    assert ex.export_organisation(coordinator, "identified", SHAKYO) == SHAKYO
    with pytest.raises(ex.ExportDenied):
        ex.export_organisation(coordinator, "key_table", None)
    assert ex.export_organisation(admin, "key_table", SHAKYO) == SHAKYO


def _caseworker_client(app, db_session, username="cw1", organisation=SHAKYO):
    c = app.test_client()
    sign_in(c, db_session, create_staff(db_session, username, ["caseworker"], organisation=organisation))
    return c


def test_a_caseworker_downloads_their_organisations_masked_file_from_the_worklist(app, client, db_session, tmp_path):
    """The button on a caseworker's worklist; the file holds their organisation's open cases only and is
    byte for byte the coordinators' masked file for that organisation (same columns, same 仮名ID)."""
    ids = _city(app, db_session, tmp_path)
    worker = _caseworker_client(app, db_session)
    page = worker.get("/outreach/").get_data(as_text=True)
    assert "data-own-export" in page and 'name="organisation"' not in page
    answer = worker.get("/outreach/export.csv?kind=masked")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    body = answer.get_data(as_text=True)
    assert body.startswith("\ufeff" + ",".join(ex.MASKED_COLUMNS) + "\r\n")
    rows = body.strip().splitlines()[1:]
    assert len(rows) == 3 and all(r.endswith("," + SHAKYO) for r in rows)      # c1, c2, c4; not c3 (SHOKUDO), c5
    assert worker.get(f"/outreach/export.csv?organisation={SHAKYO}").get_data(as_text=True) == body

    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))
    coordinators = client.get(f"/outreach/export.csv?kind=masked&organisation={SHAKYO}").get_data(as_text=True)
    assert body == coordinators
    from notifier import clock
    service = ex.masked_rows(db_session, organisation=SHAKYO, key=app.config["PSEUDONYM_KEY"],
                             as_of=clock.today_jst())
    assert body == masking.to_csv(ex.MASKED_COLUMNS, service)
    assert not any(str(ids[c]) in r.split(",") for r in rows for c in ids)

    exports = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export")
                                 .order_by(AuditEvent.id)).all()
    assert [(e.target_type, e.target_id, e.actor) for e in exports] == [
        ("outreach_export", "masked", "cw1"), ("outreach_export", "masked", "cw1"),
        ("outreach_export", "masked", "coord")]
    assert {e.detail["organisation"] for e in exports} == {SHAKYO}
    assert (exports[0].detail["rows"], exports[0].detail["households"]) == (3, 2)


def test_a_caseworker_cannot_choose_another_organisation_or_another_kind(app, db_session, tmp_path):
    _city(app, db_session, tmp_path)
    worker = _caseworker_client(app, db_session)
    for query in (f"organisation={SHOKUDO}", f"kind=masked&organisation={SHOKUDO}", "organisation=存在しない団体",
                  "kind=identified", f"kind=identified&organisation={SHAKYO}", "kind=key_table",
                  f"kind=key_table&organisation={SHAKYO}"):
        answer = worker.get(f"/outreach/export.csv?{query}")
        assert answer.status_code == 403, query
        assert SHOKUDO not in answer.get_data(as_text=True)
    assert worker.get("/outreach/export.csv?kind=everything").status_code == 400
    assert db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all() == []
    denied = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access_denied")
                                .order_by(AuditEvent.id)).all()
    assert [(d.actor, d.detail["kind"]) for d in denied] == [("cw1", k) for k in ("masked",) * 3 +
                                                             ("identified",) * 2 + ("key_table",) * 2]
    # a caseworker account whose organisation was cleared by hand has no file, and no button
    nowhere = _caseworker_client(app, db_session, "cw0")
    user = db_session.scalars(select(StaffUser).where(StaffUser.username == "cw0")).one()
    user.organisation = None
    db_session.commit()
    assert "data-own-export" not in nowhere.get("/outreach/").get_data(as_text=True)
    assert nowhere.get("/outreach/export.csv").status_code == 403


def test_the_bulk_export_alert_counts_a_caseworkers_downloads(app, db_session, tmp_path, caplog):
    from notifier import clock
    _city(app, db_session, tmp_path)
    app.config["BULK_EXPORT_ALERT_HOUSEHOLDS"] = 3
    caplog.set_level(logging.WARNING, logger="notifier.outreach.export")
    worker = _caseworker_client(app, db_session)
    assert worker.get("/outreach/export.csv").status_code == 200                 # 2 households: under the limit
    assert ex.bulk_export_alerts(db_session, clock.today_jst(), 3) == [] and not caplog.records
    assert worker.get("/outreach/export.csv").status_code == 200                 # 4 > 3
    assert ex.bulk_export_alerts(db_session, clock.today_jst(), 3) == [{"actor": "cw1", "households": 4, "limit": 3}]
    [warning] = caplog.records
    assert "cw1" in warning.getMessage() and "4" in warning.getMessage()
    auditor = app.test_client()
    sign_in(auditor, db_session, create_staff(db_session, "aud", ["auditor"]))
    page = auditor.get("/").get_data(as_text=True)
    assert "data-export-alerts" in page and 'data-actor="cw1"' in page and "4 世帯" in page
