"""The database edge of 名寄せ: load the roster and residents, run the matcher, store the outcome."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from notifier import bulk, clock, residents
from notifier.ingest.load import load_source
from notifier.linkage.match import RESIDENT_COLUMNS, ROSTER_COLUMNS, LinkResult, link_roster
from notifier.models import LinkCandidate, LinkDecision, PupilLink


@dataclass
class LinkCounts:
    roster: int
    linked: int
    review: int
    unlinked: int
    by_method: dict[str, int]

    def as_dict(self) -> dict:
        return {"roster": self.roster, "linked": self.linked, "review": self.review,
                "unlinked": self.unlinked, "by_method": self.by_method}


def current_residents(engine: Engine, as_of: date, juminhyo: pd.DataFrame | None = None) -> pd.DataFrame:
    """The matcher's resident columns of the current residents on `as_of` (residents.current_mask)."""
    wanted = [*RESIDENT_COLUMNS, *residents.PERIOD_COLUMNS]
    res = load_source(engine, "juminhyo", wanted) if juminhyo is None else juminhyo[wanted]
    return res[residents.current_mask(res, as_of)].drop(columns=residents.PERIOD_COLUMNS)


def load_decisions(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(LinkDecision.pupil_id, LinkDecision.fingerprint, LinkDecision.decision,
                                   LinkDecision.atena_no, LinkDecision.decided_at, LinkDecision.id)).all()
    df = pd.DataFrame(rows, columns=["pupil_id", "fingerprint", "decision", "atena_no", "decided_at", "id"])
    return df.sort_values(["decided_at", "id"])


def run_linkage(engine: Engine, as_of: date, sources: dict[str, pd.DataFrame] | None = None,
                progress=None) -> tuple[LinkResult, LinkCounts]:
    """Link and store. `sources` may carry the gakureibo/juminhyo frames a batch already holds;
    `progress(label, done, total)` hears of each stage (the command's bar on a terminal)."""
    sources = sources or {}
    step = progress or (lambda label, done, total: None)
    step("学齢簿の読込", 0, 4)
    roster = sources["gakureibo"][ROSTER_COLUMNS] if "gakureibo" in sources \
        else load_source(engine, "gakureibo", ROSTER_COLUMNS)
    step("住民の読込", 1, 4)
    residents = current_residents(engine, as_of, sources.get("juminhyo"))
    step("照合", 2, 4)
    result = link_roster(roster, residents, load_decisions(engine), as_of=as_of)
    step("保存", 3, 4)
    store_result(engine, result)
    step("", 4, 4)
    links = result.links
    counts = LinkCounts(roster=len(links), linked=int((links["status"] == "linked").sum()),
                        review=int((links["status"] == "review").sum()),
                        unlinked=int((links["status"] == "unlinked").sum()),
                        by_method={k: int(v) for k, v in links.loc[links["status"] == "linked", "method"]
                                   .value_counts().items()})
    return result, counts


def store_result(engine: Engine, result: LinkResult) -> None:
    # One row per roster row: in bulk, as the source snapshots are (the ORM's per-value processing
    # cost more than the matching). linked_at as the text SQLAlchemy's DateTime reads back.
    now = clock.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    links = result.links[["pupil_id", "atena_no", "status", "method", "score", "fingerprint"]].assign(linked_at=now)
    with engine.begin() as conn:
        conn.execute(delete(LinkCandidate))
        conn.execute(delete(PupilLink))
        if len(links):
            bulk.insert_frame(conn, PupilLink.__table__.name, links)
        # Candidates are few (review rows only) and carry JSON evidence: the ORM's insert types it.
        if len(result.candidates):
            conn.execute(LinkCandidate.__table__.insert(), result.candidates.to_dict("records"))


def confirmed_links(engine: Engine) -> pd.DataFrame:
    """pupil_id → atena_no for linked roster rows (the input of the household table)."""
    from notifier import bulk
    with engine.connect() as conn:
        return bulk.read_frame(conn, PupilLink.__tablename__, ["pupil_id", "atena_no"], where="status = ?",
                               params=("linked",), nullable={"atena_no"})
