"""The editor's names for the boxes of the criteria tree: unique, and numbered like the breakdown."""
from __future__ import annotations

from notifier.eligibility import editor
from notifier.eligibility.rules import load_rule_file


def _names(view, out=None):
    out = [] if out is None else out
    out.append((view["path"], view["label"], view["name"]))
    for child in view["children"]:
        _names(child, out)
    return out


def test_a_negated_condition_and_what_it_negates_have_different_names(rules_dir):
    rule = load_rule_file(rules_dir / "hitorioya.yaml")
    draft = editor.draft_from_rule(rule, 1)
    names = _names(editor.tree_view(draft.tree, {}))
    assert names[0] == ("0", "", "条件全体")
    assert ("0-2", "3", "条件 3（否定）") in names and ("0-2-0", "3", "条件 3 で否定する条件") in names
    assert ("0-1-0", "2-1", "条件 2-1") in names
    assert len({n for _p, _l, n in names}) == len(names)
