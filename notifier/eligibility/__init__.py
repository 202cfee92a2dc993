"""Eligibility (該当判定): the criteria catalog, rules as data, and the engine that evaluates them.

    rules = load_rules("eligibility_rules")
    table = build_household_table(sources, links, as_of)
    result = evaluate(rules, table, consents)      # matches, counts, breakdown, not_evaluated
"""
from .catalog import CATALOG, SENSITIVITY_CLASSES, SENSITIVITY_LABELS, Criterion, catalog_declaration
from .engine import EvaluationResult, evaluate, reason_text, reasons_json
from .params import Param, ParamError
from .rules import (Followup, Group, Leaf, Rule, RuleError, diff_rules, load_rule_file, load_rules,
                    parse_rule, rule_from_json)

__all__ = [
    "CATALOG", "SENSITIVITY_CLASSES", "SENSITIVITY_LABELS", "Criterion", "Param", "ParamError",
    "catalog_declaration", "EvaluationResult", "evaluate", "reason_text", "reasons_json",
    "Followup", "Group", "Leaf", "Rule", "RuleError", "diff_rules", "load_rule_file", "load_rules",
    "parse_rule", "rule_from_json",
]
