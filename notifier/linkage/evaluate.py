"""Score a link result against a generator's truth file (tests and `bench` use it; the service never does)."""
from __future__ import annotations

import pandas as pd


def confusion(links: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """links: pupil_id, atena_no, status; truth: 児童生徒番号, 宛名番号 (blank = no current resident), case."""
    t = truth.rename(columns={"児童生徒番号": "pupil_id", "宛名番号": "true_atena"})
    t["true_atena"] = t["true_atena"].fillna("").astype(str)
    m = t.merge(links, on="pupil_id", how="left")
    m["atena_no"] = m["atena_no"].fillna("").astype(str)
    auto = m["status"].eq("linked")
    linkable = m["true_atena"].ne("")
    correct = auto & m["atena_no"].eq(m["true_atena"])
    out = {
        "roster": int(len(m)), "linkable": int(linkable.sum()), "not_linkable": int((~linkable).sum()),
        "auto_linked": int(auto.sum()), "auto_correct": int(correct.sum()),
        "auto_wrong": int((auto & ~correct).sum()),
        "auto_linked_not_linkable": int((auto & ~linkable).sum()),
        "review": int(m["status"].eq("review").sum()),
        "review_linkable": int((m["status"].eq("review") & linkable).sum()),
        "unlinked_linkable": int((m["status"].eq("unlinked") & linkable).sum()),
        "unlinked_not_linkable": int((m["status"].eq("unlinked") & ~linkable).sum()),
    }
    out["precision"] = round(out["auto_correct"] / out["auto_linked"], 5) if out["auto_linked"] else 1.0
    out["recall_auto"] = round(out["auto_correct"] / out["linkable"], 5) if out["linkable"] else 1.0
    by_case = m.assign(outcome=m["status"].where(~(auto & ~correct), "wrong"))
    out["by_case"] = {case: grp["outcome"].value_counts().to_dict() for case, grp in by_case.groupby("case")}
    return out
