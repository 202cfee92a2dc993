"""Rules as data (判定ルール): the YAML schema, its validation, canonical JSON and readable diffs.

A rule names a service and combines catalog criteria with `all:` / `any:` / `not:`; see
eligibility_rules/README.md for the schema. Validation reports every problem at once with the file
and the path inside it (``shugaku_enjo.yaml: criteria.all[3].any[0].params.base: …``).
"""
from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from notifier.contract import SENSITIVITY_CLASSES

from .catalog import CATALOG
from .params import ParamError, parse_date

OPS = ("all", "any", "not")
OP_LABELS = {"all": "すべて満たす", "any": "いずれかを満たす", "not": "次を満たさない"}
DEFAULT_COOLDOWN_DAYS = 365
DEFAULT_REMINDER_DAYS = 14
DEFAULT_NONRESPONDER_DAYS = 30
RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

FIELDS = ("id", "name", "procedure_code", "application_url", "template", "effective_from",
          "effective_to", "cooldown_days", "followup", "description", "reference", "criteria")
FIELD_LABELS = {
    "id": "ルールID", "name": "名称", "procedure_code": "手続きコード", "application_url": "申請URL",
    "template": "メッセージテンプレート", "effective_from": "適用開始日", "effective_to": "適用終了日",
    "cooldown_days": "再通知を控える日数", "followup.reminder_days": "リマインドまでの日数",
    "followup.nonresponder_days": "未応答とするまでの日数", "description": "説明", "reference": "根拠",
}


class RuleError(ValueError):
    """A rule that does not validate; `errors` lists every problem as 'file: path: message'."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass(frozen=True)
class Leaf:
    """A criterion with its parameters (canonical: every parameter present, validated)."""

    criterion: str
    params: dict
    note: str | None = None

    def canonical(self) -> dict:
        out: dict[str, Any] = {"criterion": self.criterion, "params": self.params}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Group:
    """all: (AND), any: (OR) over children; not: over its single child."""

    op: str
    children: tuple
    note: str | None = None

    def canonical(self) -> dict:
        body = self.children[0].canonical() if self.op == "not" else \
            [c.canonical() for c in self.children]
        out: dict[str, Any] = {self.op: body}
        if self.note:
            out["note"] = self.note
        return out


Node = Leaf | Group


@dataclass(frozen=True)
class LeafRef:
    path: str           # criteria.all[3].any[0]
    leaf: Leaf
    negated: bool       # under an odd number of not:
    note: str | None    # the leaf's note, else the nearest note above it (the clause it belongs to)


@dataclass(frozen=True)
class Followup:
    reminder_days: int = DEFAULT_REMINDER_DAYS
    nonresponder_days: int = DEFAULT_NONRESPONDER_DAYS


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    procedure_code: str
    application_url: str
    template: str
    criteria: Node
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None          # last day on which the rule applies (inclusive)
    cooldown_days: int = DEFAULT_COOLDOWN_DAYS
    followup: Followup = field(default_factory=Followup)
    description: str = ""
    reference: str = ""
    source: str = "<rule>"                       # where it was read from (not part of the content)
    warnings: tuple[str, ...] = ()

    # -- content ---------------------------------------------------------------------------
    def canonical(self) -> dict:
        """The rule's content as plain data: defaults filled in, parameters normalised."""
        return {
            "id": self.id, "name": self.name, "procedure_code": self.procedure_code,
            "application_url": self.application_url, "template": self.template,
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
            "cooldown_days": self.cooldown_days,
            "followup": {"reminder_days": self.followup.reminder_days,
                         "nonresponder_days": self.followup.nonresponder_days},
            "description": self.description, "reference": self.reference,
            "criteria": self.criteria.canonical(),
        }

    def canonical_json(self) -> str:
        """Stable JSON of the content: equal content ⇒ equal text (sorted keys, no spaces)."""
        return json.dumps(self.canonical(), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":"))

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    # -- structure -------------------------------------------------------------------------
    def leaves(self) -> list[LeafRef]:
        return list(_walk(self.criteria, "criteria", False))

    @property
    def sensitivity(self) -> tuple[str, ...]:
        """Union of the sensitivity classes of the rule's criteria."""
        got = set()
        for ref in self.leaves():
            got.update(CATALOG[ref.leaf.criterion].sensitivity_for(ref.leaf.params))
        return tuple(c for c in SENSITIVITY_CLASSES if c in got)

    @property
    def sources(self) -> tuple[str, ...]:
        """The contract sources the rule reads (juminhyo first, then in the order the criteria name them)."""
        got: dict[str, None] = {}
        for ref in self.leaves():
            got.update(dict.fromkeys(CATALOG[ref.leaf.criterion].sources_for(ref.leaf.params)))
        return tuple(got)

    def is_effective(self, d: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= d) and \
            (self.effective_to is None or d <= self.effective_to)

    def render(self) -> list[str]:
        """The criteria as indented Japanese lines, as staff read them."""
        return _render(self.criteria, 0)


