"""The rule editor's model (pure): a rule being edited as a tree of form fields, the structural
edits staff make with buttons, validation mapped back to the field that caused it, and the tree as the
page renders it. No Flask: `form` is any mapping with get/getlist (a request's form in the app).

The criteria tree travels as flat form fields named by the node's position (`node-0` is the root,
`node-0-2` its third child, `node-0-2-0` the child of that NOT …):

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

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from notifier import clock
from notifier.contract import SENSITIVITY_LABELS

from .catalog import CATALOG
from .params import Param
from .presentation import japanese
from .rules import DEFAULT_COOLDOWN_DAYS, DEFAULT_NONRESPONDER_DAYS, DEFAULT_REMINDER_DAYS, Rule, RuleError, parse_rule

GROUP_LABELS = {"all": "すべて満たす（かつ）", "any": "いずれかを満たす（または）"}
RESERVED_IDS = {"new", "approvals"}          # would collide with the pages under /rules/
NOTE_MAX = 500


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


def validate(draft: Draft, *, url_hosts) -> tuple[Rule | None, dict[str, str]]:
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
        rule = parse_rule(data, "form", url_hosts=url_hosts)
    except RuleError as e:
        for item in e.errors:
            _where, _, rest = item.partition(": ")
            path, _, msg = rest.partition(": ")
            errors.setdefault(_field_for(path, paths), japanese(msg))
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
            start = draft.meta.get("effective_from") or f"{clock.fiscal_year(clock.today_jst())}-04-01"
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
         "unit": "円" if p.kind == "yen" else "", "required": p.kind in ("int", "yen", "text")}
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


def node_name(node: EditNode, label: str, parent: EditNode | None) -> str:
    """What staff call a node, unique in the form: 条件全体, 条件 2-1, 条件 3（否定） and, inside that,
    条件 3 で否定する条件 (the child keeps the number the breakdown and the diffs use for it)."""
    if parent is None:
        return "条件全体" if node.type != "leaf" else "条件"
    if parent.type == "not":
        return f"条件 {label} で否定する条件" if label else "否定する条件"
    return f"条件 {label}（否定）" if node.type == "not" else f"条件 {label}"


def tree_view(node: EditNode, errors: dict, fpath: str = "0", label: str = "", parent: EditNode | None = None,
              index: int = 0) -> dict:
    v = {"path": fpath, "type": node.type, "note": node.note, "label": label,
         "name": node_name(node, label, parent),
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
    name = view["name"]
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
