"""The audit trail in words: every action of audit.ACTIONS, with the details its callers record."""
from __future__ import annotations

import re

import pytest

from notifier.audit import ACTIONS
from notifier.audit_presentation import DETAILS, Names, actor_text, describe, detail_lines, target_text, value_text

NAMES = Names(users={1: ("デモ管理者", "demo-admin"), 2: ("demo-author", "demo-author")},
              rules={"shugaku_enjo@v1": "就学援助のご案内"}, runs={3: ("juminhyo", "juminhyo.csv")})

# (action, target_type, target_id, detail) as the code that writes each action records it.
RECORDED = [
    ("sign_in", "staff_user", "1", None),
    ("sign_in_failed", None, None, {"reason": "unknown_user"}),
    ("sign_in_failed", "staff_user", "1", {"reason": "password", "failures": 3}),
    ("sign_in_failed", "staff_user", "1", {"reason": "totp", "failures": 5}),
    ("sign_in_failed", "staff_user", "1", {"reason": "totp_reused"}),
    ("sign_in_failed", "staff_user", "1", {"reason": "totp_stale"}),
    ("sign_in_failed", "staff_user", "1", {"reason": "locked", "factor": "password"}),
    ("sign_out", None, None, None),
    ("account_locked", "staff_user", "1", {"minutes": 15, "failures": 5}),
    ("totp_enrolled", "staff_user", "1", None),
    ("user_created", "staff_user", "2", {"roles": ["rule_author"], "tax": False}),
    ("password_changed", "staff_user", "2", {"sessions_ended": 2}),
    ("roles_changed", "staff_user", "2", {"from": ["coordinator"], "to": ["auditor"], "sessions_ended": 1}),
    ("view_person", "quarantine", "3", {"rows": 12}),
    ("view_person", "review_queue", None, {"rows": 4}),
    ("view_person", "pupil", "202012345", {"candidates": ["0000011", "0000012"]}),
    ("view_household", "household", "0000100001", {"via": "宛名番号"}),
    ("export", "eligibility_export", "out.csv", {"run_id": 7, "rows": 1200}),
    ("export", "link_export", "links.csv", {"rows": 15407}),
    ("import", "import_run", "3", {"source": "juminhyo", "file": "juminhyo.csv", "status": "stored",
                                   "batch": "20261202T0300", "rows_stored": 1234, "rows_quarantined": 2}),
    ("import", "import_run", "4", {"source": "shiminzei", "file": "shiminzei.csv", "status": "rejected",
                                   "batch": "20261202T0300"}),
    ("rule_change", "rule", "shugaku_enjo@v1", {"hash": "06dd00599bd5", "note": None}),
    ("rule_approve", "rule", "shugaku_enjo@v1", {"system": True}),
    ("rule_approve", "rule", "shugaku_enjo@v2", {"system": False}),
    ("rule_approve", "rule", "shugaku_enjo@v3", {"rejected": True, "note": "基準額の根拠が不明"}),
    ("consent_change", "resident", "0000011", {"setai_no": "0000100001", "action": "grant",
                                               "scopes": ["notify", "tax"], "channel": "窓口", "events": [1, 2]}),
    ("consent_change", "resident", "0000011", {"setai_no": "0000100001", "action": "withdraw", "scopes": ["notify"],
                                               "granted": [], "withdrawn": ["notify", "tax"], "channel": "LINE",
                                               "events": [3, 4], "account": 5, "cause": "stop"}),
    ("consent_change", "consent_import", "consent.csv", {"events": 42, "skipped": 3}),
    ("consent_change", "consent_import", "consent.csv", {"events": 42, "skipped": 3, "quarantined": 2,
                                                         "import_run": 7}),
    ("import", "import_run", "8", {"source": "consent", "file": "consent.csv", "status": "rejected"}),
    ("line_link", "resident", "0000011", {"result": "linked", "account": 5, "channel": "LIFF"}),
    ("line_link", "resident", "0000011", {"result": "refused_already_linked", "account": 6, "linked_account": 5}),
    ("line_link", "resident", "0000011", {"result": "unlinked", "account": 5, "reason": "別人の申請ID"}),
    ("link_decision", "pupil", "202012345", {"decision": "confirm", "atena_no": "0000011", "changed_from": None,
                                             "reason": None}),
    ("link_decision", "pupil", "202012345", {"decision": "none", "atena_no": None, "changed_from": "confirm",
                                             "reason": "転出済み"}),
    ("case_change", "case", "9", {"status": "closed"}),
    ("case_change", "followup_run", "2026-07-31", {"responded": 4, "reminders": 0, "cases_opened": 5,
                                                   "cases_closed": 1}),
    ("template_change", "template", "shugaku_enjo@v2", {"hash": "06dd00599bd5", "note": None}),
    ("template_approve", "template", "shugaku_enjo@v2", {"system": True}),
    ("template_approve", "template", "shugaku_enjo@v3", {"rejected": True, "note": "表現がかたい"}),
    ("notice_enqueue", "eligibility_run", "3", {"as_of": "2026-07-01", "notices": 40, "deliveries": 41,
                                                "already_notified": 2, "no_account": 300, "skipped_rules": ["hoiku"]}),
    ("notice_enqueue", "reminder", None, {"as_of": "2026-07-15", "reminders": 12, "deliveries": 12}),
    ("notice_dispatch", "dispatch_run", "host:123", {"sent": 40, "retried": 2, "cancelled": 1,
                                                      "cancel_reasons": {"withdrawn": 1}}),
    ("notice_dispatch", "dispatch_run", "host:123", {"sent": 3, "stopped_for_quota": True}),
    ("delivery_change", "delivery", "12", {"change": "retry", "from": "failed", "to": "queued"}),
    ("delivery_change", "delivery", "12", {"change": "resolve", "from": "unknown", "to": "sent"}),
    ("delivery_change", "outbox_alert", "1", {"change": "clear_alert", "kind": "quota"}),
    ("access_denied", None, None, {"path": "/audit/"}),
    ("case_change", "outreach_case", "7", {"change": "assigned", "organisation": "和泉市立第一小学校"}),
    ("case_change", "outreach_case", "7", {"change": "contact", "contact_kind": "visit", "result": "会えた・話せた"}),
    ("view_case", "outreach_case", "7", None),
    ("view_worklist", "worklist", None, {"filters": {"route": "csw"}, "rows": 3, "total": 3}),
    ("view_worklist", "priority_scheme", "0", {"page": "priority"}),
    ("view_worklist", "priority_scheme", "2", {"page": "priority_preview", "households": 20}),
    ("priority_change", "priority_scheme", "2", {"from_version": 1, "signals": ["attendance"], "rescored": 40}),
]


