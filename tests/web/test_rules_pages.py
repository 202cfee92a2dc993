"""Rule pages: list, versions, the form editor, reach preview and approval by a second person."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from notifier.consent import service as consent
from notifier.models import AuditEvent, RuleVersion
from tests.factories import create_staff, import_sources, sign_in

AS_OF = "2026-11-01"

# Four households with a pupil each (as of 2026-11-01, FY 2026). Against shugaku_enjo v1
# (income ≤ 1,000,000 + 500,000 × size, or tax-exempt; grades 小1–中3):
#   700001 single parent, income 1.2M (limit 2.0M)      → matches
#   700002 couple, income 2.9M (limit 2.5M)             → no; matches with base 1.6M (limit 3.1M)
#   700003 tax-exempt, pupil 中1                         → matches; lost when grades are 小1–小6
#   700004 no tax consent                                → not evaluated: no tax consent
CITY = {
    "juminhyo": [
        {"宛名番号": "0000011", "世帯番号": "700001", "続柄": "世帯主", "氏名カナ": "ヤマダ ミキ", "生年月日": "1988-02-02", "性別": "2"},
        {"宛名番号": "0000012", "世帯番号": "700001", "続柄": "長男", "氏名カナ": "ヤマダ ソウタ", "生年月日": "2016-05-05", "性別": "1"},
        {"宛名番号": "0000021", "世帯番号": "700002", "続柄": "世帯主", "氏名カナ": "スズキ タロウ", "生年月日": "1980-01-01", "性別": "1"},
        {"宛名番号": "0000022", "世帯番号": "700002", "続柄": "妻", "氏名カナ": "スズキ ハナ", "生年月日": "1982-01-01", "性別": "2"},
        {"宛名番号": "0000023", "世帯番号": "700002", "続柄": "長女", "氏名カナ": "スズキ ユイ", "生年月日": "2015-07-07", "性別": "2"},
        {"宛名番号": "0000031", "世帯番号": "700003", "続柄": "世帯主", "氏名カナ": "タナカ ケイコ", "生年月日": "1981-03-03", "性別": "2"},
        {"宛名番号": "0000032", "世帯番号": "700003", "続柄": "長男", "氏名カナ": "タナカ リク", "生年月日": "2013-06-01", "性別": "1"},
        {"宛名番号": "0000041", "世帯番号": "700004", "続柄": "世帯主", "氏名カナ": "サトウ アヤ", "生年月日": "1990-09-09", "性別": "2"},
        {"宛名番号": "0000042", "世帯番号": "700004", "続柄": "長女", "氏名カナ": "サトウ メイ", "生年月日": "2018-04-10", "性別": "2"},
    ],
    "shiminzei": [
        {"宛名番号": "0000011", "課税年度": "2026", "合計所得金額": "1200000", "課税区分": "課税", "ひとり親控除": "有"},
        {"宛名番号": "0000021", "課税年度": "2026", "合計所得金額": "2900000", "課税区分": "課税"},
        {"宛名番号": "0000031", "課税年度": "2026", "合計所得金額": "0", "課税区分": "非課税"},
        {"宛名番号": "0000041", "課税年度": "2026", "合計所得金額": "500000", "課税区分": "課税"},
    ],
    "gakureibo": [
        {"児童生徒番号": "80001", "氏名カナ": "ヤマダ ソウタ", "生年月日": "2016-05-05", "性別": "1", "住所コード": "272191000101",
         "学校コード": "E01", "学校名": "和泉市立第一小学校", "学年": "小5"},
        {"児童生徒番号": "80002", "氏名カナ": "スズキ ユイ", "生年月日": "2015-07-07", "性別": "2", "住所コード": "272191000101",
         "学校コード": "E01", "学校名": "和泉市立第一小学校", "学年": "小5"},
        {"児童生徒番号": "80003", "氏名カナ": "タナカ リク", "生年月日": "2013-06-01", "性別": "1", "住所コード": "272191000101",
         "学校コード": "J01", "学校名": "和泉市立第一中学校", "学年": "中1"},
        {"児童生徒番号": "80004", "氏名カナ": "サトウ メイ", "生年月日": "2018-04-10", "性別": "2", "住所コード": "272191000101",
         "学校コード": "E01", "学校名": "和泉市立第一小学校", "学年": "小3"},
    ],
}

# shugaku_enjo's form paths: root all → [0] pupils, [1] not 生活保護, [2] not 就学援助, [3] any → [0] income
BASE = "node-0-3-0-param-base"
PER_PERSON = "node-0-3-0-param-per_person"
GRADES = "node-0-0-param-grades"


def setup_city(app, db_session, directory, runner) -> None:
    """Import the small city, link it, load the shipped rules as active, and record consents."""
    import_sources(app, directory, CITY, complete=True)
    assert runner.invoke(args=["link", "run", "--as-of", AS_OF]).exit_code == 0
    result = runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"])
    assert result.exit_code == 0, result.output
    for atena in ("0000011", "0000021", "0000031"):
        consent.record(db_session, atena, grant=["notify", "tax"], actor="test", channel="窓口", staff_id="staff01")
    db_session.commit()


class _Form(HTMLParser):
    """The fields a browser would submit from the rule editor form (without the buttons)."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.inside = False
        self.select = self.textarea = None
        self.chosen = self.first = None
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "rule-editor" in (a.get("class") or ""):
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type", "text") not in ("submit", "button"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self.select, self.chosen, self.first = a.get("name"), None, None
        elif tag == "option" and self.select:
            self.first = a.get("value") if self.first is None else self.first
            if "selected" in a:
                self.chosen = a.get("value")
        elif tag == "textarea":
            self.textarea, self.text = a.get("name"), ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select:
            self.fields.append((self.select, self.chosen if self.chosen is not None else self.first))
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.fields.append((self.textarea, self.text))
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.text += data


