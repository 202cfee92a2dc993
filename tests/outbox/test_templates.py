"""Message templates: every shipped one loads, renders and passes LINE (the real SDK to the
simulator); the lock-screen and body checks refuse what would expose a household."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from notifier.contract import SENSITIVE_WORDS
from notifier.models import AuditEvent, MessageTemplateVersion
from notifier.outbox import template_dao
from notifier.outbox.templates import TemplateError, load_templates, parse_template

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "templates" / "messages"
RULE_TEMPLATES = sorted(yaml.safe_load(p.read_text(encoding="utf-8"))["template"]
                        for p in (ROOT / "eligibility_rules").glob("*.yaml") if not p.name.endswith(".cases.yaml"))
APPLY = "https://notice.example.jp/r/" + "A" * 70


def good(**overrides) -> dict:
    data = yaml.safe_load((SHIPPED / "shugaku_enjo.yaml").read_text(encoding="utf-8"))
    return {**data, **overrides}


def test_every_shipped_rule_has_a_template():
    assert sorted(t.id for t in load_templates(SHIPPED)) == RULE_TEMPLATES


@pytest.mark.parametrize("template", load_templates(SHIPPED), ids=lambda t: t.id)
def test_every_shipped_template_passes_line(line, sim, friend, template):
    for reminder in (False, True):
        sent = template.render(APPLY, reminder=reminder)
        line.validate_push(sent)
        assert line.push(friend, sent, str(uuid.uuid4())).status == 200
        assert sim.messages(friend)[-1]["message"] == sent[0]
    bubble = sent[0]["contents"]
    assert bubble["footer"]["contents"][0]["action"]["uri"] == APPLY
    assert bubble["footer"]["contents"][1]["action"]["uri"] == template.info_url
    assert sent[0]["quickReply"]["items"][0]["action"]["text"] == "配信停止"


@pytest.mark.parametrize("template", load_templates(SHIPPED), ids=lambda t: t.id)
def test_no_shipped_lock_screen_line_holds_a_sensitive_word(template):
    for text in (template.alt_text, template.title):
        assert not [w for w in SENSITIVE_WORDS if w in text]
        assert template.service_name not in text


@pytest.mark.parametrize(("field", "value", "why"), [
    ("alt_text", "就学援助のお知らせ", "就学援助"),
    ("alt_text", "生活保護についてのご案内", "生活保護"),
    ("title", "障がいのある方へのお知らせ", "障がい"),
    ("title", "ひとり親家庭の皆様へ", "ひとり親"),
    ("alt_text", "介護のご案内", "介護"),
    ("alt_text", "ヤングケアラーのご相談", "ヤングケアラー"),
    ("title", "非課税世帯の皆様へ", "非課税"),
    ("alt_text", "所得が少ない方へ", "所得"),
    ("alt_text", "和泉市：ｼｭｳｶﾞｸ就学援助", "就学援助"),           # half-width kana folded too
    ("title", "就学援助（学用品費・給食費などの援助）", "サービス名"),
])
def test_the_lock_screen_check_refuses(field, value, why):
    with pytest.raises(TemplateError) as exc:
        parse_template(good(**{field: value}), "t.yaml")
    assert any(e.startswith(f"t.yaml: {field}: ロック画面") and why in e for e in exc.value.errors), exc.value.errors


@pytest.mark.parametrize(("sentence", "why"), [
    ("{name}さん、申請できます。", "差し込み"),
    ("{{ household }}の皆様へ", "差し込み"),
    ("世帯の所得が基準以下のためご案内します。", "所得"),
    ("あなたの世帯は対象と判定されました。", "判定"),
    ("年額 45,000円 の援助があります。", "金額"),
    ("8歳のお子さんがいるご家庭へ。", "年齢"),
    ("世帯番号 600001 のご家庭へ。", "数字"),
])
def test_the_body_check_refuses_reasons_and_personal_values(sentence, why):
    with pytest.raises(TemplateError) as exc:
        parse_template(good(sentences=[sentence]), "t.yaml")
    assert any(e.startswith("t.yaml: sentences[1]:") and why in e for e in exc.value.errors), exc.value.errors


def test_a_bad_file_names_file_and_field(tmp_path):
    (tmp_path / "x.yaml").write_text("id: x\ntitle: 和泉市からのお知らせ\nsentences: []\nfoo: 1\n", encoding="utf-8")
    with pytest.raises(TemplateError) as exc:
        load_templates(tmp_path)
    text = "; ".join(exc.value.errors)
    for field in ("alt_text", "service_name", "info_url", "sentences", "reminder_sentences", "foo"):
        assert f"x.yaml: {field}:" in text


def test_versions_need_a_second_person(db_session):
    outcomes = template_dao.load_directory(db_session, SHIPPED, actor="staff-a", activate=False)
    assert {o.status for o in outcomes} == {"new"} and not any(o.active for o in outcomes)
    row = template_dao.dao_latest_version(db_session, "shugaku_enjo")
    with pytest.raises(template_dao.TemplateApprovalError):
        template_dao.approve(db_session, row, actor="staff-a")
    template_dao.approve(db_session, row, actor="staff-b")
    assert template_dao.dao_active_version(db_session, "shugaku_enjo").id == row.id
    again = template_dao.load_directory(db_session, SHIPPED, actor="staff-a", activate=False)
    assert {o.status for o in again} == {"unchanged"}
    other = template_dao.dao_latest_version(db_session, "hitorioya")
    template_dao.reject(db_session, other, actor="staff-b", note="表現を見直す")
    assert other.status == "rejected"
    actions = db_session.scalars(select(AuditEvent.action)).all()
    assert actions.count("template_change") == 7 and actions.count("template_approve") == 2
    stored = db_session.scalars(select(MessageTemplateVersion.definition)).first()
    assert json.loads(stored)["title"] == "和泉市からのお知らせ"


def test_the_load_command_refuses_a_bad_file_and_stores_nothing(runner, app, tmp_path):
    for p in SHIPPED.glob("*.yaml"):
        (tmp_path / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "shugaku_enjo.yaml").write_text(yaml.safe_dump(good(alt_text="就学援助のお知らせ"), allow_unicode=True),
                                                encoding="utf-8")
    result = runner.invoke(args=["templates", "load", str(tmp_path), "--activate"])
    assert result.exit_code != 0 and "shugaku_enjo.yaml: alt_text:" in result.output
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalars(select(MessageTemplateVersion)).all() == []
    ok = runner.invoke(args=["templates", "load", str(SHIPPED), "--activate", "--json"])
    assert ok.exit_code == 0, ok.output
    assert all(t["active"] for t in json.loads(ok.output)["templates"])
