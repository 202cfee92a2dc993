"""Staff rule pages (判定ルール): list, versions with readable diffs, the form editor, the reach
preview, and approval by a second person (the two-person rule lives in eligibility.dao).

The editor has no free-text code. The criteria tree travels as flat form fields named by the node's
position (`node-0` is the root, `node-0-2` its third child, `node-0-2-0` the child of that NOT …):

    node-P-type        all | any (a select on groups) | not | leaf (hidden)
    node-P-note        the node's note (shown with the reasons of a match)
    node-P-criterion   leaf: the catalog criterion; node-P-shown: the one whose parameters are shown
    node-P-param-NAME  leaf parameters, typed by the catalog (checkbox lists repeat the name;
                       dated numbers: node-P-param-NAME-dated + -from-K / -value-K rows)
    node-P-new         group: the criterion the add buttons append

Structural edits are submit buttons named `action` (add:P, addgroup:P, remove:P, not:P, unnot:P,
group:P, ungroup:P, up:P, down:P, dated:P:NAME, addrow:P:NAME, delrow:P:NAME:K, refresh, preview,
save): the server rebuilds the tree from the fields, applies the action and renders the form again,
so the page works without JavaScript. Validation is parse_rule's; its error paths
(criteria.all[3].any[0].params.base) are mapped back to the field that caused them.
"""
from __future__ import annotations

import datetime as dt
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from notifier import db
from notifier.clock import fiscal_year, today_jst
from notifier.contract import SENSITIVITY_LABELS
from notifier.eligibility.catalog import CATALOG
from notifier.eligibility.dao import (
    RuleApprovalError,
    add_version,
    approve,
    dao_active_version,
    dao_latest_version,
    latest_run,
    reject,
)
from notifier.eligibility.engine import evaluate
from notifier.eligibility.params import Param
from notifier.eligibility.rules import (
    DEFAULT_COOLDOWN_DAYS,
    DEFAULT_NONRESPONDER_DAYS,
    DEFAULT_REMINDER_DAYS,
    RULE_ID,
    Rule,
    RuleError,
    diff_rules,
    parse_rule,
    rule_from_json,
)
from notifier.models import ConsentEvent, ImportRun, LinkDecision, PupilLink, RuleVersion
from notifier.web import current_actor, require_roles

bp = Blueprint("rules", __name__, url_prefix="/rules")

STATUS_LABELS = {"pending": "承認待ち", "active": "有効", "superseded": "過去の版", "rejected": "却下",
                 "withdrawn": "取り下げ（新しい下書きに置き換え）"}
GROUP_LABELS = {"all": "すべて満たす（かつ）", "any": "いずれかを満たす（または）"}
RESERVED_IDS = {"new", "approvals"}          # would collide with the pages under /rules/
NOTE_MAX = 500


# ---------------------------------------------------------------------------------------------
# the editor's model of a rule being edited


@dataclass
class Raw:
    """Input that could not be read as its type; kept as typed so the form shows it back."""
    text: str
    error: str


@dataclass
class Dated:
    """A dated numeric parameter being edited: rows of (start date as typed, value)."""
    rows: list


@dataclass
class EditNode:
    type: str                                   # all | any | not | leaf
    note: str = ""
    children: list = field(default_factory=list)
    criterion: str = ""
    params: dict = field(default_factory=dict)  # name → typed value, Raw or Dated


def _leaf(name: str | None = None) -> EditNode:
    name = name if name in CATALOG else next(iter(CATALOG))
    return EditNode("leaf", criterion=name, params=CATALOG[name].defaults())


def node_from_data(data: dict) -> EditNode:
    """Canonical criteria data (Rule.canonical()["criteria"]) → editor tree."""
    note = data.get("note") or ""
    if "criterion" in data:
        params = {k: Dated(list(v.items())) if isinstance(v, dict) else v
                  for k, v in (data.get("params") or {}).items()}
        return EditNode("leaf", note, criterion=data["criterion"], params=params)
    if "not" in data:
        return EditNode("not", note, [node_from_data(data["not"])])
    op = "all" if "all" in data else "any"
    return EditNode(op, note, [node_from_data(c) for c in data[op]])


def _nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def _read_int(text: str | None) -> int | Raw:
    t = _nfkc(text).replace(",", "").replace("円", "").replace(" ", "")
    if not t:
        return Raw("", "数値を入力してください。")
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    return Raw((text or "").strip(), "半角または全角の数字で入力してください（例: 1000000）。")


def _split(text: str) -> list[str]:
    return [x for x in re.split(r"[,、\s]+", _nfkc(text)) if x]


