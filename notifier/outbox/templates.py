"""Message templates (お知らせ文面): read and check a rule's template, and render it as the LINE
messages a delivery stores. Pure: no database, no clock.

The lock-screen rule: LINE's notification and chat list show a Flex message's altText, and the first
thing the opened bubble shows is its header. Neither may name the service or contain any word of
`contract.SENSITIVE_WORDS`; no part of the message may give a reason (`contract.REASON_WORDS`) or a
personal value (a placeholder, an amount, an age, a number).
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from notifier.contract import REASON_WORDS, SENSITIVE_WORDS
from notifier.line import flex

FIELDS = ("id", "title", "alt_text", "service_name", "sentences", "info_url", "reminder_sentences")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# What a kind, general sentence never holds: template placeholders ({name}, {{x}}, %s, $x, <x>),
# amounts (3万円, 1,000,000円), ages (8歳), long numbers (a 世帯番号, a date, a phone number).
_PERSONAL = (
    (re.compile(r"[{}]|%[sd(]|\$\w|<[^>]*>"), "差し込み（プレースホルダ）"),
    (re.compile(r"\d[\d,，.]*\s*(?:円|万|千)"), "金額"),
    (re.compile(r"\d+\s*(?:歳|才|か月|ヶ月)"), "年齢"),
    (re.compile(r"\d{4,}"), "番号や日付などの数字"),
)


class TemplateError(ValueError):
    """Every problem found in one template file, each naming the file and the field."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class MessageTemplate:
    id: str
    title: str
    alt_text: str
    service_name: str
    sentences: tuple[str, ...]
    info_url: str
    reminder_sentences: tuple[str, ...]

    def canonical_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def render(self, apply_url: str, *, reminder: bool = False) -> list[dict]:
        """The LINE messages of one delivery (a list of one Flex message); `apply_url` is the
        delivery's /r/ link."""
        sentences = list(self.reminder_sentences if reminder else self.sentences)
        return [flex.notice_message(self.title, self.service_name, sentences, apply_url, self.info_url,
                                    self.alt_text)]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def lock_screen_problems(text: str, service_name: str) -> list[str]:
    """Why `text` may not appear on a lock screen (empty: it may)."""
    folded = _fold(text)
    problems = [f"「{w}」を含みます" for w in SENSITIVE_WORDS if w in folded]
    name = _fold(service_name)
    # The service named in full, or by its main part (before any bracket: 「ホームヘルパー（訪問介護）」).
    parts = {name, re.split(r"[（(「のご案内]", name)[0]}
    if any(len(p) >= 2 and p in folded for p in parts):
        problems.append("サービス名を含みます")
    return problems


def body_problems(text: str) -> list[str]:
    """Why `text` may not appear anywhere in a message: a reason or a personal value."""
    folded = _fold(text)
    problems = [f"理由を示す「{w}」を含みます" for w in REASON_WORDS if w in folded]
    problems += [f"{what}を含みます" for pattern, what in _PERSONAL if pattern.search(folded)]
    return problems


def parse_template(data: Any, source: str = "<template>") -> MessageTemplate:
    """Check a template's mapping; raise TemplateError listing every problem (file: field: why)."""
    if not isinstance(data, dict):
        raise TemplateError([f"{source}: テンプレートはキーと値の組（YAMLのマッピング）で書いてください"])
    errors: list[str] = []

    def err(field: str, why: str) -> None:
        errors.append(f"{source}: {field}: {why}")

    unknown = sorted(set(data) - set(FIELDS))
    for name in unknown:
        err(name, "不明な項目です")
    texts: dict[str, str] = {}
    for field in ("id", "title", "alt_text", "service_name", "info_url"):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            err(field, "必須です（空でない文字列）")
        else:
            texts[field] = value.strip()
    if "id" in texts and not _ID.match(texts["id"]):
        err("id", "半角英小文字・数字・_ で書いてください")
    lists: dict[str, tuple[str, ...]] = {}
    for field in ("sentences", "reminder_sentences"):
        value = data.get(field)
        if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
            err(field, "空でない文のリストで書いてください")
            continue
        if not 1 <= len(value) <= flex.MAX_SENTENCES:
            err(field, f"文は1〜{flex.MAX_SENTENCES}個です（{len(value)}個あります）")
        lists[field] = tuple(s.strip() for s in value)
    service = texts.get("service_name", "")
    for field in ("title", "alt_text"):
        if field in texts:
            for why in lock_screen_problems(texts[field], service):
                err(field, f"ロック画面に表示されるため使えません: {why}")
    for field in ("title", "alt_text", "service_name"):
        if field in texts:
            for why in body_problems(texts[field]):
                err(field, why)
    for field, sentences in lists.items():
        for i, sentence in enumerate(sentences, start=1):
            for why in body_problems(sentence):
                err(f"{field}[{i}]", why)
    if "info_url" in texts:
        try:
            flex._uri(texts["info_url"], "info_url")
        except ValueError:
            err("info_url", "空白を含まない http(s) の URL（1,000文字まで）で書いてください")
    if errors:
        raise TemplateError(errors)
    template = MessageTemplate(texts["id"], texts["title"], texts["alt_text"], service,
                               lists["sentences"], texts["info_url"], lists["reminder_sentences"])
    try:  # the whole message must be one LINE accepts (a placeholder link of the real length)
        template.render("https://example.invalid/r/" + "x" * 120)
        template.render("https://example.invalid/r/" + "x" * 120, reminder=True)
    except ValueError as exc:
        raise TemplateError([f"{source}: {exc}"]) from exc
    return template


def template_from_json(text: str, source: str) -> MessageTemplate:
    return parse_template(json.loads(text), source)


def load_template_file(path: str | Path) -> MessageTemplate:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError([f"{path}: 読めません ({exc.__class__.__name__})"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" {mark.line + 1}行目" if mark is not None else ""
        raise TemplateError([f"{path}:{where} YAMLとして読めません"]) from exc
    template = parse_template(data, str(path))
    if template.id != path.stem:
        raise TemplateError([f"{path}: id: ファイル名（{path.stem}）と同じにしてください"])
    return template


def load_templates(directory: str | Path) -> list[MessageTemplate]:
    """Every `*.yaml` template of a directory; all problems of all files in one TemplateError."""
    errors: list[str] = []
    out = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            out.append(load_template_file(path))
        except TemplateError as exc:
            errors += exc.errors
    if errors:
        raise TemplateError(errors)
    if not out:
        raise TemplateError([f"{directory}: テンプレート（*.yaml）がありません"])
    return out