def test_every_action_has_its_wording():
    assert set(DETAILS) == set(ACTIONS)
    assert {a for a, *_ in RECORDED} == set(ACTIONS)


@pytest.mark.parametrize(("action", "target_type", "target_id", "detail"), RECORDED)
def test_it_is_words_not_json_or_internal_names(action, target_type, target_id, detail):
    entry = describe(action, "demo-admin", 1, target_type, target_id, detail, NAMES, ACTIONS)
    text = " ".join([entry.actor, entry.action, entry.target, *entry.details])
    assert entry.action == ACTIONS[action]
    for raw in ("{", "}", "[", "]", '"', "None", "True", "False", "null", "true", "false", "staff_user", "import_run",
                "@v", "quarantine", "review_queue", "system", "hash", "note", "reason", "rows", "scopes"):
        assert raw not in text, (raw, text)
    if detail:
        assert entry.details, detail
    assert re.search(r"[ぁ-んァ-ヶ一-龠]", entry.target + "".join(entry.details) + entry.action)


def test_targets_name_what_the_ids_stand_for():
    assert target_text("staff_user", "1", NAMES) == "職員 デモ管理者（demo-admin）"
    assert target_text("staff_user", "2", NAMES) == "職員 demo-author"
    assert target_text("staff_user", "99", NAMES) == "職員 職員（番号 99・削除済みか不明）"
    assert target_text("rule", "shugaku_enjo@v1", NAMES) == "ルール「就学援助のご案内」第1版"
    assert target_text("rule", "gone@v4", NAMES) == "ルール gone 第4版"
    assert target_text("import_run", "3", NAMES) == "データ取込：住民基本台帳（juminhyo.csv、取込の番号 3）"
    assert target_text("quarantine", "3", NAMES) == "隔離された行：住民基本台帳（juminhyo.csv、取込の番号 3）"
    assert target_text("household", "0000100001", NAMES) == "世帯番号 0000100001"
    assert target_text("quarantine", "8", Names(runs={8: ("consent", "consent.csv")})) == (
        "隔離された行：窓口・CSWで受け付けた同意（consent.csv、取込の番号 8）")
    assert target_text(None, None, NAMES) == "—"