def _param_from_form(form, name: str, p: Param) -> Any:
    if p.datable and form.get(f"{name}-dated"):
        rows, k = [], 0
        while f"{name}-from-{k}" in form:
            rows.append((_nfkc(form.get(f"{name}-from-{k}")), _read_int(form.get(f"{name}-value-{k}"))))
            k += 1
        return Dated(rows)
    if p.kind in ("int", "yen"):
        return _read_int(form.get(name))
    if p.kind == "bool":
        return form.get(name) == "1"
    if p.kind == "choice":
        return form.get(name, "")
    if p.kind == "choices":
        return form.getlist(name)
    if p.kind == "ints":
        items = form.getlist(name) if p.choice_labels else _split(form.get(name, ""))
        try:
            return [int(_nfkc(x)) for x in items]
        except ValueError:
            return Raw("、".join(items), "整数をカンマ区切りで入力してください（例: 1, 2, 3）。")
    if p.kind == "texts":
        return _split(form.get(name, ""))
    return (form.get(name) or "").strip()


def node_from_form(form, path: str) -> EditNode | None:
    prefix = f"node-{path}"
    kind = form.get(f"{prefix}-type")
    if kind not in ("all", "any", "not", "leaf"):
        return None
    note = (form.get(f"{prefix}-note") or "").strip()
    if kind == "leaf":
        name = form.get(f"{prefix}-criterion")
        if name not in CATALOG:
            return _leaf()
        if form.get(f"{prefix}-shown") != name:
            # The criterion was switched: its own parameters start from their defaults.
            return EditNode("leaf", note, criterion=name, params=CATALOG[name].defaults())
        params = {p.name: _param_from_form(form, f"{prefix}-param-{p.name}", p) for p in CATALOG[name].params}
        return EditNode("leaf", note, criterion=name, params=params)
    children, i = [], 0
    while (child := node_from_form(form, f"{path}-{i}")) is not None:
        children.append(child)
        i += 1
    return EditNode(kind, note, children[:1] if kind == "not" else children)


META_TEXT = ("name", "procedure_code", "application_url", "template", "effective_from", "effective_to",
             "description", "reference")
META_INT = ("cooldown_days", "reminder_days", "nonresponder_days")
META_FIELDS = META_TEXT + META_INT


@dataclass
class Draft:
    """Everything on the editor form: the rule's fields as typed, and its criteria tree."""
    rule_id: str
    meta: dict
    tree: EditNode
    note: str = ""                # the version note for the approver
    base_version: int | None = None


def draft_from_rule(rule: Rule, base_version: int | None) -> Draft:
    c = rule.canonical()
    meta = {k: ("" if c.get(k) is None else str(c[k])) for k in META_TEXT}
    meta.update(cooldown_days=str(rule.cooldown_days), reminder_days=str(rule.followup.reminder_days),
                nonresponder_days=str(rule.followup.nonresponder_days))
    return Draft(rule.id, meta, node_from_data(c["criteria"]), base_version=base_version)


def blank_draft() -> Draft:
    meta = {k: "" for k in META_FIELDS}
    meta.update(cooldown_days=str(DEFAULT_COOLDOWN_DAYS),
                reminder_days=str(DEFAULT_REMINDER_DAYS), nonresponder_days=str(DEFAULT_NONRESPONDER_DAYS))
    return Draft("", meta, EditNode("all", children=[_leaf()]))


def _text(form, name: str) -> str:
    # Browsers submit text areas with CRLF line ends; the stored rule uses LF.
    return (form.get(name) or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def draft_from_form(form, rule_id: str | None) -> Draft:
    meta = {k: _text(form, k) for k in META_FIELDS}
    tree = node_from_form(form, "0") or EditNode("all")
    base = form.get("base_version")
    return Draft(rule_id if rule_id is not None else _nfkc(form.get("rule_id")), meta, tree,
                 note=_text(form, "version_note")[:NOTE_MAX],
                 base_version=int(base) if base and base.isdigit() else None)


# --- from the editor tree to rule data (for parse_rule), remembering where each node came from


def _param_data(v: Any) -> Any:
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, Dated):
        return {f: _param_data(x) for f, x in v.rows}
    return v


def _tree_data(node: EditNode, dpath: str, fpath: str, paths: dict, raw_errors: dict) -> dict:
    paths[dpath] = fpath
    out: dict[str, Any] = {"note": node.note} if node.note else {}
    if node.type == "leaf":
        out["criterion"] = node.criterion
        out["params"] = {k: _param_data(v) for k, v in node.params.items()}
        for k, v in node.params.items():
            bad = [v] if isinstance(v, Raw) else [x for _f, x in v.rows if isinstance(x, Raw)] \
                if isinstance(v, Dated) else []
            if isinstance(v, Dated) and any(not f for f, _x in v.rows):
                raw_errors.setdefault(f"node-{fpath}-param-{k}", "開始日を入力してください。")
            if bad:
                raw_errors.setdefault(f"node-{fpath}-param-{k}", bad[0].error)
    elif node.type == "not":
        out["not"] = _tree_data(node.children[0], f"{dpath}.not", f"{fpath}-0", paths, raw_errors) \
            if node.children else {}
    else:
        out[node.type] = [_tree_data(c, f"{dpath}.{node.type}[{i}]", f"{fpath}-{i}", paths, raw_errors)
                          for i, c in enumerate(node.children)]
        if not node.children:
            raw_errors.setdefault(f"node-{fpath}", "条件を1つ以上追加してください。")
    return out


