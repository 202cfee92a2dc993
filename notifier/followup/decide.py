"""What follow-up does on business date D (pure: frames in, frames out).

For each notice that reached LINE (kind notice, first sent on `sent_on`):
- **responded** when its household shows a response for the rule (an online application with the
  rule's procedure code on or after the send, or the service received on the send or any day since,
  which includes a service already in use when the notice went out): nothing more happens;
- else, `reminder_days` after the send: **one** reminder, unless the household no longer holds
  `notify` (a withdrawal stops reminders) or no longer lives in the city;
- else, `nonresponder_days` after the send: an **outreach case**, even after a withdrawal (the 要対協
  check is not consent-based; the case notes it), never for a household that moved out, never a
  second open case for the same household and rule, never twice for one notice.
Open cases close by themselves: the household moved out → 転出; it responded → 申請につながった.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from notifier.vector import isin


@dataclass
class Decisions:
    responded: pd.Index          # notice ids
    remind: pd.Index             # notice ids to remind
    open_cases: pd.DataFrame     # notice_id, setai_no, rule_id, rule_version_id, reminder_notice_id, withdrawn
    close_cases: pd.DataFrame    # case_id, outcome


def decide(notices: pd.DataFrame, responses: pd.DataFrame, open_cases: pd.DataFrame, *, day: date,
           current: set, notify: set, reminded: dict, cased_notices: set) -> Decisions:
    """`notices`: id, setai_no, rule_id, rule_version_id, sent_on (date), reminder_days, nonresponder_days.
    `responses`: setai_no, rule_id, responded_on (date; a service: the last day up to `day` it was in use).
    `open_cases`: case_id, setai_no, rule_id, notice_sent_on. `current`: households living in the city
    on `day`; `notify`: households holding notify; `reminded`: notice id → its reminder's notice id;
    `cased_notices`: notices that already have a case (open or closed)."""
    n = notices.copy()
    if len(n):
        first_response = (responses.groupby(["setai_no", "rule_id"])["responded_on"].max()
                          if len(responses) else pd.Series(dtype=object))
        key = pd.MultiIndex.from_frame(n[["setai_no", "rule_id"]])
        last = pd.Series(first_response.reindex(key).to_numpy(), index=n.index)
        n["responded"] = last.notna() & (pd.to_datetime(last) >= pd.to_datetime(n["sent_on"]))
        n["days"] = (pd.Timestamp(day) - pd.to_datetime(n["sent_on"])).dt.days
        n["current"] = isin(n["setai_no"], current)
        n["notify"] = isin(n["setai_no"], notify)
        n["reminded"] = n["id"].isin(list(reminded))
    else:
        n = n.assign(responded=False, days=0, current=False, notify=False, reminded=False)
    waiting = n[~n["responded"] & n["current"]]
    remind = waiting[(waiting["days"] >= waiting["reminder_days"]) & waiting["notify"] & ~waiting["reminded"]
                     & (waiting["days"] < waiting["nonresponder_days"])]
    due = waiting[(waiting["days"] >= waiting["nonresponder_days"]) & ~waiting["id"].isin(list(cased_notices))]
    busy = set(zip(open_cases["setai_no"], open_cases["rule_id"], strict=True)) if len(open_cases) else set()
    free = np.array([pair not in busy for pair in zip(due["setai_no"], due["rule_id"], strict=True)], dtype=bool)
    due = due[free] if len(due) else due
    due = due.sort_values("sent_on").drop_duplicates(["setai_no", "rule_id"], keep="last")
    new_cases = pd.DataFrame({
        "notice_id": due["id"].to_numpy(), "setai_no": due["setai_no"].to_numpy(), "rule_id": due["rule_id"].to_numpy(),
        "rule_version_id": due["rule_version_id"].to_numpy(),
        "reminder_notice_id": [reminded.get(int(i)) for i in due["id"]],
        "withdrawn": (~due["notify"]).to_numpy()})

    closes = []
    if len(open_cases):
        oc = open_cases
        moved = ~isin(oc["setai_no"], current)
        if len(responses):
            r = responses.groupby(["setai_no", "rule_id"])["responded_on"].max()
            got = pd.Series(r.reindex(pd.MultiIndex.from_frame(oc[["setai_no", "rule_id"]])).to_numpy(), index=oc.index)
            answered = got.notna() & (pd.to_datetime(got) >= pd.to_datetime(oc["notice_sent_on"]))
        else:
            answered = pd.Series(False, index=oc.index)
        closes.append(pd.DataFrame({"case_id": oc.loc[moved, "case_id"], "outcome": "転出"}))
        closes.append(pd.DataFrame({"case_id": oc.loc[~moved & answered, "case_id"], "outcome": "申請につながった"}))
    close = pd.concat(closes, ignore_index=True) if closes else pd.DataFrame(columns=["case_id", "outcome"])
    return Decisions(responded=pd.Index(n.loc[n["responded"], "id"]), remind=pd.Index(remind["id"]),
                     open_cases=new_cases, close_cases=close)
