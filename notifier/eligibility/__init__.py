"""Eligibility (該当判定): the criteria catalog, rules as data, and the engine that evaluates them.

    rules = rules.load_rules("eligibility_rules")
    table = households.build_household_table(sources, links, as_of)
    result = engine.evaluate(rules, table, consents)   # matches, counts, breakdown, not_evaluated

Pure core: `catalog`, `params`, `rules`, `engine`, `cases`, `editor`. Database edge: `dao`, `run`,
`preview`. Commands: `cli`.
"""