TOP_FIELD_IDS = {"id": "rule_id", "followup.reminder_days": "reminder_days",
                 "followup.nonresponder_days": "nonresponder_days", "followup": "reminder_days"}


def _japanese(msg: str) -> str:
    """parse_rule's messages are 'Japanese / English'; staff see the Japanese part (the Japanese
    part may itself contain ' / ', as in 'all / any / not …', so cut at the last one before English)."""
    cuts = [m.start() for m in re.finditer(r" / (?=[A-Za-z])", msg)]
    return (msg[:cuts[-1]] if cuts else msg).strip()


def validate(draft: Draft) -> tuple[Rule | None, dict[str, str]]:
    """(rule, {}) when the form is a valid rule, else (None, {field id: Japanese message})."""
    paths: dict[str, str] = {}
    errors: dict[str, str] = {}
    criteria = _tree_data(draft.tree, "criteria", "0", paths, errors)
    m = draft.meta
    ints = {k: _read_int(m[k]) for k in META_INT}
    for k, v in ints.items():
        if isinstance(v, Raw):
            errors.setdefault(k, v.error)
    data = {"id": draft.rule_id, "criteria": criteria,
            **{k: (m[k] or None) for k in META_TEXT},
            "cooldown_days": _param_data(ints["cooldown_days"]),
            "followup": {"reminder_days": _param_data(ints["reminder_days"]),
                         "nonresponder_days": _param_data(ints["nonresponder_days"])}}
    if draft.rule_id in RESERVED_IDS:
        errors.setdefault("rule_id", "この名前はIDに使えません。別のIDにしてください。")
    try:
        rule = parse_rule(data, "form")
    except RuleError as e:
        for item in e.errors:
            _where, _, rest = item.partition(": ")
            path, _, msg = rest.partition(": ")
            errors.setdefault(_field_for(path, paths), _japanese(msg))
        return None, errors
    return (None, errors) if errors else (rule, {})


def _field_for(path: str, paths: dict[str, str]) -> str:
    if not path.startswith("criteria"):
        return TOP_FIELD_IDS.get(path, path)
    m = re.match(r"^(.*)\.params\.([A-Za-z0-9_]+)$", path)
    if m and m.group(1) in paths:
        return f"node-{paths[m.group(1)]}-param-{m.group(2)}"
    while path not in paths and "." in path:
        path = path.rsplit(".", 1)[0]
    return f"node-{paths[path]}" if path in paths else "criteria"


# --- structural edits


def _locate(root: EditNode, fpath: str) -> tuple[EditNode | None, int, EditNode]:
    parts = fpath.split("-")
    if parts[0] != "0" or not all(x.isdigit() for x in parts):
        raise KeyError(fpath)
    parent, idx, node = None, 0, root
    for x in parts[1:]:
        i = int(x)
        if node.type == "leaf" or i >= len(node.children):
            raise KeyError(fpath)
        parent, idx, node = node, i, node.children[i]
    return parent, idx, node


def _replace(root: EditNode, fpath: str, new: EditNode) -> EditNode:
    parent, idx, _node = _locate(root, fpath)
    if parent is None:
        return new
    parent.children[idx] = new
    return root


def _remove(root: EditNode, fpath: str) -> EditNode:
    parent, idx, _node = _locate(root, fpath)
    if parent is None:
        return root
    del parent.children[idx]
    parent_path = fpath.rsplit("-", 1)[0]
    if not parent.children:
        if parent_path != "0":
            return _remove(root, parent_path)        # a group left empty goes too
        if root.type == "not":
            return EditNode("all")
    return root


