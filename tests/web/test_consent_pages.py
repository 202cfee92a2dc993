"""Staff consent pages: household search, history, counter consents, written withdrawals, unlinking."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from notifier.clock import JST
from notifier.consent import service as consent
from notifier.line import accounts
from notifier.models import AuditEvent, ConsentEvent, LineAccount
from tests.factories import create_staff, csrf_token, import_sources, sign_in

RESIDENTS = [
    {"宛名番号": "0000101", "世帯番号": "500001", "続柄": "世帯主", "氏名": "和泉 花子", "氏名カナ": "イズミ ハナコ"},
    {"宛名番号": "0000102", "世帯番号": "500001", "続柄": "子", "氏名": "和泉 太郎", "氏名カナ": "イズミ タロウ",
     "生年月日": "2015-06-01"},
    {"宛名番号": "0000103", "世帯番号": "500001", "続柄": "子", "氏名": "和泉 次郎", "氏名カナ": "イズミ ジロウ",
     "生年月日": "2010-01-01", "消除日": "2025-03-31", "消除事由": "転出"},
    {"宛名番号": "0000201", "世帯番号": "500002", "氏名": "府中 一郎", "氏名カナ": "フチュウ イチロウ"},
]
APPLICATIONS = [{"申請ID": "IZM-7K3P-9QX2", "申請者宛名番号": "0000101", "手続きコード": "kyufukin",
                 "申請日時": "2026-10-01 10:00"}]


@pytest.fixture
def city(app, tmp_path):
    import_sources(app, tmp_path, {"juminhyo": RESIDENTS, "online_shinsei": APPLICATIONS})
    return app


@pytest.fixture
def coordinator(city, client, db_session):
    user = create_staff(db_session, "coord1", ["coordinator"])
    sign_in(client, db_session, user)
    return client


def consent_rows(db_session):
    db_session.expire_all()
    return [(e.atena_no, e.scope, e.action, e.channel, e.staff_id)
            for e in db_session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))]


def audits(db_session, action):
    db_session.expire_all()
    return db_session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def now_jst() -> str:
    return datetime.now(UTC).astimezone(JST).strftime("%Y-%m-%d %H:%M")


def search(client, by: str, number: str):
    """The search as staff use it: a POST (no number in any URL), then the household's opaque address."""
    resp = client.post("/consents/", data={"csrf_token": csrf_token(client, "/"), "by": by, "q": number})
    if resp.status_code == 303:
        location = resp.headers["Location"]
        assert number not in location and "q=" not in location
        return client.get(location)
    return resp


def record_form(client, **fields):
    data = {"csrf_token": csrf_token(client, "/consents/"), "setai_no": "500001",
            "atena_no": "0000101", "action": "grant", "scope": "notify", "channel": "窓口",
            "occurred_at": now_jst(), "reference": ""}
    data.update(fields)
    return client.post("/consents/record", data=data)


def test_it_checks_roles_owner_member_outsider(city, db_session):
    for name, role, expected in (("owner", "coordinator", 200), ("member", "admin", 200),
                                 ("outsider", "rule_author", 403), ("worker", "caseworker", 403)):
        user = create_staff(db_session, name, [role])
        c = city.test_client()
        sign_in(c, db_session, user)
        assert search(c, "setai", "500001").status_code == expected, role
        assert ("同意の管理" in c.get("/").get_data(as_text=True)) == (expected == 200), role
    denied = audits(db_session, "access_denied")
    assert [d.actor for d in denied] == ["outsider", "worker"]
    assert [a.actor for a in audits(db_session, "view_household")] == ["owner", "member"]


def test_the_posts_are_refused_to_outsiders(city, db_session):
    user = create_staff(db_session, "author", ["rule_author"])
    c = city.test_client()
    sign_in(c, db_session, user)
    token = csrf_token(c, "/")
    assert c.post("/consents/record", data={"csrf_token": token, "setai_no": "500001"}).status_code == 403
    assert c.post("/consents/unlink", data={"csrf_token": token, "setai_no": "500001"}).status_code == 403


def test_it_finds_a_household_by_either_number_and_audits_the_view(coordinator, db_session):
    by_atena = search(coordinator, "atena", "0000102")
    html = by_atena.get_data(as_text=True)
    assert by_atena.status_code == 200
    assert "和泉 花子" in html and "イズミ ハナコ" in html and "和泉 太郎" in html and "イズミ タロウ" in html
    assert "和泉 次郎" not in html  # moved out: not a current member
    assert "府中 一郎" not in html
    # Full-width digits are the same number.
    assert search(coordinator, "setai", "５０００01").status_code == 200
    views = audits(db_session, "view_household")
    assert [(v.target_type, v.target_id, v.actor) for v in views] == [("household", "500001", "coord1")] * 2
    assert views[0].detail == {"via": "宛名番号"} and views[1].detail == {"via": "世帯番号"}