def _walk(node: Node, path: str, negated: bool, note: str | None = None) -> Iterator[LeafRef]:
    note = node.note or note
    if isinstance(node, Leaf):
        yield LeafRef(path, node, negated, note)
        return
    if node.op == "not":
        yield from _walk(node.children[0], f"{path}.not", not negated, note)
        return
    for i, child in enumerate(node.children):
        yield from _walk(child, f"{path}.{node.op}[{i}]", negated, note)


def _render(node: Node, depth: int) -> list[str]:
    pad = "  " * depth
    if isinstance(node, Leaf):
        text = CATALOG[node.criterion].describe(node.params)
        return [pad + text + (f" ※{node.note}" if node.note else "")]
    head = pad + OP_LABELS[node.op] + ":" + (f" ※{node.note}" if node.note else "")
    lines = [head]
    for c in node.children:
        lines += _render(c, depth + 1)
    return lines


# ---------------------------------------------------------------------------------------------
# parsing and validation


class _Errors:
    def __init__(self, source: str):
        self.source = source
        self.items: list[str] = []

    def add(self, path: str, msg: str) -> None:
        self.items.append(f"{self.source}: {path}: {msg}")


def _parse_node(data: Any, path: str, errs: _Errors, warn: list[str], negated: bool) -> Node | None:
    if not isinstance(data, dict):
        errs.add(path, f"条件（all / any / not / criterion）が必要です / expected a mapping with "
                       f"all, any, not or criterion, got {type(data).__name__}")
        return None
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        errs.add(f"{path}.note", "文字列が必要です / expected a string")
        note = None
    keys = set(data) - {"note"}
    ops = keys & set(OPS)
    if "criterion" in keys:
        extra = keys - {"criterion", "params"}
        if extra:
            errs.add(path, f"未知のキーです / unknown keys {sorted(extra)} (a criterion node has "
                           f"criterion, params, note)")
        name = data["criterion"]
        if not isinstance(name, str) or name not in CATALOG:
            near = difflib.get_close_matches(str(name), list(CATALOG), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            errs.add(f"{path}.criterion", f"未知の条件です / unknown criterion {name!r}{hint}")
            return None
        raw = data.get("params") or {}
        if not isinstance(raw, dict):
            errs.add(f"{path}.params", "パラメータは key: value の形で書きます / expected a mapping")
            return None
        crit = CATALOG[name]
        params, perrs = crit.normalize(raw)
        for pname, msg in perrs:
            errs.add(f"{path}.params.{pname}", msg)
        if perrs:
            return None
        if negated and crit.reads_tax(params):
            warn.append(f"{errs.source}: {path}: 税情報を読む条件が not: の下にあります。税の同意がない世帯は"
                        f"「判定できない」として数え、該当にはしません / a tax criterion under not: — households "
                        f"without tax consent are reported as not evaluated, never matched through it")
        return Leaf(name, params, note)
    if len(ops) != 1 or keys - ops:
        errs.add(path, f"all / any / not / criterion のうち一つだけ書きます / expected exactly one of "
                       f"all, any, not, criterion; got {sorted(keys)}")
        return None
    op = ops.pop()
    body = data[op]
    if op == "not":
        if not isinstance(body, dict):
            errs.add(f"{path}.not", "not: には条件を一つ書きます（複数なら not: {any: [...]}） / not: takes "
                                    "one node (use not: {any: [...]} for several)")
            return None
        child = _parse_node(body, f"{path}.not", errs, warn, not negated)
        return None if child is None else Group("not", (child,), note)
    if not isinstance(body, list) or not body:
        errs.add(f"{path}.{op}", f"{op}: には条件のリスト（1つ以上）が必要です / {op}: takes a non-empty list")
        return None
    children = [_parse_node(c, f"{path}.{op}[{i}]", errs, warn, negated) for i, c in enumerate(body)]
    if any(c is None for c in children):
        return None
    return Group(op, tuple(children), note)


def _int_field(data: dict, key: str, default: int, errs: _Errors, path: str | None = None,
               minimum: int = 0) -> int:
    v = data.get(key, default)
    if v is None:
        v = default
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        errs.add(path or key, f"{minimum} 以上の整数が必要です / expected an integer ≥ {minimum}, got {v!r}")
        return default
    return v


def _str_field(data: dict, key: str, errs: _Errors, required: bool = True) -> str:
    v = data.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            errs.add(key, "必須項目です / required")
        return ""
    if not isinstance(v, str):
        errs.add(key, f"文字列が必要です / expected a string, got {v!r}")
        return ""
    return v.strip()


def _date_field(data: dict, key: str, errs: _Errors) -> dt.date | None:
    v = data.get(key)
    if v is None or v == "":
        return None
    try:
        return parse_date(v)
    except ParamError as e:
        errs.add(key, str(e))
        return None


def application_url_problem(url: str, hosts: Collection[str] | None) -> str | None:
    """Why `url` cannot be where a notice's button leads, or None.

    Allowed: https://<host>/… with `host` in `hosts` (APPLICATION_URL_HOSTS), or a path on this site
    (/…). Never another site by //host/… (a browser reads it as https://host/…), a backslash (some
    browsers read /\\host as //host), credentials or a port in the URL, or plain http.
    `hosts=None` checks the shape only (rules read back from the database were checked when they came in).
    """
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url) or "\\" in url:
        return (f"申請URLに空白・制御文字・バックスラッシュは使えません / whitespace, control characters and "
                f"backslashes are not allowed, got {url!r}")
    if url.startswith("//"):
        return ("// で始まる URL は別のサイトを指すため使えません。https:// で始まる申請サイトの URL か、/ で始まる"
                f"このサイト内のパスにします / points to another site ({url!r}): use https://<allowed host>/… "
                "or a path on this site starting with a single /")
    if url.startswith("/"):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.netloc:
        return (f"https:// または / で始まる URL が必要です / expected an https:// URL or a path starting "
                f"with /, got {url!r}")
    if "@" in parts.netloc or not _no_port(parts):
        return f"URL にユーザー名・パスワード・ポート番号は書けません / no credentials or port in the URL, got {url!r}"
    host = (parts.hostname or "").rstrip(".")
    if hosts is not None and host not in hosts:
        allowed = "、".join(hosts) or "（なし）"
        return (f"申請URLのホスト {host} は許可されていません（許可されているホスト：{allowed}。"
                f"運用担当者が APPLICATION_URL_HOSTS で設定します） / host {host!r} is not in "
                f"APPLICATION_URL_HOSTS ({', '.join(hosts) or 'none'})")
    return None