def apply_action(draft: Draft, action: str, form) -> str | None:
    """Apply one structural edit to draft.tree; returns the form path of the node it touched."""
    kind, _, arg = action.partition(":")
    path, _, rest = arg.partition(":")
    root = draft.tree
    try:
        parent, idx, node = _locate(root, path) if path else (None, 0, root)
    except KeyError:
        return None                                  # a stale page: nothing to apply
    parent_path = path.rsplit("-", 1)[0] if "-" in path else "0"
    if kind in ("add", "addgroup") and node.type in ("all", "any"):
        leaf = _leaf(form.get(f"node-{path}-new"))
        node.children.append(leaf if kind == "add" else EditNode("any", children=[leaf]))
        return f"{path}-{len(node.children) - 1}"
    if kind == "remove" and parent is not None:
        draft.tree = _remove(root, path)
        return parent_path
    if kind == "not" and node.type != "not":
        draft.tree = _replace(root, path, EditNode("not", children=[node]))
        return path
    if kind == "unnot" and node.type == "not" and node.children:
        child = node.children[0]
        child.note = child.note or node.note
        draft.tree = _replace(root, path, child)
        return path
    if kind == "group":
        draft.tree = _replace(root, path, EditNode("all", children=[node]))
        return path
    if kind == "ungroup" and node.type in ("all", "any") and len(node.children) == 1:
        child = node.children[0]
        child.note = child.note or node.note
        draft.tree = _replace(root, path, child)
        return path
    if kind in ("up", "down") and parent is not None and parent.type in ("all", "any"):
        j = idx - 1 if kind == "up" else idx + 1
        if 0 <= j < len(parent.children):
            parent.children[idx], parent.children[j] = parent.children[j], parent.children[idx]
            return f"{parent_path}-{j}"
        return path
    if node.type == "leaf" and kind in ("dated", "addrow", "delrow"):
        pname, _, k = rest.partition(":")
        if pname not in node.params:
            return None
        value = node.params[pname]
        if kind == "dated" and not isinstance(value, Dated):
            start = draft.meta.get("effective_from") or f"{fiscal_year(today_jst())}-04-01"
            node.params[pname] = Dated([(start, value)])
        elif kind == "addrow" and isinstance(value, Dated):
            value.rows.append(("", value.rows[-1][1] if value.rows else Raw("", "数値を入力してください。")))
        elif kind == "delrow" and isinstance(value, Dated) and k.isdigit() and int(k) < len(value.rows):
            removed = value.rows.pop(int(k))
            if not value.rows:
                node.params[pname] = removed[1]
        return path
    return None


# --- the tree as the template renders it


def _show_int(v: Any, p: Param) -> str:
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, bool) or not isinstance(v, int):
        return "" if v is None else str(v)
    return f"{v:,}" if p.kind == "yen" else str(v)


def _widget(fpath: str, p: Param, value: Any, errors: dict) -> dict:
    fid = f"node-{fpath}-param-{p.name}"
    labels = p.choice_labels
    help_text = p.help
    for code, text in labels.items():          # the catalog's help names choices by code
        if isinstance(code, str):
            help_text = help_text.replace(code, f"「{text}」")
    w = {"id": fid, "label": p.label, "help": help_text, "error": errors.get(fid), "datable": p.datable,
         "unit": "円" if p.kind == "yen" else ""}
    if isinstance(value, Dated):
        w.update(widget="dated", rows=[{"k": k, "from": f, "value": _show_int(v, p)}
                                       for k, (f, v) in enumerate(value.rows)])
    elif p.kind in ("int", "yen"):
        w.update(widget="number", value=_show_int(value, p))
    elif p.kind == "bool":
        w.update(widget="checkbox", checked=value is True)
    elif p.kind == "choice":
        w.update(widget="select", value=value,
                 options=[(c, labels.get(c, c)) for c in p.choices])
    elif p.kind == "choices" or (p.kind == "ints" and labels):
        keys = list(p.choices) if p.kind == "choices" else list(labels)
        chosen = {str(x) for x in value} if isinstance(value, list) else set()
        w.update(widget="checkboxes", options=[(str(c), str(labels.get(c, c)), str(c) in chosen) for c in keys],
                 help="" if p.kind == "ints" else help_text)  # the boxes carry the labels the help spells out
    elif p.kind in ("ints", "texts"):
        w.update(widget="text", value=value.text if isinstance(value, Raw) else "、".join(str(x) for x in value or []),
                 help=p.help or "複数あるときは「、」またはカンマで区切ります。")
    else:
        w.update(widget="text", value=value.text if isinstance(value, Raw) else str(value or ""))
    return w


def _leaf_sensitivity(node: EditNode) -> list[str]:
    crit = CATALOG[node.criterion]
    try:
        params, errs = crit.normalize({k: _param_data(v) for k, v in node.params.items()})
        classes = crit.sensitivity_for(params if not errs else crit.defaults())
    except Exception:  # noqa: BLE001 - a half-typed parameter only hides the hint
        classes = ()
    return [SENSITIVITY_LABELS[c] for c in classes]