def test_a_search_is_exact_and_says_when_nothing_matches(coordinator, db_session):
    resp = search(coordinator, "setai", "50000")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404 and "見つかりませんでした" in html and 'aria-invalid="true"' in html
    assert search(coordinator, "atena", "abc").status_code == 400
    assert audits(db_session, "view_household") == []


def test_it_shows_state_and_full_history(city, coordinator, db_session):
    consent.record(db_session, "0000101", grant=["notify", "tax"], actor="test", channel="窓口", staff_id="clerk9",
                   occurred_at=datetime(2025, 4, 1, 1, 30))
    consent.record(db_session, "0000101", withdraw=["tax"], actor="test", channel="LINE",
                   occurred_at=datetime(2025, 5, 1, 3, 0))
    db_session.commit()
    html = search(coordinator, "setai", "500001").get_data(as_text=True)
    member = html[html.index('id="member-0000101"'):html.index('id="member-0000102"')]
    assert re.search(r"お知らせの送付</th><td><strong>同意あり", member)
    assert re.search(r"課税情報の確認</th><td>撤回済み（2025年5月1日 12:00）", member)
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>"
                      r"\s*<td>(.*?)</td>", member)
    # Newest first; rows of one statement in reverse order of recording.
    assert rows == [("2025-05-01 12:00", "課税情報の確認", "撤回", "LINE（トーク）", "", "第1版"),
                    ("2025-04-01 10:30", "課税情報の確認", "同意", "窓口", "clerk9", "第1版"),
                    ("2025-04-01 10:30", "お知らせ", "同意", "窓口", "clerk9", "第1版")]


def test_a_counter_consent_is_recorded_with_the_staff_id_and_audited(coordinator, db_session):
    resp = record_form(coordinator, scope="notify,tax", channel="CSW", occurred_at="２０２５-04-01 10:30",
                       reference="CSW-2026-001")
    location = resp.headers["Location"]
    assert resp.status_code == 302 and location.startswith("/consents/h/") and location.endswith("#member-0000101")
    assert "500001" not in location
    assert consent_rows(db_session) == [("0000101", "notify", "grant", "CSW", "coord1"),
                                        ("0000101", "tax", "grant", "CSW", "coord1")]
    event = db_session.scalars(select(ConsentEvent)).first()
    assert event.occurred_at == datetime(2025, 4, 1, 1, 30)  # 10:30 JST in UTC
    assert event.setai_no == "500001" and event.reference == "CSW-2026-001" and event.text_id is not None
    change = audits(db_session, "consent_change")
    assert len(change) == 1 and change[0].target_id == "0000101" and change[0].actor == "coord1"
    assert change[0].detail["granted"] == ["notify", "tax"] and change[0].detail["withdrawn"] == []
    assert "の同意を記録しました" in coordinator.get(resp.headers["Location"]).get_data(as_text=True)


def test_a_tax_only_grant_is_refused_next_to_the_field(coordinator, db_session):
    resp = record_form(coordinator, scope="tax")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert re.search(r'<select id="scope" name="scope" aria-invalid="true" aria-describedby="scope-hint e-scope"', html)
    assert re.search(r'<p class="field-error" id="e-scope">課税情報の確認への同意は、お知らせの送付への同意と一緒にのみ', html)
    assert consent_rows(db_session) == [] and audits(db_session, "consent_change") == []


def test_form_errors_are_shown_next_to_each_field(coordinator, db_session):
    resp = record_form(coordinator, channel="職員", occurred_at="きのう", reference="x" * 200)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    for field in ("channel", "occurred_at", "reference"):
        assert f'id="e-{field}"' in html, field
    assert "「窓口」または「CSW」を選んでください" in html and "2026-04-01 10:30 の形" in html
    for ancient in ("0001-01-01 00:00", "1999-12-31 23:59"):      # a message by the field, not the error page
        old = record_form(coordinator, occurred_at=ancient).get_data(as_text=True)
        assert 'id="e-occurred_at"' in old and "2000年以降" in old
    future = record_form(coordinator, occurred_at="2099-01-01 00:00")
    assert future.status_code == 400 and "未来の日時は入力できません" in future.get_data(as_text=True)
    other = record_form(coordinator, atena_no="0000201")  # not in this household
    assert other.status_code == 400 and 'id="e-atena_no"' in other.get_data(as_text=True)
    assert consent_rows(db_session) == []


