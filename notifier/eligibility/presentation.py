"""Rules as staff read them (pure): version status labels, the facts table, indented criteria,
readable diffs with the editor's numbering, the sources a rule reads, and Japanese error text."""
from __future__ import annotations

import re

from notifier.contract import SENSITIVITY_LABELS, SOURCES

from .rules import Rule, RuleError, diff_rules, rule_from_json

STATUS_LABELS = {"pending": "承認待ち", "active": "有効", "superseded": "過去の版", "rejected": "却下",
                 "withdrawn": "取り下げ（新しい下書きに置き換え）"}


def japanese(msg: str) -> str:
    """parse_rule's messages are 'Japanese / English'; staff see the Japanese part (the Japanese
    part may itself contain ' / ', as in 'all / any / not …', so cut at the last one before English)."""
    cuts = [m.start() for m in re.finditer(r" / (?=[A-Za-z])", msg)]
    return (msg[:cuts[-1]] if cuts else msg).strip()


def path_label(path: str) -> str:
    """criteria.all[3].any[0] → 4-1, as the editor numbers the conditions."""
    return "-".join(str(int(i) + 1) for i in re.findall(r"\[(\d+)\]", path)) or "全体"


def readable_diff(old: Rule, new: Rule) -> list[str]:
    """diff_rules with the criteria paths (criteria.all[3].any[0]) shown as the editor numbers them."""
    return [re.sub(r"（(criteria[^）]*)）", lambda m: f"（条件 {path_label(m.group(1))}）", line)
            for line in diff_rules(old, new)]


def rule_of(definition: str, rule_id: str, version: int) -> tuple[Rule | None, str | None]:
    """A stored version as a Rule, or the reason it no longer reads (e.g. the catalog changed)."""
    try:
        return rule_from_json(definition, f"{rule_id}@v{version}"), None
    except RuleError as e:
        return None, "この版は現在の条件カタログでは読み込めません: " + "；".join(
            japanese(x.split(": ", 2)[-1]) for x in e.errors)


def source_titles(rule: Rule) -> str:
    return "・".join(SOURCES[s].title for s in rule.sources)


def rule_facts(rule: Rule) -> list[tuple[str, str]]:
    period = f"{rule.effective_from or '（制限なし）'} 〜 {rule.effective_to or '（制限なし）'}"
    return [("名称", rule.name), ("手続きコード", rule.procedure_code), ("申請URL", rule.application_url),
            ("メッセージテンプレート", rule.template), ("適用期間", period),
            ("再通知を控える日数", f"{rule.cooldown_days}日"),
            ("フォローアップ", f"通知から{rule.followup.reminder_days}日後にリマインド、"
                          f"{rule.followup.nonresponder_days}日後に未応答として確認リストへ"),
            ("扱う情報の種類", "・".join(SENSITIVITY_LABELS[c] for c in rule.sensitivity) or "（なし）"),
            ("使うデータ", source_titles(rule)),
            ("根拠", rule.reference or "（なし）")]


def render_lines(rule: Rule) -> list[tuple[int, str]]:
    """Rule.render() lines as (depth, text) for indented display."""
    out = []
    for line in rule.render():
        stripped = line.lstrip(" ")
        out.append((min((len(line) - len(stripped)) // 2, 8), stripped))
    return out