def tree_view(node: EditNode, errors: dict, fpath: str = "0", label: str = "", parent: EditNode | None = None,
              index: int = 0) -> dict:
    v = {"path": fpath, "type": node.type, "note": node.note, "label": label,
         "error": errors.get(f"node-{fpath}"), "is_root": parent is None, "index": index,
         "siblings": len(parent.children) if parent is not None else 1,
         "movable": parent is not None and parent.type in ("all", "any"),
         "negatable": parent is not None and parent.type != "not" and node.type != "not", "children": []}
    if node.type == "leaf":
        crit = CATALOG[node.criterion]
        v.update(criterion=node.criterion, crit_label=crit.label,
                 widgets=[_widget(fpath, p, node.params.get(p.name, p.default), errors) for p in crit.params],
                 sensitivity=_leaf_sensitivity(node), reads_tax=crit.reads_tax(crit.defaults()))
    elif node.type == "not":
        v["children"] = [tree_view(c, errors, f"{fpath}-0", label, node, 0) for c in node.children]
    else:
        v["children"] = [tree_view(c, errors, f"{fpath}-{i}", f"{label}-{i + 1}" if label else str(i + 1), node, i)
                         for i, c in enumerate(node.children)]
    return v


TOP_LABELS = {"rule_id": "ルールID", "name": "名称", "procedure_code": "手続きコード", "application_url": "申請URL",
              "template": "メッセージテンプレート", "effective_from": "適用開始日", "effective_to": "適用終了日",
              "cooldown_days": "再通知を控える日数", "reminder_days": "リマインドまでの日数",
              "nonresponder_days": "未応答とするまでの日数", "description": "説明", "reference": "根拠",
              "criteria": "条件"}


def error_labels(view: dict, out: dict | None = None) -> dict[str, str]:
    """Field id → what staff call it ("条件 4-1の基本額"), for the error summary at the top."""
    out = dict(TOP_LABELS) if out is None else out
    name = "条件全体" if view["is_root"] and view["type"] != "leaf" else f"条件 {view['label'] or ''}".strip()
    out[f"node-{view['path']}"] = name
    for w in view.get("widgets", []):
        out[w["id"]] = f"{name}の{w['label']}"
    for child in view["children"]:
        error_labels(child, out)
    return out


def criterion_options() -> list[tuple[str, str]]:
    out = []
    for name, crit in CATALOG.items():
        tax = "［税の同意が必要］" if crit.reads_tax(crit.defaults()) else ""
        out.append((name, crit.label + tax))
    return out


# ---------------------------------------------------------------------------------------------
# reach preview (到達数): the household table is cached per app, keyed by what it is built from