def test_a_written_withdrawal_is_recorded_by_staff(coordinator, db_session):
    consent.record(db_session, "0000101", grant=["notify", "tax"], actor="test", channel="LINE")
    db_session.commit()
    resp = record_form(coordinator, action="withdraw", scope="notify", channel="職員", reference="書面 第12号")
    assert resp.status_code == 302
    assert consent_rows(db_session)[2:] == [("0000101", "notify", "withdraw", "職員", "coord1"),
                                            ("0000101", "tax", "withdraw", "職員", "coord1")]
    assert consent.resident_state(db_session, "0000101") == {"notify": False, "tax": False}
    # Nothing left to withdraw: said next to the field, no row.
    again = record_form(coordinator, action="withdraw", scope="notify", channel="職員")
    assert again.status_code == 400 and "撤回できる同意がありません" in again.get_data(as_text=True)
    assert len(consent_rows(db_session)) == 4


def test_a_back_dated_entry_that_would_change_nothing_is_refused(coordinator, db_session):
    consent.record(db_session, "0000101", grant=["notify"], actor="test", channel="LINE", occurred_at=datetime(2025, 6, 1))
    db_session.commit()
    resp = record_form(coordinator, action="withdraw", scope="notify", channel="職員",
                       occurred_at="2025-05-31 09:00")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="e-occurred_at"' in html
    assert "この日時より後の同意・撤回がすでに記録されています（最新：2025-06-01 09:00）" in html
    assert len(consent_rows(db_session)) == 1


def linked_account(city, db_session) -> LineAccount:
    account = accounts.get_or_create_account(db_session, "U" + "a" * 32)
    assert accounts.try_link(db_session, account, "IZM-7K3P-9QX2", channel="LIFF") == "linked"
    consent.record(db_session, "0000101", grant=["notify"], actor="test", channel="LIFF", line_account_id=account.id)
    db_session.commit()
    return account


def test_a_wrong_link_is_undone_with_a_reason_and_audited(city, coordinator, db_session):
    account = linked_account(city, db_session)
    page = search(coordinator, "setai", "500001").get_data(as_text=True)
    assert "連携あり（LINE（同意ページ）で" in page and account.line_user_id not in page

    missing = coordinator.post("/consents/unlink", data={
        "csrf_token": csrf_token(coordinator, "/consents/"), "setai_no": "500001", "account_id": account.id,
        "reason": " "})
    assert missing.status_code == 400 and f'id="e-reason-{account.id}"' in missing.get_data(as_text=True)

    resp = coordinator.post("/consents/unlink", data={
        "csrf_token": csrf_token(coordinator, "/consents/"), "setai_no": "500001", "account_id": account.id,
        "reason": "別の方の申請IDで連携されていたため", "consent": "withdraw"})
    assert resp.status_code == 302
    db_session.expire_all()
    assert db_session.get(LineAccount, account.id).atena_no is None
    unlinked = [a for a in audits(db_session, "line_link") if a.detail.get("result") == "unlinked"]
    assert len(unlinked) == 1 and unlinked[0].actor == "coord1" and unlinked[0].target_id == "0000101"
    assert unlinked[0].detail["reason"] == "別の方の申請IDで連携されていたため"
    assert consent_rows(db_session)[-1] == ("0000101", "notify", "withdraw", "職員", "coord1")
    assert audits(db_session, "consent_change")[-1].detail["cause"] == "unlink"


def test_unlinking_keeps_consent_unless_asked(city, coordinator, db_session):
    account = linked_account(city, db_session)
    resp = coordinator.post("/consents/unlink", data={
        "csrf_token": csrf_token(coordinator, "/consents/"), "setai_no": "500001", "account_id": account.id,
        "reason": "本人からの申出", "consent": "keep"})
    assert resp.status_code == 302
    assert consent.resident_state(db_session, "0000101") == {"notify": True, "tax": False}


def test_an_account_of_another_household_cannot_be_unlinked_from_here(city, coordinator, db_session):
    account = linked_account(city, db_session)
    resp = coordinator.post("/consents/unlink", data={
        "csrf_token": csrf_token(coordinator, "/consents/"), "setai_no": "500002", "account_id": account.id,
        "reason": "誤り"})
    assert resp.status_code == 404
    huge = coordinator.post("/consents/unlink", data={
        "csrf_token": csrf_token(coordinator, "/consents/"), "setai_no": "500001", "account_id": "9" * 25,
        "reason": "誤り"})
    assert huge.status_code == 404
    db_session.expire_all()
    assert db_session.get(LineAccount, account.id).atena_no == "0000101"