def _no_port(parts) -> bool:
    try:
        return parts.port is None and not parts.netloc.endswith(":")
    except ValueError:           # a port that is not a number
        return False


def parse_rule(data: Any, source: str = "<rule>", *, url_hosts: Collection[str] | None = None) -> Rule:
    """Validate a rule given as plain data (parsed YAML or canonical JSON); RuleError on problems.

    `url_hosts`: the hosts application_url may name (APPLICATION_URL_HOSTS); None checks its shape only.
    """
    errs = _Errors(source)
    if not isinstance(data, dict):
        raise RuleError([f"{source}: (top): ルールは key: value の形で書きます / expected a mapping"])
    for extra in sorted(set(data) - set(FIELDS), key=str):
        errs.add(str(extra), f"未知の項目です / unknown field (known: {', '.join(FIELDS)})")
    rid = _str_field(data, "id", errs)
    if rid and not RULE_ID.match(rid):
        errs.add("id", f"英小文字・数字・_ で書きます / expected [a-z][a-z0-9_]*, got {rid!r}")
    name = _str_field(data, "name", errs)
    procedure_code = _str_field(data, "procedure_code", errs)
    url = _str_field(data, "application_url", errs)
    if url:
        problem = application_url_problem(url, url_hosts)
        if problem:
            errs.add("application_url", problem)
    template = _str_field(data, "template", errs)
    eff_from = _date_field(data, "effective_from", errs)
    eff_to = _date_field(data, "effective_to", errs)
    if eff_from and eff_to and eff_to < eff_from:
        errs.add("effective_to", f"適用開始日より前です / before effective_from ({eff_from})")
    cooldown = _int_field(data, "cooldown_days", DEFAULT_COOLDOWN_DAYS, errs)
    fu = data.get("followup") or {}
    if not isinstance(fu, dict):
        errs.add("followup", "reminder_days / nonresponder_days を書きます / expected a mapping")
        fu = {}
    for extra in sorted(set(fu) - {"reminder_days", "nonresponder_days"}, key=str):
        errs.add(f"followup.{extra}", "未知の項目です / unknown field")
    followup = Followup(
        _int_field(fu, "reminder_days", DEFAULT_REMINDER_DAYS, errs, "followup.reminder_days", 1),
        _int_field(fu, "nonresponder_days", DEFAULT_NONRESPONDER_DAYS, errs,
                   "followup.nonresponder_days", 1))
    if followup.nonresponder_days < followup.reminder_days:
        errs.add("followup.nonresponder_days", "リマインドより後にします / must be ≥ reminder_days")
    description = _str_field(data, "description", errs, required=False)
    reference = _str_field(data, "reference", errs, required=False)
    warn: list[str] = []
    criteria = None
    if "criteria" not in data:
        errs.add("criteria", "必須項目です / required")
    else:
        criteria = _parse_node(data["criteria"], "criteria", errs, warn, False)
    if criteria is not None and eff_from is not None:
        _check_dated(criteria, eff_from, errs)
    if errs.items:
        raise RuleError(errs.items)
    return Rule(id=rid, name=name, procedure_code=procedure_code, application_url=url,
                template=template, criteria=criteria, effective_from=eff_from, effective_to=eff_to,
                cooldown_days=cooldown, followup=followup, description=description,
                reference=reference, source=source, warnings=tuple(warn))


