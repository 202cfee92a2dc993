"""/r/<token>: a signed, expiring link naming one delivery; opening it records the open (time only)
and goes to the application form with the online application ID where the form takes it."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import time_machine
from sqlalchemy import select, update

from notifier import audit
from notifier.models import Delivery, LinkOpen, RuleVersion
from notifier.outbox.enqueue import enqueue
from notifier.server import redact_path
from tests.factories import import_sources

from .conftest import AS_OF, BASE

START = datetime(2026, 11, 2, 1, 0)


def _one_delivery(city) -> tuple[Delivery, str]:
    city.link("1000011", "U" + "1" * 32)
    city.run(AS_OF, {"shugaku_enjo": ["600001"]})
    with city.session() as s:
        enqueue(s, AS_OF, actor=audit.Actor.operator(), public_base_url=BASE)
        s.commit()
        d = s.scalars(select(Delivery)).one()
    uri = json.loads(d.message)[0]["contents"]["footer"]["contents"][0]["action"]["uri"]
    return d, uri.removeprefix(BASE)


def test_opening_records_the_open_and_redirects_to_the_form(city, client):
    with time_machine.travel(START, tick=False):
        d, path = _one_delivery(city)
    assert path.startswith("/r/")
    with time_machine.travel(START + timedelta(days=3), tick=False):
        r1 = client.get(path)
    with time_machine.travel(START + timedelta(days=4), tick=False):
        r2 = client.get(path)
    assert r1.status_code == r2.status_code == 302
    assert r1.headers["Location"] == "https://apply.city.example.lg.jp/shugaku_enjo"
    with city.session() as s:
        opens = s.scalars(select(LinkOpen.opened_at).where(LinkOpen.delivery_id == d.id)).all()
        assert sorted(opens) == [START + timedelta(days=3), START + timedelta(days=4)]   # once per click
        assert s.get(Delivery, d.id).first_opened_at == START + timedelta(days=3)
        # Only the time is kept.
        assert set(LinkOpen.__table__.columns.keys()) == {"id", "delivery_id", "opened_at"}


def test_the_online_application_id_is_filled_in_where_the_form_takes_it(city, client, tmp_path):
    import_sources(city.app, tmp_path / "shinsei", {"online_shinsei": [
        {"申請ID": "IZM-7K3P-9QX2", "申請者宛名番号": "1000011", "手続きコード": "jido_teate",
         "申請日時": "2026-06-01 10:00"}]})
    d, path = _one_delivery(city)
    with city.session() as s:
        version = s.get(RuleVersion, d.rule_version_id)
        definition = json.loads(version.definition)
        definition["application_url"] = "https://apply.city.example.lg.jp/shugaku_enjo?aid={application_id}"
        s.execute(update(RuleVersion).where(RuleVersion.id == version.id)
                  .values(definition=json.dumps(definition, ensure_ascii=False)))
        s.commit()
    r = client.get(path)
    assert r.status_code == 302
    assert r.headers["Location"] == "https://apply.city.example.lg.jp/shugaku_enjo?aid=IZM-7K3P-9QX2"


def test_a_tampered_token_gets_a_kind_page_and_records_nothing(city, client):
    _d, path = _one_delivery(city)
    token = path.removeprefix("/r/")
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x" + token[1:], "nonsense", token + "x"):
        r = client.get("/r/" + bad)
        assert r.status_code == 404
        page = r.get_data(as_text=True)
        assert "リンクを開けませんでした" in page and "https://www.city.example.lg.jp/" in page
        assert "Traceback" not in page
    with city.session() as s:
        assert s.scalars(select(LinkOpen)).all() == []


def test_an_expired_token_gets_410(city, client):
    with time_machine.travel(START, tick=False):
        _d, path = _one_delivery(city)
    with time_machine.travel(START + timedelta(days=89), tick=False):
        assert client.get(path).status_code == 302
    with time_machine.travel(START + timedelta(days=91), tick=False):
        r = client.get(path)
    assert r.status_code == 410 and "有効期限が過ぎています" in r.get_data(as_text=True)


def test_the_token_is_no_resident_number_and_is_redacted_in_access_logs(city):
    d, path = _one_delivery(city)
    assert "1000011" not in path and "600001" not in path
    assert redact_path(path) == "/r/*"