def form_of(html: str) -> MultiDict:
    parser = _Form()
    parser.feed(html)
    return MultiDict(parser.fields)


def editor(client, path="/rules/shugaku_enjo/edit") -> MultiDict:
    resp = client.get(path)
    assert resp.status_code == 200, resp.status_code
    return form_of(resp.get_data(as_text=True))


def post(client, form: MultiDict, action: str, path="/rules/shugaku_enjo/edit", **changes):
    data = MultiDict(form)
    for k, v in changes.items():
        data.setlist(k.replace("__", "-"), v if isinstance(v, list) else [v])
    data["action"] = action
    return client.post(path, data=data)


def versions(db_session, rule_id="shugaku_enjo") -> list[RuleVersion]:
    db_session.expire_all()
    return db_session.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id)
                              .order_by(RuleVersion.version)).all()


def params_of(row: RuleVersion, index: list) -> dict:
    node = json.loads(row.definition)["criteria"]
    for key in index:
        node = node[key]
    return node["params"]


@pytest.fixture
def city(app, db_session, tmp_path, runner):
    setup_city(app, db_session, tmp_path / "city", runner)


def signed_in(app, db_session, username, roles):
    user = create_staff(db_session, username, roles)
    c = app.test_client()
    sign_in(c, db_session, user)
    return c


def figure(html: str, name: str) -> str:
    m = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert m, f"no figure {name}"
    return m.group(1).strip()


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page, owner, outsider", [
    ("/rules/", "rule_author", "coordinator"),
    ("/rules/", "rule_approver", "caseworker"),
    ("/rules/approvals", "rule_approver", "rule_author"),
    ("/rules/new", "rule_author", "rule_approver"),
])
def test_it_checks_roles_owner_member_outsider(app, db_session, page, owner, outsider):
    for name, role, expected in (("owner", owner, 200), ("member", "admin", 200), ("outsider", outsider, 403)):
        c = signed_in(app, db_session, name, [role])
        assert c.get(page).status_code == expected, (page, role)
    denied = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access_denied")).all()
    assert [d.actor for d in denied] == ["outsider"]