def _check_dated(node: Node, start: dt.date, errs: _Errors) -> None:
    for ref in _walk(node, "criteria", False):
        for pname, v in ref.leaf.params.items():
            if isinstance(v, dict) and min(v) > start.isoformat():
                errs.add(f"{ref.path}.params.{pname}",
                         f"適用開始日 {start} に有効な値がありません / no value in force on effective_from "
                         f"(first value starts {min(v)})")


def load_rule_file(path: str | Path, *, url_hosts: Collection[str] | None = None) -> Rule:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise RuleError([f"{path}: (yaml): YAML として読めません / not valid YAML: {e}"]) from e
    rule = parse_rule(data, str(path), url_hosts=url_hosts)
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    if rule.id != stem:
        raise RuleError([f"{path}: id: ファイル名と一致しません / id {rule.id!r} must match the file "
                         f"name {stem!r}"])
    return rule


def rule_files(directory: str | Path) -> list[Path]:
    d = Path(directory)
    return sorted(p for p in list(d.glob("*.yaml")) + list(d.glob("*.yml"))
                  if not p.name.endswith((".cases.yaml", ".cases.yml")))


def load_rules(directory: str | Path, *, url_hosts: Collection[str] | None = None) -> list[Rule]:
    """Every rule file in a directory (example-case files *.cases.yaml are skipped). All problems of
    all files are reported together."""
    rules, errors = [], []
    for p in rule_files(directory):
        try:
            rules.append(load_rule_file(p, url_hosts=url_hosts))
        except RuleError as e:
            errors += e.errors
    ids = [r.id for r in rules]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        errors.append(f"{directory}: id: 同じIDのルールが複数あります / duplicate rule id {dup!r}")
    if errors:
        raise RuleError(errors)
    return rules


def rule_from_json(text: str, source: str = "<database>") -> Rule:
    """Inverse of Rule.canonical_json (re-validated against the current catalog)."""
    return parse_rule(json.loads(text), source)


# ---------------------------------------------------------------------------------------------
# diff


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "criteria":
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _shape(node: Node) -> Any:
    if isinstance(node, Leaf):
        return ("leaf", node.criterion)
    return (node.op, tuple(_shape(c) for c in node.children))


def diff_rules(old: Rule, new: Rule) -> list[str]:
    """What changed from old to new, as Japanese lines for the approval screen (empty: no change)."""
    lines = []
    a, b = _flat(old.canonical()), _flat(new.canonical())
    for key in a:
        if key == "criteria" or a[key] == b.get(key):
            continue
        label = FIELD_LABELS.get(key, key)
        fa = "（なし）" if a[key] in (None, "") else a[key]
        fb = "（なし）" if b.get(key) in (None, "") else b.get(key)
        lines.append(f"{label}: {fa} → {fb}")
    if old.criteria.canonical() == new.criteria.canonical():
        return lines
    if _shape(old.criteria) == _shape(new.criteria):
        for ra, rb in zip(old.leaves(), new.leaves()):
            crit = CATALOG[ra.leaf.criterion]
            for p in crit.params:
                va, vb = ra.leaf.params[p.name], rb.leaf.params[p.name]
                if va != vb:
                    lines.append(f"条件「{crit.label}」（{ra.path}）の{p.label}: "
                                 f"{p.show(va)} → {p.show(vb)}")
            if ra.leaf.note != rb.leaf.note:
                lines.append(f"条件「{crit.label}」（{ra.path}）のメモ: {ra.leaf.note or '（なし）'} → "
                             f"{rb.leaf.note or '（なし）'}")
        if len(lines) and any(line.startswith("条件") for line in lines):
            return lines
    lines.append("条件の構成が変わりました:")
    for d in difflib.ndiff(old.render(), new.render()):
        if d[:1] in "+-":
            lines.append(("＋ " if d[0] == "+" else "－ ") + d[2:])
    return lines