def state_cells(html: str, atena: str) -> dict[str, str]:
    start = html.index(f'id="member-{atena}"')
    member = html[start:html.index("</section>", start)]
    return dict(re.findall(r'<tr data-state="(\w+)"><th scope="row">[^<]*</th><td>(.*?)</td></tr>', member))


def test_a_withdrawal_shows_as_withdrawn_with_its_date_not_as_never_granted(city, coordinator, db_session):
    consent.record(db_session, "0000101", grant=["notify", "tax"], actor="test", channel="LINE",
                   occurred_at=datetime(2025, 4, 1, 1, 30))
    consent.record(db_session, "0000101", withdraw=["notify"], actor="test", channel="LINE",
                   occurred_at=datetime(2025, 6, 2, 23, 5))           # 2025-06-03 08:05 in Japan
    consent.record(db_session, "0000102", grant=["notify"], actor="test", channel="窓口",
                   occurred_at=datetime(2025, 4, 1, 1, 30))
    db_session.commit()
    html = search(coordinator, "setai", "500001").get_data(as_text=True)
    # Withdrawing notify withdrew tax too: both say when (JST); a member never asked says 同意なし.
    assert state_cells(html, "0000101") == {"notify": "撤回済み（2025年6月3日 08:05）",
                                            "tax": "撤回済み（2025年6月3日 08:05）"}
    assert state_cells(html, "0000102") == {"notify": "<strong>同意あり</strong>", "tax": "同意なし"}

    consent.record(db_session, "0000101", grant=["notify"], actor="test", channel="LIFF",
                   occurred_at=datetime(2025, 7, 1, 0, 0))             # granted again: 同意あり
    db_session.commit()
    html = search(coordinator, "setai", "500001").get_data(as_text=True)
    assert state_cells(html, "0000101") == {"notify": "<strong>同意あり</strong>",
                                            "tax": "撤回済み（2025年6月3日 08:05）"}


def history_cells(html: str, atena: str) -> list[tuple[str, str]]:
    """(経路, 記録のもと) of each history row, newest first."""
    start = html.index(f'id="member-{atena}"')
    member = html[start:html.index("</section>", start)]
    rows = re.findall(r"<tr>\s*" + r"<td>(.*?)</td>\s*" * 7 + r"</tr>", member)
    return [(r[3], r[6]) for r in rows]


def test_the_history_says_where_each_statement_came_from_in_words(city, coordinator, db_session, tmp_path):
    from notifier.consent.importer import import_consents
    f = tmp_path / "窓口同意_2025年4月.csv"
    f.write_text("宛名番号,種別,同意範囲,取得日時,チャネル,職員ID\n0000102,同意,notify,2025-04-01 09:00,窓口,s2\n"
                 "0000102,撤回,notify,2025-04-02 09:00,CSW,s2\n", encoding="utf-8")
    import_consents(db_session, f, actor="test")
    consent.record(db_session, "0000101", grant=["notify"], actor="test", channel="LINE",
                   occurred_at=datetime(2025, 5, 1), reference="01HZXY5K2Q8V7BN4C3D2E1F0GA")
    db_session.commit()
    account = linked_account(city, db_session)
    coordinator.post("/consents/unlink", data={
        "csrf_token": csrf_token(coordinator, "/consents/"), "setai_no": "500001", "account_id": account.id,
        "reason": "別の方の申請IDで連携されていたため", "consent": "withdraw"})
    record_form(coordinator, channel="窓口", reference="受付 2026-0042")
    html = search(coordinator, "setai", "500001").get_data(as_text=True)

    assert history_cells(html, "0000101") == [
        ("窓口", "受付番号・書類番号：受付 2026-0042"),
        ("職員（LINE連携の解除）", "誤ったLINE連携の解除にともなう撤回"),
        ("LINE（同意ページ）", "本人がLINEの同意ページで操作"),
        ("LINE（トーク）", "本人がLINEのトークで操作")]
    assert history_cells(html, "0000102") == [
        ("CSW", "一括取込（窓口同意_2025年4月.csv の 3 行目）"),
        ("窓口", "一括取込（窓口同意_2025年4月.csv の 2 行目）")]
    # No stored reference appears raw: not LINE's event id, the unlinked account's number or the file hash.
    assert "01HZXY5K2Q8V7BN4C3D2E1F0GA" not in html and f"LINE連携解除 {account.id}" not in html
    assert not re.search(r"[0-9a-f]{16}", html.split("<main", 1)[1])
