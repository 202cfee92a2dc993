"""Eligibility engine (該当判定): rules × households → matches with reasons, counts and reach preview.

Tax consent. A criterion that reads tax data holds only for households with the `tax` scope; for
every other household it is false. Rules are then combined in three-valued (Kleene) logic in which,
for a household without the tax scope, each tax criterion is *unknown* rather than false:

* a household **matches** when the rule is definitely true — true whatever the tax criteria would
  say. For rules that use tax criteria only positively (not under `not:`), this is exactly the rule
  evaluated with tax criteria false;
* a household is **not evaluated: no tax consent** when the result is unknown — it depends on a tax
  criterion the household has not consented to (e.g. shugaku_enjo: it passes clauses 1–3 and is not
  a 児童扶養手当 recipient, so only the income test could decide). Households that fail a non-tax
  clause, or match through a non-tax branch, are evaluated and not counted here. A tax criterion
  under `not:` therefore never makes a household without consent match.

Reach preview: for each leaf, how many households it holds for (`passes`), and how many matches the
rule would lose / gain if that leaf were dropped (removed from its parent; a group left empty is
removed in turn; a rule left with no criteria matches every household).
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from notifier.households.table import HouseholdTable

from .catalog import CATALOG, CriterionResult, scope
from .params import ParamError
from .rules import Leaf, Node, Rule, RuleError


@dataclass(frozen=True)
class EvaluationResult:
    """Everything one evaluation run produces (as_of = the household table's date).

    matches: rule_id, rule_hash, setai_no, reasons. reasons is a JSON-able list, one dict per leaf
        that explains the match, in rule order: criterion, key ("receives(jido_fuyo_teate)", "not
        receives(seikatsu_hogo)"), label, negated, path ("criteria.all[3].any[0]"), note (the
        clause's note), params (resolved for as_of), sensitivity (classes the values reveal), values
        (the household's values that made it hold; {} for negated leaves). Staff only — never for
        messages; hide `values` of entries whose sensitivity the viewer may not see.
    counts: one row per rule (index rule_id): rule_hash, effective, households, matches,
        not_evaluated_no_tax_consent, matches_with_notify, matches_with_tax_consent, sensitivity.
    breakdown: one row per rule leaf: rule_id, path, criterion, key, label, description, note, negated,
        reads_tax, sensitivity, params (JSON), criterion_holds (households the criterion holds
        for), passes (households the leaf holds for as used in the rule, i.e. negated under not:),
        lost_if_dropped, gained_if_dropped.
    not_evaluated: rule_id, setai_no of the households counted as not evaluated.
    """

    as_of: dt.date
    matches: pd.DataFrame
    counts: pd.DataFrame
    breakdown: pd.DataFrame
    not_evaluated: pd.DataFrame


@dataclass
class _Leaf:
    result: CriterionResult
    reads_tax: bool
    params: dict            # resolved for as_of
    true: np.ndarray        # definitely true (tax criteria: and tax scope)
    possible: np.ndarray    # true or unknown


class _Cache:
    """Leaf results by (criterion, resolved params), shared by all rules of one run."""

    def __init__(self, table: HouseholdTable, tax_scope: np.ndarray):
        self.table = table
        self.tax_scope = tax_scope
        self._items: dict[str, _Leaf] = {}

    def get(self, leaf: Leaf) -> _Leaf:
        crit = CATALOG[leaf.criterion]
        params = crit.resolve(leaf.params, self.table.as_of)
        key = json.dumps([leaf.criterion, params], ensure_ascii=False, sort_keys=True)
        hit = self._items.get(key)
        if hit is None:
            res = crit.evaluate(self.table, params)
            mask = np.asarray(res.mask, dtype=bool)
            tax = crit.reads_tax(params)
            if tax:
                hit = _Leaf(res, True, params, mask & self.tax_scope, mask | ~self.tax_scope)
            else:
                hit = _Leaf(res, False, params, mask, mask)
            self._items[key] = hit
        return hit


def _kleene(node: Node, leaf_of, drop: str | None = None, path: str = "criteria"):
    """(true, possible) arrays for node, or None when the node is dropped (preview)."""
    if isinstance(node, Leaf):
        if path == drop:
            return None
        lv = leaf_of(path)
        return lv.true, lv.possible
    if node.op == "not":
        r = _kleene(node.children[0], leaf_of, drop, f"{path}.not")
        return None if r is None else (~r[1], ~r[0])
    parts = [r for i, c in enumerate(node.children)
             if (r := _kleene(c, leaf_of, drop, f"{path}.{node.op}[{i}]")) is not None]
    if not parts:
        return None
    t, p = parts[0]
    for t2, p2 in parts[1:]:
        t, p = (t & t2, p & p2) if node.op == "all" else (t | t2, p | p2)
    return t, p


def _reason_masks(node: Node, leaf_of, target: bool, acc: np.ndarray, path: str,
                  out: list) -> None:
    """Collect (path, negated, households) for leaves that explain the node having `target`.

    A leaf is a reason where every node on its path has its target value: under all: every child;
    under any: the children that hold; under not: the target flips (a negated leaf is a reason
    where it definitely does not hold).
    """
    if isinstance(node, Leaf):
        lv = leaf_of(path)
        ok = lv.true if target else ~lv.possible
        out.append((path, not target, acc & ok))
        return
    if node.op == "not":
        _reason_masks(node.children[0], leaf_of, not target, acc, f"{path}.not", out)
        return
    for i, c in enumerate(node.children):
        cpath = f"{path}.{node.op}[{i}]"
        t, p = _kleene(c, leaf_of, None, cpath)
        ok = t if target else ~p
        _reason_masks(c, leaf_of, target, acc & ok, cpath, out)


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return v


def _reasons(rule: Rule, leaf_of, match: np.ndarray, table: HouseholdTable) -> list[list[dict]]:
    """Reasons per matching household (in household order), built leaf by leaf."""
    collected: list = []
    _reason_masks(rule.criteria, leaf_of, True, match, "criteria", collected)
    match_pos = np.flatnonzero(match)
    slot = np.full(table.n, -1, dtype=np.int64)
    slot[match_pos] = np.arange(len(match_pos))
    per_household: list[list[dict]] = [[] for _ in range(len(match_pos))]
    by_path = {ref.path: ref for ref in rule.leaves()}
    for path, negated, mask in collected:
        pos = np.flatnonzero(mask)
        if len(pos) == 0:
            continue
        ref = by_path[path]
        crit = CATALOG[ref.leaf.criterion]
        lv = leaf_of(path)
        base = {"criterion": crit.name, "key": ("not " if negated else "") + crit.key(lv.params),
                "label": crit.label, "negated": negated, "path": path,
                "note": ref.note,
                "params": {k: _jsonable(v) for k, v in lv.params.items()},
                "sensitivity": list(crit.sensitivity_for(lv.params))}
        values = {} if negated else lv.result.explain(pos)
        names = list(values)
        rows = zip(*(values[k] for k in names)) if names else (() for _ in pos)
        for s, row in zip(slot[pos].tolist(), rows):
            per_household[s].append({**base, "values": dict(zip(names, row))})
    return per_household


def evaluate(rules: Iterable[Rule], table: HouseholdTable, consents: pd.DataFrame | None, *,
             only_effective: bool = True, reasons: bool = True,
             breakdown: bool = True) -> EvaluationResult:
    """Evaluate rules over every household of the table.

    consents: setai_no, notify, tax (household scopes; a household not listed holds none).
    only_effective: rules not effective on table.as_of produce no matches (counts row effective=False);
    pass False for a staff preview of a rule before its start date.
    """
    index = table.households.index
    taxed = scope(table, consents, "tax")
    notify = scope(table, consents, "notify")
    cache = _Cache(table, taxed)
    match_frames, ne_frames, count_rows, leaf_rows = [], [], [], []
    for rule in rules:
        effective = rule.is_effective(table.as_of)
        refs = {ref.path: ref for ref in rule.leaves()}
        try:
            leaves = {path: cache.get(ref.leaf) for path, ref in refs.items()}
        except ParamError as e:
            raise RuleError([f"{rule.source}: criteria: {e}"]) from e
        leaf_of = leaves.__getitem__
        true, possible = _kleene(rule.criteria, leaf_of)
        if not effective and only_effective:
            true = np.zeros(table.n, dtype=bool)
            possible = true
        unknown = possible & ~true
        count_rows.append({
            "rule_id": rule.id, "rule_hash": rule.content_hash, "effective": effective,
            "households": table.n, "matches": int(true.sum()),
            "not_evaluated_no_tax_consent": int(unknown.sum()),
            "matches_with_notify": int((true & notify).sum()),
            "matches_with_tax_consent": int((true & taxed).sum()),
            "sensitivity": list(rule.sensitivity),
        })
        pos = np.flatnonzero(true)
        match_frames.append(pd.DataFrame({
            "rule_id": rule.id, "rule_hash": rule.content_hash,
            "setai_no": index[pos].astype(str),
            "reasons": _reasons(rule, leaf_of, true, table) if reasons else [[] for _ in pos],
        }))
        ne_frames.append(pd.DataFrame({"rule_id": rule.id,
                                       "setai_no": index[np.flatnonzero(unknown)].astype(str)}))
        if breakdown:
            for path, ref in refs.items():
                lv = leaves[path]
                crit = CATALOG[ref.leaf.criterion]
                alt = _kleene(rule.criteria, leaf_of, drop=path)
                alt_true = np.ones(table.n, dtype=bool) if alt is None else alt[0]
                if not effective and only_effective:
                    alt_true = np.zeros(table.n, dtype=bool)
                leaf_rows.append({
                    "rule_id": rule.id, "path": path, "criterion": crit.name,
                    "key": ("not " if ref.negated else "") + crit.key(lv.params),
                    "label": crit.label, "description": crit.describe(lv.params),
                    "note": ref.note, "negated": ref.negated, "reads_tax": lv.reads_tax,
                    "sensitivity": list(crit.sensitivity_for(lv.params)),
                    "params": json.dumps(lv.params, ensure_ascii=False, sort_keys=True),
                    "criterion_holds": int(lv.true.sum()),
                    "passes": int((~lv.possible if ref.negated else lv.true).sum()),
                    "lost_if_dropped": int((true & ~alt_true).sum()),
                    "gained_if_dropped": int((alt_true & ~true).sum()),
                })
    count_cols = ["rule_id", "rule_hash", "effective", "households", "matches",
                  "not_evaluated_no_tax_consent", "matches_with_notify", "matches_with_tax_consent",
                  "sensitivity"]
    leaf_cols = ["rule_id", "path", "criterion", "key", "label", "description", "note", "negated",
                 "reads_tax", "sensitivity", "params", "criterion_holds", "passes", "lost_if_dropped",
                 "gained_if_dropped"]
    empty_matches = pd.DataFrame({"rule_id": pd.Series([], dtype="str"),
                                  "rule_hash": pd.Series([], dtype="str"),
                                  "setai_no": pd.Series([], dtype="str"),
                                  "reasons": pd.Series([], dtype=object)})
    return EvaluationResult(
        as_of=table.as_of,
        matches=pd.concat([empty_matches] + match_frames, ignore_index=True),
        counts=pd.DataFrame(count_rows, columns=count_cols).set_index("rule_id"),
        breakdown=pd.DataFrame(leaf_rows, columns=leaf_cols),
        not_evaluated=pd.concat([empty_matches[["rule_id", "setai_no"]]] + ne_frames,
                                ignore_index=True),
    )


def reason_text(reason: dict) -> str:
    """One reason as a Japanese line for staff: the criterion with its parameters and values."""
    crit = CATALOG[reason["criterion"]]
    text = crit.describe(reason["params"])
    if reason["negated"]:
        return "次に当てはまらない: " + text
    shown = "、".join(f"{crit.values.get(k, k)}: {_show(v)}" for k, v in reason["values"].items())
    return f"{text} → {shown}" if shown else text


def _show(v) -> str:
    if isinstance(v, list):
        return "・".join(str(x) for x in v) if v else "なし"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10_000:
        return f"{v:,}"
    return str(v)


def reasons_json(reasons: list[dict]) -> str:
    """Stable JSON text of one match's reasons, for storage."""
    return json.dumps(reasons, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