def test_it_lists_rules_with_versions_status_and_reach(app, db_session, city, runner):
    assert runner.invoke(args=["eligibility", "run", "--as-of", AS_OF]).exit_code == 0
    c = signed_in(app, db_session, "author", ["rule_author"])
    html = c.get("/rules/").get_data(as_text=True)
    row = re.search(r"<tr>\s*<td><code>shugaku_enjo</code>.*?</tr>", html, re.S).group(0)
    assert "就学援助のご案内" in row and "第1版" in row and "有効" in row
    assert re.findall(r'class="num">(\d+)<', row) == ["2", "2"]      # 700001 and 700003, both consented
    nav = c.get("/rules/").get_data(as_text=True)
    assert 'href="/rules/"' in nav and "承認待ち" not in re.search(r'<nav class="main".*?</nav>', nav, re.S).group(0)


def test_it_shows_the_active_version_readably(app, db_session, city):
    c = signed_in(app, db_session, "approver", ["rule_approver"])
    html = c.get("/rules/shugaku_enjo").get_data(as_text=True)
    assert "世帯の合計所得金額が基準以下（基本額: 1,000,000円、世帯員1人あたりの加算額: 500,000円）" in html
    assert "https://apply.city.example.lg.jp/shugaku_enjo" in html and "365日" in html
    assert "税・福祉・教育" in html and "第1版" in html
    assert "編集する" not in html                      # approvers do not edit
    assert c.get("/rules/nope").status_code == 404 and c.get("/rules/Bad-Id").status_code == 404


def test_the_editor_form_round_trips_every_shipped_rule(app, db_session, city):
    c = signed_in(app, db_session, "author", ["rule_author"])
    for row in db_session.scalars(select(RuleVersion)).all():
        path = f"/rules/{row.rule_id}/edit"
        form = editor(c, path)
        again = form_of(post(c, form, "refresh", path).get_data(as_text=True))
        # Compare the fields without the CSRF token: a new page may carry a new token (it is
        # signed with a timestamp, which differs when the second changes between the requests).
        assert sorted((k, v) for k, v in again.items(multi=True) if k != "csrf_token") == \
            sorted((k, v) for k, v in form.items(multi=True) if k != "csrf_token"), row.rule_id
        form["description"] = form["description"].replace("\n", "\r\n")     # as browsers submit text areas
        resp = post(c, form, "save", path)
        assert resp.status_code == 200 and "新しい版は作成しませんでした" in resp.get_data(as_text=True), row.rule_id
    assert all(v.version == 1 for v in db_session.scalars(select(RuleVersion)).all())


def test_it_saves_a_parameter_edit_as_a_pending_version(app, db_session, city):
    c = signed_in(app, db_session, "author", ["rule_author"])
    form = editor(c)
    assert form[BASE] == "1,000,000"
    resp = post(c, form, "save", **{BASE: "１，６００，０００", "version_note": "物価上昇にあわせて基準を見直し"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/rules/shugaku_enjo")
    v1, v2 = versions(db_session)
    assert (v1.status, v2.status, v2.version, v2.created_by) == ("active", "pending", 2, "author")
    assert params_of(v2, ["all", 3, "any", 0])["base"] == 1_600_000
    assert v2.note == "物価上昇にあわせて基準を見直し"
    audit = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "rule_change",
                                                        AuditEvent.actor == "author")).all()
    assert [a.target_id for a in audit] == ["shugaku_enjo@v2"]
    page = c.get("/rules/shugaku_enjo/v/2").get_data(as_text=True)
    assert "条件「世帯の合計所得金額が基準以下」（条件 4-1）の基本額: 1,000,000円 → 1,600,000円" in page
    assert "承認待ち" in page and "criteria." not in page


