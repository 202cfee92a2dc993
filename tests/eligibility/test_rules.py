"""Rules as data: validation messages, canonical JSON, diffs, sensitivity, loading the shipped set."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from notifier.eligibility.rules import RuleError, diff_rules, load_rule_file, load_rules, parse_rule, rule_from_json

BASE = """
id: demo
name: デモ
procedure_code: demo
application_url: https://example.lg.jp/demo
template: demo
criteria:
  all:
    - criterion: has_enrolled_pupil
    - any:
        - criterion: household_income_at_most
          params: {base: 1000000, per_person: 500000}
        - criterion: receives
          params: {source: jido_fuyo_teate}
"""


def rule(text=BASE, **changes):
    data = yaml.safe_load(text)
    data.update(changes)
    return parse_rule(data, "demo.yaml")


def errors_of(**changes):
    with pytest.raises(RuleError) as e:
        rule(**changes)
    return e.value.errors


def test_it_fills_defaults():
    r = rule()
    assert r.cooldown_days == 365
    assert (r.followup.reminder_days, r.followup.nonresponder_days) == (14, 30)
    assert r.criteria.children[0].params == {"grades": [1, 2, 3, 4, 5, 6, 7, 8, 9]}
    assert r.sensitivity == ("tax", "welfare", "education")


def test_it_names_the_file_and_path_of_an_unknown_criterion():
    errs = errors_of(criteria={"all": [{"criterion": "has_jido"},
                                       {"any": [{"criterion": "has_enroled_pupil"}]}]})
    assert errs == ["demo.yaml: criteria.all[1].any[0].criterion: 未知の条件です / unknown criterion "
                    "'has_enroled_pupil' (did you mean has_enrolled_pupil?)"]


def test_it_names_the_file_and_path_of_a_bad_parameter():
    errs = errors_of(criteria={"all": [{"criterion": "household_income_at_most",
                                        "params": {"base": "100万", "per_persn": 1}}]})
    assert any(e.startswith("demo.yaml: criteria.all[0].params.base: ") and "integer" in e for e in errs)
    assert any(e.startswith("demo.yaml: criteria.all[0].params.per_persn: ") and "unknown parameter" in e
               for e in errs)


def test_it_reports_every_problem_at_once():
    errs = errors_of(id="Bad Id", application_url="ftp://x", cooldown_days=-1, colour="red",
                     criteria={"not": [{"criterion": "has_jido"}]})
    fields = [e.split(": ")[1] for e in errs]
    assert fields == ["colour", "id", "application_url", "cooldown_days", "criteria.not"]


@pytest.mark.parametrize("criteria,fragment", [
    ({"all": []}, "non-empty list"),
    ({"all": [{"criterion": "has_jido"}], "any": [{"criterion": "has_jido"}]}, "exactly one"),
    ({"criterion": "receives", "params": {"source": "nenkin"}}, "expected one of"),
    ({"criterion": "member_aged", "params": {"min_age": True}}, "integer"),
    ("has_jido", "expected a mapping"),
])
def test_it_rejects_malformed_criteria(criteria, fragment):
    errs = errors_of(criteria=criteria)
    assert any(fragment in e for e in errs), errs


def test_it_checks_dated_parameters_against_the_start_date():
    dated = {"all": [{"criterion": "household_income_at_most",
                      "params": {"base": {"2026-04-01": 1_100_000}}}]}
    errs = errors_of(criteria=dated, effective_from="2025-04-01")
    assert errs[0].startswith("demo.yaml: criteria.all[0].params.base: ")
    r = rule(criteria=dated, effective_from=dt.date(2026, 4, 1))
    assert r.criteria.children[0].params["base"] == {"2026-04-01": 1_100_000}


def test_it_warns_about_a_tax_criterion_under_not():
    r = rule(criteria={"not": {"criterion": "tax_exempt_household"}})
    assert len(r.warnings) == 1 and "not evaluated" in r.warnings[0]


def test_equal_content_gives_equal_canonical_json():
    spelled_out = rule(cooldown_days=365, followup={"reminder_days": 14},
                       description="説明\n", effective_from="2025-04-01")
    terse = rule(description="説明", effective_from=dt.date(2025, 4, 1))
    assert spelled_out.canonical_json() == terse.canonical_json()
    assert spelled_out.content_hash == terse.content_hash
    reordered = rule(criteria={"all": [
        {"criterion": "has_enrolled_pupil", "params": {"grades": [9, 8, 7, 6, 5, 4, 3, 2, 1, 1]}},
        {"any": [{"params": {"per_person": 500000, "base": 1000000},
                  "criterion": "household_income_at_most"},
                 {"criterion": "receives", "params": {"source": "jido_fuyo_teate"}}]}]})
    assert reordered.canonical_json() == rule().canonical_json()
    assert rule(cooldown_days=180).content_hash != rule().content_hash


def test_canonical_json_round_trips():
    r = rule(effective_from="2025-04-01")
    back = rule_from_json(r.canonical_json())
    assert back.canonical_json() == r.canonical_json()
    assert json.loads(r.canonical_json())["criteria"]["all"][0] == {
        "criterion": "has_enrolled_pupil", "params": {"grades": [1, 2, 3, 4, 5, 6, 7, 8, 9]}}


def test_diff_lists_field_and_parameter_changes_in_japanese():
    old = rule()
    new = rule(cooldown_days=180, criteria={"all": [
        {"criterion": "has_enrolled_pupil", "params": {"grades": [7, 8, 9]}},
        {"any": [{"criterion": "household_income_at_most",
                  "params": {"base": 1200000, "per_person": 500000}},
                 {"criterion": "receives", "params": {"source": "jido_fuyo_teate"}}]}]})
    assert diff_rules(old, new) == [
        "再通知を控える日数: 365 → 180",
        "条件「在籍する児童生徒がいる」（criteria.all[0]）の学年: 小1・小2・小3・小4・小5・小6・中1・中2・中3 → 中1・中2・中3",
        "条件「世帯の合計所得金額が基準以下」（criteria.all[1].any[0]）の基本額: 1,000,000円 → 1,200,000円",
    ]
    assert diff_rules(old, rule()) == []


def test_diff_shows_structural_changes_line_by_line():
    old = rule()
    new = rule(criteria={"all": [{"criterion": "has_enrolled_pupil"},
                                 {"not": {"criterion": "receives", "params": {"source": "seikatsu_hogo"}}}]})
    lines = diff_rules(old, new)
    assert lines[0] == "条件の構成が変わりました:"
    assert "－   いずれかを満たす:" in lines
    assert "＋   次を満たさない:" in lines


def test_the_shipped_rules_load_and_match_rules_md(rules_dir):
    rules = {r.id: r for r in load_rules(rules_dir)}
    assert {"shugaku_enjo", "hitorioya", "home_helper"} <= set(rules)
    assert len(rules) >= 7
    assert rules["hitorioya"].procedure_code == "jido_fuyo_teate"
    assert rules["shugaku_enjo"].procedure_code == "shugaku_enjo"
    assert rules["home_helper"].procedure_code == "home_helper"
    assert rules["hitorioya"].sensitivity == ("tax", "welfare")
    assert rules["home_helper"].sensitivity == ("disability", "care")
    assert all(not r.warnings for r in rules.values())
    assert rules["shugaku_enjo"].render()[:2] == [
        "すべて満たす:", "  在籍する児童生徒がいる（学年: 小1・小2・小3・小4・小5・小6・中1・中2・中3） ※1. 在籍する児童生徒（小1〜中3、名寄せ済み）がいる"]


def test_loading_a_directory_reports_bad_files_together(tmp_path):
    (tmp_path / "a.yaml").write_text(BASE.replace("id: demo", "id: a"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(BASE.replace("id: demo", "id: c"), encoding="utf-8")
    (tmp_path / "d.yaml").write_text("id: d\n  bad: [", encoding="utf-8")
    (tmp_path / "a.cases.yaml").write_text("not a rule", encoding="utf-8")
    with pytest.raises(RuleError) as e:
        load_rules(tmp_path)
    assert len(e.value.errors) == 2
    assert "b.yaml: id:" in e.value.errors[0] and "must match the file name" in e.value.errors[0]
    assert "d.yaml: (yaml):" in e.value.errors[1]
    assert load_rule_file(tmp_path / "a.yaml").id == "a"


def test_the_readme_lists_every_criterion(rules_dir):
    from notifier.eligibility.catalog import CATALOG
    text = (rules_dir / "README.md").read_text(encoding="utf-8")
    assert [name for name in CATALOG if f"`{name}`" not in text] == []


HOSTS = ("apply.city.example.lg.jp",)


@pytest.mark.parametrize("url", ["https://apply.city.example.lg.jp/shugaku", "HTTPS://Apply.City.Example.lg.jp/x",
                                 "/apply/shugaku?x=1", "https://apply.city.example.lg.jp./x"])
def test_an_application_url_on_an_allowed_host_or_this_site_is_accepted(url):
    data = yaml.safe_load(BASE) | {"application_url": url}
    assert parse_rule(data, "demo.yaml", url_hosts=HOSTS).application_url == url


@pytest.mark.parametrize(("url", "words"), [
    ("//evil.example/apply", "別のサイトを指すため使えません"),
    ("/\\evil.example/apply", "バックスラッシュ"),
    ("https://evil.example/apply", "ホスト evil.example は許可されていません"),
    ("https://apply.city.example.lg.jp.evil.example/", "許可されていません"),
    ("http://apply.city.example.lg.jp/x", "https:// または / で始まる"),
    ("https://user@apply.city.example.lg.jp/x", "ユーザー名・パスワード・ポート番号"),
    ("https://apply.city.example.lg.jp:8443/x", "ポート番号"),
    ("javascript:alert(1)", "https:// または / で始まる"),
    ("https://apply.city.example.lg.jp/a b", "空白"),
    ("data:text/html,<script>", "https:// または / で始まる"),
])
def test_an_application_url_elsewhere_is_refused_with_a_clear_message(url, words):
    with pytest.raises(RuleError) as e:
        parse_rule(yaml.safe_load(BASE) | {"application_url": url}, "demo.yaml", url_hosts=HOSTS)
    [error] = e.value.errors
    assert error.startswith("demo.yaml: application_url: ") and words in error
    assert " / " in error                               # Japanese / English, like every rule error


def test_without_hosts_only_the_shape_is_checked():
    # Rules read back from the database were checked against the hosts when they came in.
    assert parse_rule(yaml.safe_load(BASE) | {"application_url": "https://other.lg.jp/x"}, "db").application_url
    with pytest.raises(RuleError):
        parse_rule(yaml.safe_load(BASE) | {"application_url": "//evil.example/"}, "db")


def test_the_shipped_rules_load_with_the_default_hosts(rules_dir):
    from notifier.config import DEFAULT_APPLICATION_URL_HOSTS, parse_hosts
    assert len(load_rules(rules_dir, url_hosts=parse_hosts(DEFAULT_APPLICATION_URL_HOSTS))) == 7
