"""The residents' consent page (LIFF): ID tokens verified by the LINE simulator, linking, consent rows."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from notifier.consent.service import resident_state
from notifier.line import messages
from notifier.models import AuditEvent, ConsentEvent, LineAccount, LinkAttempt
from notifier.models.consent import ConsentText
from tests.factories import import_sources
from tests.line.test_flows import APPLICATIONS, RESIDENTS

CHANNEL_ID = "1650000000"
NOTIFY_TEXT = "今後、ご希望の場合は、市から年齢、お住いの地域などにあわせてお知らせをLINEで送付させていただきます。"
TAX_TEXT = ("所得状況によって該当するサービスの場合は、所得状況の確認のため、市職員が私と同居している世帯員全員の"
            "課税台帳を確認することを承諾します。")


@pytest.fixture
def city(line_stack, tmp_path):
    import_sources(line_stack.app, tmp_path, {
        "juminhyo": RESIDENTS + [{"宛名番号": "0000201", "世帯番号": "500002"}],
        "online_shinsei": APPLICATIONS + [{"申請ID": "IZM-AAAA-BBBB", "申請者宛名番号": "0000201",
                                           "手続きコード": "kyufukin", "申請日時": "2026-10-02 10:00"}]})
    return line_stack


class Resident:
    """One LINE user with a browser (test client) on the consent page."""

    def __init__(self, stack, name="利用者"):
        self.stack = stack
        self.user_id = stack.sim.state.add_user(name).user_id
        self.client = stack.app.test_client()

    def token(self, **kw):
        return self.stack.sim.issue_id_token(self.user_id, aud=kw.pop("aud", CHANNEL_ID), **kw)[0]

    def submit(self, aid="", notify=False, tax=False, token=None):
        page = self.client.get("/consent", query_string={"aid": aid})
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        data = {"csrf_token": csrf, "aid": aid, "id_token": self.token() if token is None else token}
        if notify:
            data["notify"] = "1"
        if tax:
            data["tax"] = "1"
        return self.client.post("/consent", data=data)


def events(stack):
    with stack.app.extensions["db_sessionmaker"]() as s:
        return [(e.atena_no, e.scope, e.action, e.channel, e.line_account_id is not None)
                for e in s.scalars(select(ConsentEvent).order_by(ConsentEvent.id))]


def count(stack, model):
    with stack.app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_it_shows_both_consent_texts_verbatim_with_the_id_prefilled(city):
    resp = city.app.test_client().get("/consent?aid=IZM-7K3P-9QX2")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert NOTIFY_TEXT in html and TAX_TEXT in html
    assert "お知らせの送付を希望する" in html and "所得状況の確認に同意する" in html
    assert 'name="aid" value="IZM-7K3P-9QX2"' in html
    assert 'name="id_token"' in html and 'name="csrf_token"' in html
    assert "js/liff.js" in html and "<script>" not in html and "style=" not in html
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]


def test_the_page_shows_the_current_text_version(city):
    with city.app.extensions["db_sessionmaker"]() as s:
        s.add(ConsentText(scope="notify", version=99, text="改訂後の文言です。"))
        s.commit()
    assert "改訂後の文言です。" in city.app.test_client().get("/consent").get_data(as_text=True)


def test_it_links_and_records_notify_and_tax(city):
    resident = Resident(city)
    resp = resident.submit("izm-7k3p-9qx2", notify=True, tax=True)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "所得状況の確認（課税台帳の確認）への同意を承りました" in resp.get_data(as_text=True)
    assert events(city) == [("0000101", "notify", "grant", "LIFF", True), ("0000101", "tax", "grant", "LIFF", True)]
    with city.app.extensions["db_sessionmaker"]() as s:
        account = s.scalars(select(LineAccount)).one()
        assert (account.line_user_id, account.atena_no, account.link_channel) == (resident.user_id, "0000101", "LIFF")
        assert resident_state(s, "0000101") == {"notify": True, "tax": True}
    # The simulator, not the app, judged the token.
    assert any(r["path"] == "/oauth2/v2.1/verify" for r in city.sim.state.requests)


def test_a_later_visit_can_drop_tax_then_withdraw_everything(city):
    resident = Resident(city)
    assert resident.submit("IZM-7K3P-9QX2", notify=True, tax=True).status_code == 200
    # Sending the same wish again adds nothing.
    assert resident.submit("", notify=True, tax=True).status_code == 200
    assert len(events(city)) == 2

    resp = resident.submit("", notify=True)
    assert "所得状況の確認（課税台帳の確認）への同意を取り消しました" in resp.get_data(as_text=True)
    resp = resident.submit("", notify=False)
    assert resp.status_code == 200 and "配信を停止しました" in resp.get_data(as_text=True)
    assert [(e[1], e[2]) for e in events(city)] == [
        ("notify", "grant"), ("tax", "grant"), ("tax", "withdraw"), ("notify", "withdraw")]
    with city.app.extensions["db_sessionmaker"]() as s:
        assert resident_state(s, "0000101") == {"notify": False, "tax": False}
        # Each statement that changed something is one 「同意の変更」 audit row, as the resident's own.
        changes = s.scalars(select(AuditEvent).where(AuditEvent.action == "consent_change")
                            .order_by(AuditEvent.id)).all()
        assert [(a.actor, a.target_id, a.detail["channel"], a.detail["granted"], a.detail["withdrawn"])
                for a in changes] == [("line", "0000101", "LIFF", ["notify", "tax"], []),
                                      ("line", "0000101", "LIFF", [], ["tax"]),
                                      ("line", "0000101", "LIFF", [], ["notify"])]


def test_unchecking_notify_withdraws_tax_too(city):
    resident = Resident(city)
    resident.submit("IZM-7K3P-9QX2", notify=True, tax=True)
    resident.submit("IZM-7K3P-9QX2")
    assert [(e[1], e[2]) for e in events(city)][2:] == [("notify", "withdraw"), ("tax", "withdraw")]


def test_tax_without_notify_is_refused_next_to_the_field(city):
    resident = Resident(city)
    resp = resident.submit("IZM-7K3P-9QX2", tax=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert 'id="tax-error"' in html and messages.TAX_NEEDS_NOTIFY in html
    assert re.search(r'<input type="checkbox" id="tax"[^>]*aria-invalid="true"', html)
    assert events(city) == [] and count(city, LineAccount) == 0


@pytest.mark.parametrize("kind", ["wrong_audience", "expired", "forged", "missing"])
def test_a_bad_id_token_is_refused_and_nothing_is_stored(city, kind):
    resident = Resident(city)
    token = {"wrong_audience": lambda: resident.token(aud="1999999999"),
             "expired": lambda: resident.token(expires_in=-60),
             "forged": lambda: resident.token()[:-4] + "AAAA",
             "missing": lambda: ""}[kind]()
    resp = resident.submit("IZM-7K3P-9QX2", notify=True, token=token)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "本人確認ができませんでした" in html and "もう一度このページを開いてください" in html
    assert events(city) == []
    assert count(city, LineAccount) == 0 and count(city, LinkAttempt) == 0


def test_unknown_and_taken_ids_get_the_same_neutral_answer(city):
    owner = Resident(city, "本人")
    assert owner.submit("IZM-AAAA-BBBB", notify=True).status_code == 200

    answers = []
    for aid in ("IZM-0000-0000", "IZM-AAAA-BBBB"):  # unknown, then linked to someone else
        resp = Resident(city).submit(aid, notify=True)
        html = resp.get_data(as_text=True)
        error = re.search(r'<p class="field-error multiline" id="aid-error">(.*?)</p>', html, re.S).group(1)
        answers.append((resp.status_code, error))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400 and "入力されたIDを確認できませんでした" in answers[0][1]
    assert [e[0] for e in events(city)] == ["0000201"]


def test_an_unlinked_resident_must_give_an_id(city):
    resp = Resident(city).submit("", notify=True)
    assert resp.status_code == 400 and "オンライン申請IDを入力してください" in resp.get_data(as_text=True)
    assert events(city) == []


def test_wrong_guesses_are_throttled_like_the_chat(city):
    resident = Resident(city)
    for n in range(5):
        assert resident.submit(f"IZM-0000-000{n}", notify=True).status_code == 400
    resp = resident.submit("IZM-7K3P-9QX2", notify=True)
    assert resp.status_code == 429
    assert "しばらくの間IDの受付を停止しています" in resp.get_data(as_text=True)
    assert events(city) == []


def test_the_post_needs_the_csrf_token(city):
    resident = Resident(city)
    resp = resident.client.post("/consent", data={"aid": "IZM-7K3P-9QX2", "notify": "1",
                                                  "id_token": resident.token()})
    assert resp.status_code == 400 and events(city) == []


def test_it_works_over_real_http(city):
    """The page as a phone's browser would use it: over HTTP, cookies and all."""
    import requests
    resident = Resident(city)
    http = requests.Session()
    page = http.get(f"{city.app_url}/consent", params={"aid": "IZM-7K3P-9QX2"}, timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    resp = http.post(f"{city.app_url}/consent", timeout=10, data={
        "csrf_token": csrf, "aid": "IZM-7K3P-9QX2", "notify": "1", "id_token": resident.token()})
    assert resp.status_code == 200 and "ご希望を承りました" in resp.text
    assert events(city) == [("0000101", "notify", "grant", "LIFF", True)]


def test_with_a_liff_id_only_the_consent_page_may_load_lines_sdk(database_url):
    from notifier import create_app
    app = create_app({"ENV": "test", "SECRET_KEY": "x", "DATABASE_URL": database_url, "LIFF_ID": "1650000000-AbCdEfGh"})
    client = app.test_client()
    page = client.get("/consent?aid=IZM-AAAA-BBBB")
    assert 'src="https://static.line-scdn.net/liff/edge/2/sdk.js"' in page.get_data(as_text=True)
    assert "script-src 'self' https://static.line-scdn.net" in page.headers["Content-Security-Policy"]
    assert "line-scdn" not in client.get("/login").headers["Content-Security-Policy"]