def test_an_invalid_parameter_is_shown_next_to_its_field_and_nothing_is_saved(app, db_session, city):
    c = signed_in(app, db_session, "author", ["rule_author"])
    resp = post(c, editor(c), "save", **{BASE: "百万円くらい", PER_PERSON: "-5", "cooldown_days": "",
                                         "application_url": "apply.example"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for field, message in ((BASE, "数字で入力してください"), (PER_PERSON, "0 以上が必要です"),
                           ("cooldown_days", "数値を入力してください"), ("application_url", "URL が必要です")):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', html).group(0)
        described = re.search(r'aria-describedby="([^"]*)"', tag).group(1).split()
        assert 'aria-invalid="true"' in tag and f"{field}-error" in described, field
        error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html).group(1)
        assert message in error, (field, error)
        assert not re.search(r"[a-z]{4}", error.replace("https", ""))  # Japanese only
    assert 'value="百万円くらい"' in html                             # what was typed stays
    assert [v.version for v in versions(db_session)] == [1]


def test_structural_edits_add_remove_negate_and_regroup(app, db_session, city):
    c = signed_in(app, db_session, "author", ["rule_author"])
    form = editor(c)
    # add a criterion to the root (all), then remove it again
    added = form_of(post(c, form, "add:0", node__0__new="has_jido").get_data(as_text=True))
    assert added["node-0-4-criterion"] == "has_jido" and added["node-0-4-type"] == "leaf"
    removed = form_of(post(c, added, "remove:0-4").get_data(as_text=True))
    assert "node-0-4-type" not in removed
    # group the pupil criterion, OR it with a new one, switch the root's any group to all
    grouped = form_of(post(c, removed, "group:0-0").get_data(as_text=True))
    assert grouped["node-0-0-type"] == "all" and grouped["node-0-0-0-criterion"] == "has_enrolled_pupil"
    grouped = form_of(post(c, grouped, "add:0-0", node__0__0__new="member_aged").get_data(as_text=True))
    assert grouped["node-0-0-1-param-max_age"] == "17"
    grouped["node-0-0-type"] = "any"
    grouped["node-0-0-1-param-min_age"] = "3"
    grouped["node-0-0-1-param-max_age"] = "5"
    # negate the new member_aged criterion, then move it up
    grouped = form_of(post(c, grouped, "not:0-0-1").get_data(as_text=True))
    assert grouped["node-0-0-1-type"] == "not" and grouped["node-0-0-1-0-criterion"] == "member_aged"
    grouped = form_of(post(c, grouped, "up:0-0-1").get_data(as_text=True))
    assert grouped["node-0-0-0-type"] == "not"
    # switching a criterion's kind shows its own parameters with their defaults
    switched = form_of(post(c, grouped, "refresh", node__1__0__criterion="receives").get_data(as_text=True))
    assert switched["node-0-1-0-criterion"] == "receives"
    assert post(c, grouped, "save").status_code == 302
    v2 = versions(db_session)[-1]
    crit = json.loads(v2.definition)["criteria"]["all"][0]
    assert list(crit) == ["any"]
    assert crit["any"][0]["not"]["criterion"] == "member_aged"
    assert crit["any"][0]["not"]["params"]["min_age"] == 3 and crit["any"][0]["not"]["params"]["max_age"] == 5
    assert crit["any"][1]["criterion"] == "has_enrolled_pupil"


def test_removing_the_last_child_removes_the_empty_group(app, db_session, city):
    c = signed_in(app, db_session, "author", ["rule_author"])
    form = editor(c)
    # [1] is not: receives(seikatsu_hogo); removing its only child removes the NOT node too
    out = form_of(post(c, form, "remove:0-1-0").get_data(as_text=True))
    assert out["node-0-1-type"] == "not" and out["node-0-1-0-param-source"] == "shugaku_enjo"
    assert "node-0-3-type" not in out


def test_dated_parameters_can_be_edited(app, db_session, city):
    c = signed_in(app, db_session, "author", ["rule_author"])
    form = form_of(post(c, editor(c), "dated:0-3-0:base", effective_from="").get_data(as_text=True))
    assert form[f"{BASE}-dated"] == "1" and form[f"{BASE}-value-0"] == "1,000,000"
    form = form_of(post(c, form, "addrow:0-3-0:base").get_data(as_text=True))
    form[f"{BASE}-from-0"] = "2025-04-01"
    form[f"{BASE}-from-1"] = "2027-04-01"
    form[f"{BASE}-value-1"] = "1,050,000"
    assert post(c, form, "save").status_code == 302
    assert params_of(versions(db_session)[-1], ["all", 3, "any", 0])["base"] == {
        "2025-04-01": 1_000_000, "2027-04-01": 1_050_000}
    # a row without its start date is an error on that parameter
    form = form_of(post(c, editor(c), "addrow:0-3-0:base").get_data(as_text=True))
    resp = post(c, form, "save")
    assert resp.status_code == 422
    assert re.search(rf'<p class="field-error" id="{BASE}-error">開始日を入力してください', resp.get_data(as_text=True))


def test_the_author_cannot_approve_their_own_version(app, db_session, city):
    c = signed_in(app, db_session, "both", ["rule_author", "rule_approver"])
    assert post(c, editor(c), "save", **{BASE: "1600000"}).status_code == 302
    v2 = versions(db_session)[-1]
    page = c.get("/rules/approvals").get_data(as_text=True)
    # The approve button is disabled, and the reason stands next to it (named by aria-describedby).
    button = re.search(r'<button type="submit" class="primary"([^>]*)>承認して有効にする</button>\s*'
                       r'<p class="why-disabled" id="own-(\d+)">([^<]*)</p>', page)
    assert button and "disabled" in button.group(1) and f'aria-describedby="own-{v2.id}"' in button.group(1)
    assert button.group(2) == str(v2.id) and "あなたが作成したため承認できません" in button.group(3)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = c.post(f"/rules/approvals/{v2.id}/approve", data={"csrf_token": token}, follow_redirects=True)
    assert "自分が作成した版は承認できません。別の承認者に依頼してください。" in resp.get_data(as_text=True)
    assert [v.status for v in versions(db_session)] == ["active", "pending"]
    assert c.post(f"/rules/approvals/{v2.id}/approve").status_code == 400       # CSRF is required


def test_another_approver_approves_and_the_old_version_is_superseded(app, db_session, city):
    author = signed_in(app, db_session, "author", ["rule_author"])
    assert post(author, editor(author), "save", **{BASE: "1600000"}).status_code == 302
    v2 = versions(db_session)[-1]
    approver = signed_in(app, db_session, "approver", ["rule_approver"])
    page = approver.get("/rules/approvals").get_data(as_text=True)
    assert "基本額: 1,000,000円 → 1,600,000円" in page and "作成したため" not in page and " disabled" not in page
    assert figure(page, "change") == "+1 / −0 世帯"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = approver.post(f"/rules/approvals/{v2.id}/approve", data={"csrf_token": token}, follow_redirects=True)
    assert "第2版を承認し、有効にしました。第1版は過去の版になりました。" in resp.get_data(as_text=True)
    v1, v2 = versions(db_session)
    assert (v1.status, v2.status, v2.decided_by) == ("superseded", "active", "approver")
    assert db_session.scalars(select(AuditEvent).where(AuditEvent.action == "rule_approve",
                                                       AuditEvent.actor == "approver")).one().target_id == "shugaku_enjo@v2"
    assert "承認待ちの版はありません" in approver.get("/rules/approvals").get_data(as_text=True)


def test_an_approver_can_reject_with_a_reason(app, db_session, city):
    author = signed_in(app, db_session, "author", ["rule_author"])
    assert post(author, editor(author), "save", **{BASE: "9000000"}).status_code == 302
    v2 = versions(db_session)[-1]
    approver = signed_in(app, db_session, "approver", ["rule_approver"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', approver.get("/rules/approvals").get_data(as_text=True)).group(1)
    approver.post(f"/rules/approvals/{v2.id}/reject", data={"csrf_token": token, "reason": "基準が高すぎます"})
    assert [v.status for v in versions(db_session)] == ["active", "rejected"]
    assert "却下" in author.get("/rules/shugaku_enjo").get_data(as_text=True)


def test_the_preview_shows_counts_and_the_change_against_the_active_version(app, db_session, city):
    author = signed_in(app, db_session, "author", ["rule_author"])
    form = editor(author)
    form.setlist(GRADES, ["1", "2", "3", "4", "5", "6"])
    # preview from the editor, before saving: nothing is stored
    html = post(author, form, "preview", **{BASE: "1600000", "as_of": AS_OF}).get_data(as_text=True)
    assert 'id="preview"' in html
    assert (figure(html, "matches"), figure(html, "with_notify"), figure(html, "would_notify"),
            figure(html, "not_evaluated"), figure(html, "change")) == ("2", "2", "2", "1", "+1 / −1 世帯")
    assert [v.version for v in versions(db_session)] == [1]
    assert post(author, form, "save", **{BASE: "1600000"}).status_code == 302

    approver = signed_in(app, db_session, "approver", ["rule_approver"])
    page = approver.get(f"/rules/shugaku_enjo/v/2/preview?as_of={AS_OF}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert figure(html, "matches") == "2" and figure(html, "change") == "+1 / −1 世帯"
    assert "まだ作られていない" not in html     # notices exist: the cool-down is applied (tests/outbox)
    # per-criterion breakdown: dropping the grade criterion regains the 中1 pupil's household
    row = re.search(r"<tr>\s*<td>1</td>.*?</tr>", html, re.S).group(0)
    assert "在籍する児童生徒がいる" in row and re.findall(r'class="num">(\d+)<', row) == ["3", "0", "1"]
    # the active version has no change against itself
    html = approver.get(f"/rules/shugaku_enjo/v/1/preview?as_of={AS_OF}").get_data(as_text=True)
    assert figure(html, "matches") == "2" and figure(html, "not_evaluated") == "1"
    assert 'data-figure="change"' not in html
    # a bad date says so next to the field and falls back to today
    html = approver.get("/rules/shugaku_enjo/v/1/preview?as_of=2026-13-45").get_data(as_text=True)
    assert re.search(r'id="as_of"[^>]*aria-invalid="true"', html) and "YYYY-MM-DD" in html


def test_the_household_table_is_built_once_per_inputs(app, db_session, city):
    c = signed_in(app, db_session, "approver", ["rule_approver"])
    for _ in range(3):
        assert c.get(f"/rules/shugaku_enjo/v/1/preview?as_of={AS_OF}").status_code == 200
    c.get(f"/rules/hitorioya/v/1/preview?as_of={AS_OF}")
    assert app.extensions["rules_preview_cache"].inputs.builds == 1
    # a new consent event changes the inputs: the table is built again
    consent.record(db_session, "0000041", grant=["notify", "tax"], actor="test", channel="窓口", staff_id="staff01")
    db_session.commit()
    html = c.get(f"/rules/shugaku_enjo/v/1/preview?as_of={AS_OF}").get_data(as_text=True)
    assert app.extensions["rules_preview_cache"].inputs.builds == 2
    assert figure(html, "not_evaluated") == "0"


def test_a_new_rule_is_created_as_a_pending_version_1(app, db_session, city):
    c = signed_in(app, db_session, "author", ["rule_author"])
    form = editor(c, "/rules/new")
    fields = {"rule_id": "kodomo_shokudo", "name": "こども食堂のご案内", "procedure_code": "kodomo_shokudo",
              "application_url": "https://apply.city.example.lg.jp/kodomo_shokudo", "template": "kodomo_shokudo"}
    dup = post(c, form, "save", "/rules/new", **{**fields, "rule_id": "shugaku_enjo"})
    assert dup.status_code == 422 and "このIDのルールはすでにあります" in dup.get_data(as_text=True)
    bad = post(c, form, "save", "/rules/new", **{**fields, "rule_id": "Kodomo-Shokudo"})
    assert bad.status_code == 422 and re.search(r'id="rule_id-error">英小文字', bad.get_data(as_text=True))
    resp = post(c, form, "save", "/rules/new", **fields)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/rules/kodomo_shokudo")
    (v1,) = versions(db_session, "kodomo_shokudo")
    assert v1.status == "pending" and v1.name == "こども食堂のご案内"
    approver = signed_in(app, db_session, "approver", ["rule_approver"])
    assert "新しいルールです" in approver.get("/rules/approvals").get_data(as_text=True)


def test_rule_pages_carry_no_inline_script_or_style(app, db_session, city):
    c = signed_in(app, db_session, "admin", ["admin"])
    for page in ("/rules/", "/rules/shugaku_enjo", "/rules/shugaku_enjo/v/1", "/rules/shugaku_enjo/edit",
                 "/rules/new", "/rules/approvals", f"/rules/shugaku_enjo/v/1/preview?as_of={AS_OF}"):
        html = c.get(page).get_data(as_text=True)
        assert " style=" not in html and "<style" not in html, page
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), page
        assert " onclick=" not in html and " onchange=" not in html, page


def test_a_preview_without_any_imported_data_reaches_no_household(app, db_session):
    c = signed_in(app, db_session, "author", ["rule_author"])
    fields = {"rule_id": "trial", "name": "試行", "procedure_code": "trial", "template": "trial",
              "application_url": "https://apply.city.example.lg.jp/trial"}
    html = post(c, editor(c, "/rules/new"), "preview", "/rules/new", **fields).get_data(as_text=True)
    assert figure(html, "matches") == "0" and "住民記録がまだ取り込まれていない" in html
    assert "まだ有効な版がないため" in html
    assert db_session.scalars(select(RuleVersion)).all() == []


def test_editing_while_a_version_is_pending_says_it_will_be_withdrawn(app, db_session, city):
    c = signed_in(app, db_session, "author", ["rule_author"])
    assert post(c, editor(c), "save", **{BASE: "1600000"}).status_code == 302
    form = editor(c)
    assert form[BASE] == "1,600,000"                      # the editor starts from the pending draft
    page = c.get("/rules/shugaku_enjo/edit").get_data(as_text=True)
    assert "保存すると、第2版は取り下げられ" in page
    assert post(c, form, "save", **{BASE: "1700000"}).status_code == 302
    assert [v.status for v in versions(db_session)] == ["active", "withdrawn", "pending"]
    old = editor(c, "/rules/shugaku_enjo/edit?from=1")    # or from any version
    assert old[BASE] == "1,000,000"


def test_the_pages_warn_when_a_rule_reads_a_source_that_was_never_imported(app, db_session, city):
    from notifier.models import ImportRun
    from notifier.models.sources import SOURCE_TABLES
    with app.extensions["db_engine"].begin() as conn:   # as if jido_fuyo_teate.csv had never come
        conn.execute(SOURCE_TABLES["jido_fuyo_teate"].delete())
        conn.execute(ImportRun.__table__.delete().where(ImportRun.source == "jido_fuyo_teate"))
    warning = "判定しません（児童扶養手当のデータが取り込まれていません）"
    author = signed_in(app, db_session, "author", ["rule_author"])
    listing = author.get("/rules/").get_data(as_text=True)
    assert listing.count('data-readiness="blocked"') == 2 and warning in listing     # hitorioya, shugaku_enjo
    html = author.get(f"/rules/hitorioya/v/1/preview?as_of={AS_OF}").get_data(as_text=True)
    assert "このルールは判定されません。" in html and warning in html
    assert "使うデータ" in author.get("/rules/hitorioya").get_data(as_text=True)
    html = author.get(f"/rules/home_helper/v/1/preview?as_of={AS_OF}").get_data(as_text=True)
    assert 'data-readiness="blocked"' not in html
    # Approving such a version is allowed but says so.
    form = editor(author, "/rules/hitorioya/edit")
    assert post(author, form, "save", "/rules/hitorioya/edit", description="説明を変更").status_code == 302
    approver = signed_in(app, db_session, "approver", ["rule_approver"])
    html = approver.get("/rules/approvals").get_data(as_text=True)
    assert "承認はできますが、そろうまでこのルールは判定されません" in html and warning in html


@pytest.mark.parametrize(("url", "words"), [("//evil.example/apply", "別のサイトを指すため使えません"),
                                            ("https://evil.example/apply", "ホスト evil.example は許可されていません")])
def test_an_application_url_on_another_site_is_refused_next_to_its_field(app, db_session, city, url, words):
    c = signed_in(app, db_session, "author", ["rule_author"])
    resp = post(c, editor(c), "save", application_url=url)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    tag = re.search(r'<input[^>]*id="application_url"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in tag
    error = re.search(r'<p class="field-error" id="application_url-error">([^<]*)</p>', html).group(1)
    assert words in error and " / " not in error                   # staff see the Japanese part
    assert [v.version for v in versions(db_session)] == [1]


def test_rules_load_refuses_an_application_url_outside_the_configured_hosts(app, runner, tmp_path):
    import shutil
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy("eligibility_rules/shugaku_enjo.yaml", rules)
    text = (rules / "shugaku_enjo.yaml").read_text(encoding="utf-8")
    (rules / "shugaku_enjo.yaml").write_text(text.replace("https://apply.city.example.lg.jp/", "https://evil.example/"),
                                             encoding="utf-8")
    result = runner.invoke(args=["rules", "load", str(rules)])
    assert result.exit_code != 0 and "evil.example" in result.output and "APPLICATION_URL_HOSTS" in result.output
    app.config["APPLICATION_URL_HOSTS"] = ("evil.example",)          # a city that names that host may use it
    assert runner.invoke(args=["rules", "load", str(rules)]).exit_code == 0


def test_one_reference_date_across_the_list_the_preview_the_editor_and_approvals(app, db_session, city, runner):
    assert runner.invoke(args=["eligibility", "run", "--as-of", "2026-06-15"]).exit_code == 0
    author = signed_in(app, db_session, "author", ["rule_author"])
    assert post(author, editor(author), "save", **{BASE: "1600000"}).status_code == 302
    approver = signed_in(app, db_session, "approver", ["rule_approver"])
    listing = approver.get("/rules/").get_data(as_text=True)
    assert "基準日 2026-06-15" in listing
    preview = approver.get("/rules/shugaku_enjo/v/1/preview").get_data(as_text=True)
    assert 'id="as_of" name="as_of" value="2026-06-15"' in preview and "基準日 2026-06-15・" in preview
    approvals = approver.get("/rules/approvals").get_data(as_text=True)
    assert "到達数は基準日 2026-06-15 時点です" in approvals and "基準日 2026-06-15・" in approvals
    assert 'name="as_of" value="2026-06-15"' in author.get("/rules/shugaku_enjo/edit").get_data(as_text=True)


def test_the_editor_numbers_a_negated_condition_apart_and_marks_required_fields(app, db_session, city):
    author = signed_in(app, db_session, "author", ["rule_author"])
    html = author.get("/rules/hitorioya/edit").get_data(as_text=True)
    legends = re.findall(r"<legend>([^<]+)</legend>", html)
    assert "条件 3（否定）" in legends and "条件 3 で否定する条件" in legends
    assert len(legends) == len(set(legends)), legends           # every box has its own name
    assert 'aria-label="条件 3 で否定する条件を削除"' in html and 'aria-label="条件 3（否定）を削除"' in html
    for field in ("name", "procedure_code", "application_url", "template", "cooldown_days"):
        label = re.search(rf'<label for="{field}">(.*?)</label>', html, re.S).group(1)
        assert '<span class="required">必須</span>' in label, field
        assert re.search(rf'<input[^>]*id="{field}"[^>]*aria-required="true"', html), field
    for field in ("effective_from", "reference", "description"):
        assert "必須" not in re.search(rf'<label for="{field}">(.*?)</label>', html, re.S).group(1), field
    nav = re.search(r'<nav class="editor-nav"[^>]*>(.*?)</nav>', html, re.S).group(1)
    for target in ("#basic-title", "#criteria-title", "#save-title", "#node-0-0", "#node-0-2"):
        assert f'href="{target}"' in nav and f'id="{target[1:]}"' in html, target
    bar = re.search(r'<div class="save-bar"(.*?)</div>\s*</div>', html, re.S).group(1)
    assert "到達数を確認する" in bar and "保存して承認を依頼する" in bar


def test_versions_name_their_author_and_approver_as_the_header_does(app, db_session, city):
    """Issue 10 item 21: one display name per user — the pages say 「作成 花子（author）」, not the login
    name alone, and a command's version says who ran it."""
    user = create_staff(db_session, "author", ["rule_author"], display_name="作成 花子")
    author = sign_in(app.test_client(), db_session, user)
    assert post(author, editor(author), "save", **{BASE: "1600000"}).status_code == 302
    v2 = versions(db_session)[-1]
    approver_user = create_staff(db_session, "approver", ["rule_approver"], display_name="承認 一郎")
    approver = sign_in(app.test_client(), db_session, approver_user)
    page = approver.get("/rules/approvals").get_data(as_text=True)
    assert "作成 花子（author） が" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    approver.post(f"/rules/approvals/{v2.id}/approve", data={"csrf_token": token})
    detail = approver.get("/rules/shugaku_enjo").get_data(as_text=True)
    assert "承認 一郎（approver） が承認" in detail
    assert "コマンド（" in detail            # version 1 was loaded by `rules load` (cli:<operator>)
    assert "cli:" not in detail