class _LRU:
    """A small in-process least-recently-used cache."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.RLock()
        self.builds = 0

    def get(self, key, build: Callable[[], Any], hold_lock: bool = True):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            if hold_lock:            # building the household table is heavy: never twice at once
                return self._put(key, build())
        value = build()
        with self.lock:
            return self._put(key, value)

    def _put(self, key, value):
        self.builds += 1
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


def preview_caches() -> tuple[_LRU, _LRU]:
    """(household inputs, evaluation summaries) of this app."""
    ext = current_app.extensions
    if "rules_preview_cache" not in ext:
        ext["rules_preview_cache"] = (_LRU(2), _LRU(64))
    return ext["rules_preview_cache"]


def inputs_key(s, as_of: dt.date) -> tuple:
    """What the household table and consents of a date are built from: a change to any of these
    (an import, a 名寄せ run or review decision, a consent event) makes a new table."""
    return (as_of.isoformat(),
            s.scalar(select(func.max(ImportRun.id))),
            s.scalar(select(func.max(PupilLink.linked_at))),
            s.scalar(select(func.count()).select_from(PupilLink)),
            s.scalar(select(func.max(LinkDecision.id))),
            s.scalar(select(func.count(ConsentEvent.id))))


def _inputs(key: tuple, as_of: dt.date):
    from notifier.eligibility.pipeline import build_inputs
    inputs, _results = preview_caches()

    def build():
        _sources, _links, table, consents = build_inputs(db.engine(), as_of)
        return table, consents
    return inputs.get(key, build)


@dataclass
class Reach:
    as_of: dt.date
    households: int
    matches: int
    with_notify: int
    with_tax: int
    not_evaluated: int
    effective: bool
    breakdown: list
    matched: frozenset
    cooldown_days: int = DEFAULT_COOLDOWN_DAYS
    compared_version: int | None = None
    same_as_active: bool = False
    gained: int | None = None
    lost: int | None = None
    error: str | None = None

    @property
    def would_notify(self) -> int:
        # No outbox yet, so no household was notified within the cool-down: all consented matches.
        return self.with_notify


def _path_label(path: str) -> str:
    return "-".join(str(int(i) + 1) for i in re.findall(r"\[(\d+)\]", path)) or "全体"


def _evaluate_summary(rule: Rule, as_of: dt.date, key: tuple) -> Reach:
    _inputs_cache, results = preview_caches()

    def build():
        table, consents = _inputs(key, as_of)
        res = evaluate([rule], table, consents, only_effective=False, reasons=False)
        row = res.counts.iloc[0]
        breakdown = [{"label": _path_label(b["path"]), "description": b["description"], "note": b["note"],
                      "negated": bool(b["negated"]), "reads_tax": bool(b["reads_tax"]),
                      "passes": int(b["passes"]), "lost": int(b["lost_if_dropped"]),
                      "gained": int(b["gained_if_dropped"])} for b in res.breakdown.to_dict("records")]
        return Reach(as_of, int(row["households"]), int(row["matches"]), int(row["matches_with_notify"]),
                     int(row["matches_with_tax_consent"]), int(row["not_evaluated_no_tax_consent"]),
                     rule.is_effective(as_of), breakdown, frozenset(res.matches["setai_no"]),
                     rule.cooldown_days)
    return results.get((key, rule.content_hash), build, hold_lock=False)


def reach(rule: Rule, as_of: dt.date, active: tuple[RuleVersion, Rule] | None) -> Reach:
    """The reach of `rule` on as_of, with the change against the active version when there is one."""
    key = inputs_key(db.session(), as_of)
    try:
        mine = _evaluate_summary(rule, as_of, key)
        out = replace(mine)
        out.same_as_active = active is not None and active[1].content_hash == rule.content_hash
        if active is not None and not out.same_as_active:
            theirs = _evaluate_summary(active[1], as_of, key)
            out.compared_version = active[0].version
            out.gained = len(mine.matched - theirs.matched)
            out.lost = len(theirs.matched - mine.matched)
        return out
    except RuleError as e:
        return Reach(as_of, 0, 0, 0, 0, 0, rule.is_effective(as_of), [], frozenset(),
                     error="；".join(_japanese(x.split(": ", 2)[-1]) for x in e.errors))


# ---------------------------------------------------------------------------------------------
# helpers shared by the pages


def readable_diff(old: Rule, new: Rule) -> list[str]:
    """diff_rules with the criteria paths (criteria.all[3].any[0]) shown as the editor numbers them."""
    return [re.sub(r"（(criteria[^）]*)）", lambda m: f"（条件 {_path_label(m.group(1))}）", line)
            for line in diff_rules(old, new)]


def _check_id(rule_id: str) -> None:
    if not RULE_ID.match(rule_id):
        abort(404)


def _versions(s, rule_id: str) -> list[RuleVersion]:
    return s.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id)
                     .order_by(RuleVersion.version)).all()


def _rule_of(row: RuleVersion) -> tuple[Rule | None, str | None]:
    """The stored version as a Rule, or the reason it no longer reads (e.g. the catalog changed)."""
    try:
        return rule_from_json(row.definition, f"{row.rule_id}@v{row.version}"), None
    except RuleError as e:
        return None, "この版は現在の条件カタログでは読み込めません: " + "；".join(
            _japanese(x.split(": ", 2)[-1]) for x in e.errors)


def _active_pair(s, rule_id: str) -> tuple[RuleVersion, Rule] | None:
    row = dao_active_version(s, rule_id)
    if row is None:
        return None
    rule, _err = _rule_of(row)
    return (row, rule) if rule is not None else None


def _parse_as_of(raw: str | None) -> tuple[dt.date, str | None]:
    if not raw:
        return today_jst(), None
    try:
        return dt.date.fromisoformat(_nfkc(raw)), None
    except ValueError:
        return today_jst(), "日付は YYYY-MM-DD の形で入力してください。今日の日付で表示しています。"


def rule_facts(rule: Rule) -> list[tuple[str, str]]:
    period = f"{rule.effective_from or '（制限なし）'} 〜 {rule.effective_to or '（制限なし）'}"
    return [("名称", rule.name), ("手続きコード", rule.procedure_code), ("申請URL", rule.application_url),
            ("メッセージテンプレート", rule.template), ("適用期間", period),
            ("再通知を控える日数", f"{rule.cooldown_days}日"),
            ("フォローアップ", f"通知から{rule.followup.reminder_days}日後にリマインド、"
                          f"{rule.followup.nonresponder_days}日後に未応答として確認リストへ"),
            ("扱う情報の種類", "・".join(SENSITIVITY_LABELS[c] for c in rule.sensitivity) or "（なし）"),
            ("根拠", rule.reference or "（なし）")]


def render_lines(rule: Rule) -> list[tuple[int, str]]:
    """Rule.render() lines as (depth, text) for indented display."""
    out = []
    for line in rule.render():
        stripped = line.lstrip(" ")
        out.append((min((len(line) - len(stripped)) // 2, 8), stripped))
    return out


@bp.app_context_processor
def _rules_helpers():
    return {"rule_status_labels": STATUS_LABELS}


# ---------------------------------------------------------------------------------------------
# pages


@bp.route("/")
@require_roles("rule_author", "rule_approver")
def index():
    s = db.session()
    rows = s.scalars(select(RuleVersion).order_by(RuleVersion.rule_id, RuleVersion.version)).all()
    by_rule: dict[str, list[RuleVersion]] = {}
    for r in rows:
        by_rule.setdefault(r.rule_id, []).append(r)
    run = latest_run(s)
    summary = (run.summary or {}) if run else {}
    items = []
    for rule_id, versions in by_rule.items():
        active = next((v for v in versions if v.status == "active"), None)
        pending = next((v for v in reversed(versions) if v.status == "pending"), None)
        latest = versions[-1]
        if active and pending:
            status = "有効（変更の承認待ち）"
        elif active:
            status = "有効"
        elif pending:
            status = "承認待ち（まだ有効な版はありません）"
        else:
            status = f"無効（最新の版は{STATUS_LABELS.get(latest.status, latest.status)}）"
        items.append({"rule_id": rule_id, "name": (active or latest).name, "active": active, "pending": pending,
                      "status": status, "reach": summary.get(rule_id)})
    return render_template("rules/index.html", items=items, run=run)


@bp.route("/<rule_id>")
@require_roles("rule_author", "rule_approver")
def detail(rule_id: str):
    _check_id(rule_id)
    s = db.session()
    versions = _versions(s, rule_id)
    if not versions:
        abort(404)
    shown = next((v for v in versions if v.status == "active"), None) or versions[-1]
    rule, error = _rule_of(shown)
    history, previous = [], None
    for v in versions:
        r, _err = _rule_of(v)
        diff = readable_diff(previous, r) if previous is not None and r is not None else None
        history.append({"row": v, "diff": diff})
        previous = r or previous
    history.reverse()
    pending = next((v for v in reversed(versions) if v.status == "pending"), None)
    return render_template("rules/detail.html", rule_id=rule_id, shown=shown, rule=rule, error=error,
                           facts=rule_facts(rule) if rule else [], lines=render_lines(rule) if rule else [],
                           history=history, pending=pending, name=shown.name)


@bp.route("/<rule_id>/v/<int:n>")
@require_roles("rule_author", "rule_approver")
def version(rule_id: str, n: int):
    _check_id(rule_id)
    s = db.session()
    versions = _versions(s, rule_id)
    row = next((v for v in versions if v.version == n), None) or abort(404)
    rule, error = _rule_of(row)
    prev_row = next((v for v in reversed(versions) if v.version < n), None)
    prev_rule = _rule_of(prev_row)[0] if prev_row else None
    active = _active_pair(s, rule_id)
    diff_prev = readable_diff(prev_rule, rule) if rule and prev_rule else None
    diff_active = readable_diff(active[1], rule) if rule and active and active[0].id != row.id \
        and (prev_row is None or active[0].id != prev_row.id) else None
    return render_template("rules/version.html", rule_id=rule_id, row=row, rule=rule, error=error,
                           facts=rule_facts(rule) if rule else [], lines=render_lines(rule) if rule else [],
                           prev_row=prev_row, diff_prev=diff_prev, active=active and active[0],
                           diff_active=diff_active)


@bp.route("/<rule_id>/v/<int:n>/preview")
@require_roles("rule_author", "rule_approver")
def preview(rule_id: str, n: int):
    _check_id(rule_id)
    s = db.session()
    row = s.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id, RuleVersion.version == n)).first() \
        or abort(404)
    rule, error = _rule_of(row)
    as_of, date_error = _parse_as_of(request.args.get("as_of"))
    result = reach(rule, as_of, _active_pair(s, rule_id)) if rule else None
    return render_template("rules/preview.html", rule_id=rule_id, row=row, rule=rule, error=error,
                           as_of=as_of, date_error=date_error, reach=result, is_active=row.status == "active")


def _editor(draft: Draft, *, is_new: bool, errors: dict | None = None, reach_result: Reach | None = None,
            as_of: dt.date | None = None, date_error: str | None = None, notice: str | None = None,
            status: int = 200):
    form_url = url_for("rules.new") if is_new else url_for("rules.edit", rule_id=draft.rule_id)
    errors = errors or {}
    tree = tree_view(draft.tree, errors)
    pending = None if is_new else db.session().scalars(
        select(RuleVersion).where(RuleVersion.rule_id == draft.rule_id, RuleVersion.status == "pending")
        .order_by(RuleVersion.version.desc())).first()
    return render_template("rules/edit.html", draft=draft, is_new=is_new, errors=errors, pending=pending,
                           error_labels=error_labels(tree) if errors else {},
                           tree=tree, form_url=form_url,
                           criteria=criterion_options(), group_labels=GROUP_LABELS,
                           reach=reach_result, as_of=as_of or today_jst(), date_error=date_error,
                           notice=notice), status


def _handle_editor_post(draft: Draft, *, is_new: bool):
    s = db.session()
    action = request.form.get("action") or "refresh"
    as_of, date_error = _parse_as_of(request.form.get("as_of"))
    if action not in ("save", "preview", "refresh"):
        # The button's formaction carries the #node-… fragment that brings staff back to the spot.
        apply_action(draft, action, request.form)
        return _editor(draft, is_new=is_new, as_of=as_of)
    if action == "refresh":
        return _editor(draft, is_new=is_new, as_of=as_of)
    rule, errors = validate(draft)
    if is_new and not errors.get("rule_id") and draft.rule_id and dao_latest_version(s, draft.rule_id):
        errors["rule_id"] = "このIDのルールはすでにあります。別のIDにするか、そのルールを編集してください。"
        rule = None
    if rule is None:
        return _editor(draft, is_new=is_new, errors=errors, as_of=as_of, status=422)
    active = None if is_new else _active_pair(s, draft.rule_id)
    if action == "preview":
        return _editor(draft, is_new=is_new, reach_result=reach(rule, as_of, active), as_of=as_of,
                       date_error=date_error)
    row, created = add_version(s, rule, actor=current_actor(), note=draft.note or None)
    s.commit()
    if not created:
        return _editor(draft, is_new=is_new, as_of=as_of,
                       notice=f"内容が最新の版（第{row.version}版・{STATUS_LABELS.get(row.status, row.status)}）と"
                              f"同じため、新しい版は作成しませんでした。")
    flash(f"第{row.version}版として保存しました。別のルール承認者が承認すると有効になります。", "success")
    return redirect(url_for("rules.detail", rule_id=rule.id))


@bp.route("/<rule_id>/edit", methods=["GET", "POST"])
@require_roles("rule_author")
def edit(rule_id: str):
    _check_id(rule_id)
    s = db.session()
    versions = _versions(s, rule_id)
    if not versions:
        abort(404)
    if request.method == "POST":
        return _handle_editor_post(draft_from_form(request.form, rule_id), is_new=False)
    wanted = request.args.get("from", type=int)
    base = next((v for v in versions if v.version == wanted), None) if wanted else None
    base = base or next((v for v in reversed(versions) if v.status == "pending"), None) \
        or next((v for v in versions if v.status == "active"), None) or versions[-1]
    rule, error = _rule_of(base)
    if rule is None:
        flash(error, "error")
        return redirect(url_for("rules.detail", rule_id=rule_id))
    return _editor(draft_from_rule(rule, base.version), is_new=False)


@bp.route("/new", methods=["GET", "POST"])
@require_roles("rule_author")
def new():
    if request.method == "POST":
        return _handle_editor_post(draft_from_form(request.form, None), is_new=True)
    return _editor(blank_draft(), is_new=True)


@bp.route("/approvals")
@require_roles("rule_approver")
def approvals():
    s = db.session()
    as_of = today_jst()
    pending = s.scalars(select(RuleVersion).where(RuleVersion.status == "pending")
                        .order_by(RuleVersion.created_at, RuleVersion.id)).all()
    items = []
    for row in pending:
        rule, error = _rule_of(row)
        active = _active_pair(s, row.rule_id)
        items.append({"row": row, "rule": rule, "error": error, "active": active and active[0],
                      "diff": readable_diff(active[1], rule) if rule and active else None,
                      "lines": render_lines(rule) if rule and not active else [],
                      "reach": reach(rule, as_of, active) if rule else None,
                      "own": row.created_by == g.user.username})
    return render_template("rules/approvals.html", items=items, as_of=as_of)


def _decide(version_id: int, decide) -> Any:
    s = db.session()
    row = s.get(RuleVersion, version_id) or abort(404)
    try:
        message = decide(s, row)
    except RuleApprovalError as e:
        s.rollback()
        flash(str(e), "error")
        return redirect(url_for("rules.approvals"))
    s.commit()
    flash(message, "success")
    return redirect(url_for("rules.approvals"))


@bp.route("/approvals/<int:version_id>/approve", methods=["POST"])
@require_roles("rule_approver")
def approve_version(version_id: int):
    def decide(s, row):
        previous = dao_active_version(s, row.rule_id)
        approve(s, row, actor=current_actor())
        tail = f"第{previous.version}版は過去の版になりました。" if previous else ""
        return f"{row.name} 第{row.version}版を承認し、有効にしました。{tail}"
    return _decide(version_id, decide)


@bp.route("/approvals/<int:version_id>/reject", methods=["POST"])
@require_roles("rule_approver")
def reject_version(version_id: int):
    note = (request.form.get("reason") or "").strip()[:NOTE_MAX] or None

    def decide(s, row):
        reject(s, row, actor=current_actor(), note=note)
        return f"{row.name} 第{row.version}版を却下しました。作成者に理由を伝えてください。"
    return _decide(version_id, decide)