def test_actors_in_words():
    assert actor_text("demo-admin", 1, NAMES) == "デモ管理者（demo-admin）"
    assert actor_text("system", None, NAMES) == "システム"
    assert actor_text("line", None, NAMES) == "LINE（住民の操作）"
    assert actor_text("cli:tanaka", None, NAMES) == "コマンド（tanaka が実行）"
    assert actor_text("anonymous", None, NAMES) == "サインインしていない利用者"


def test_the_details_of_the_issue_read_as_sentences():
    assert detail_lines("rule_approve", {"system": True}) == ("運用担当者がルールの読込と同時に承認し、有効にしました（二人目の承認を経ない一括登録）",)
    assert detail_lines("rule_change", {"hash": "06dd00599bd5", "note": None}) == (
        "変更の理由：なし", "内容の識別番号：06dd00599bd5")
    assert detail_lines("sign_in_failed", {"reason": "password", "failures": 3}) == ("パスワードの誤り（連続 3 回目）",)
    assert detail_lines("consent_change", {"events": 42, "skipped": 3, "quarantined": 2, "import_run": 7}) == (
        "記録した同意・撤回 42 件", "取込済みのため飛ばした行 3 件", "隔離した行 2 件", "取込の番号 7")


def test_unknown_keys_are_still_words():
    assert detail_lines("case_change", {"status": "closed", "flag": True, "ids": [1, 2], "n": 12000}) == (
        "結果：closed", "flag：はい", "ids：1、2", "n：12,000")
    assert value_text(None) == "なし" and value_text({"rows": 2}) == "件数：2"


def test_a_view_of_the_points_table_and_a_preview_read_as_sentences():
    assert detail_lines("view_worklist", {"page": "priority"}) == ("優先度の点数表の画面を表示",)
    assert detail_lines("view_worklist", {"page": "priority_preview", "households": 1200}) == (
        "点数表の変更案を試算し、その場合の世帯の点数と順位を表示（保存はしていません）", "表示した世帯 1,200 件")
    assert target_text("priority_scheme", "0", NAMES) == "優先度の点数表（初期設定）"
    assert target_text("priority_scheme", "3", NAMES) == "優先度の点数表 第3版"
    # the worklist's own rows read as before
    assert detail_lines("view_worklist", {"rows": 3, "total": 3}) == ("表示 3 件（条件に当てはまるのは 3 件）",)


def test_consent_channels_read_as_the_consent_page_names_them():
    lines = detail_lines("consent_change", {"setai_no": "500001", "channel": "LIFF", "granted": ["notify"],
                                            "withdrawn": [], "events": [1]})
    assert "経路：LINE（同意ページ）" in lines
    assert "経路：LINE（トーク）" in detail_lines("consent_change", {"channel": "LINE", "withdrawn": ["notify"]})
    assert "経路：職員" in detail_lines("consent_change", {"channel": "職員", "withdrawn": ["notify"]})
