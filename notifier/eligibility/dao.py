"""The rules database and eligibility runs (the database edge of the eligibility engine).

Rule versions are immutable: a load or an edit with new content adds a version that waits for a
second person's approval; `--activate` approves at once as an audited system action.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier import audit, clock, versioning
from notifier.eligibility.rules import Rule, RuleError, load_rules, rule_from_json
from notifier.models import EligibilityMatch, EligibilityRun, RuleVersion


class RuleApprovalError(ValueError):
    """Japanese message for staff."""


@dataclass
class LoadOutcome:
    rule_id: str
    version: int
    status: str        # new | unchanged
    active: bool


def dao_latest_version(session: Session, rule_id: str) -> RuleVersion | None:
    return session.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id)
                           .order_by(RuleVersion.version.desc()).limit(1)).first()


def dao_active_version(session: Session, rule_id: str) -> RuleVersion | None:
    return session.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id,
                                                     RuleVersion.status == "active")).first()


def versions_of(session: Session, rule_id: str) -> list[RuleVersion]:
    return session.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id)
                           .order_by(RuleVersion.version)).all()


def all_versions(session: Session) -> list[RuleVersion]:
    return session.scalars(select(RuleVersion).order_by(RuleVersion.rule_id, RuleVersion.version)).all()


def version_by_number(session: Session, rule_id: str, n: int) -> RuleVersion | None:
    return session.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id,
                                                     RuleVersion.version == n)).first()


def pending_version(session: Session, rule_id: str) -> RuleVersion | None:
    return session.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id,
                                                     RuleVersion.status == "pending")
                           .order_by(RuleVersion.version.desc())).first()


def pending_versions(session: Session) -> list[RuleVersion]:
    return session.scalars(select(RuleVersion).where(RuleVersion.status == "pending")
                           .order_by(RuleVersion.created_at, RuleVersion.id)).all()


def active_pair(session: Session, rule_id: str) -> tuple[RuleVersion, Rule] | None:
    """The active version of a rule with its definition, or None (none active, or no longer readable)."""
    row = dao_active_version(session, rule_id)
    if row is None:
        return None
    try:
        return row, rule_from_json(row.definition, f"{row.rule_id}@v{row.version}")
    except RuleError:
        return None


def add_version(session: Session, rule: Rule, *, actor, note: str | None = None) -> tuple[RuleVersion, bool]:
    """Store `rule` as a new pending version unless the latest version has the same content."""
    latest = dao_latest_version(session, rule.id)
    if latest is not None and latest.content_hash == rule.content_hash:
        return latest, False
    # An older pending draft is replaced by this one (it can no longer be approved).
    session.execute(update(RuleVersion).where(RuleVersion.rule_id == rule.id, RuleVersion.status == "pending")
                    .values(status="withdrawn", decided_at=clock.now()))
    label = audit.actor_label(actor)
    row = RuleVersion(rule_id=rule.id, version=(latest.version + 1) if latest else 1, name=rule.name,
                      definition=rule.canonical_json(), content_hash=rule.content_hash, status="pending",
                      created_by=label, note=note)
    session.add(row)
    session.flush()
    audit.record(session, "rule_change", actor=actor, target_type="rule", target_id=f"{rule.id}@v{row.version}",
                 detail={"hash": rule.content_hash[:12], "note": note})
    return row, True


def approve(session: Session, version: RuleVersion, *, actor, system: bool = False) -> None:
    """Activate a pending version; the previous active version is superseded. A person cannot approve
    their own version (the two-person rule); `system` is the audited exception used by `load
    --activate` at installation (notifier.versioning)."""
    versioning.approve(session, version, key="rule_id", error=RuleApprovalError, action="rule_approve", target_type="rule",
                       actor=actor, system=system)


def reject(session: Session, version: RuleVersion, *, actor, note: str | None = None) -> None:
    versioning.reject(session, version, key="rule_id", error=RuleApprovalError, action="rule_approve", target_type="rule",
                      actor=actor, note=note)


def load_directory(session: Session, directory: Path, *, actor, activate: bool, url_hosts) -> list[LoadOutcome]:
    """Load every rule file of a directory as versions; `url_hosts`: APPLICATION_URL_HOSTS."""
    outcomes = []
    for rule in load_rules(directory, url_hosts=url_hosts):
        row, new = add_version(session, rule, actor=actor)
        if activate and row.status == "pending":
            approve(session, row, actor=actor, system=True)
        outcomes.append(LoadOutcome(rule.id, row.version, "new" if new else "unchanged", row.status == "active"))
    return outcomes


def active_rules(session: Session) -> list[tuple[RuleVersion, Rule]]:
    rows = session.scalars(select(RuleVersion).where(RuleVersion.status == "active")
                           .order_by(RuleVersion.rule_id)).all()
    return [(row, rule_from_json(row.definition, f"{row.rule_id}@v{row.version}")) for row in rows]


def store_run(engine: Engine, as_of: date, households: int, result, versions: dict[str, int],
              actor, summary: dict) -> int:
    """Write the run (with its per-rule summary: counts, or why a rule was not evaluated) and all
    its matches in one transaction (bulk insert)."""
    with engine.begin() as conn:
        run_id = conn.execute(insert(EligibilityRun).values(
            as_of=as_of, households=households, summary=json.loads(json.dumps(summary, default=str)),
            actor=audit.actor_label(actor), started_at=clock.now(), finished_at=clock.now()).returning(EligibilityRun.id)).scalar_one()
        m = result.matches
        if len(m):
            import pandas as pd  # only storing a run needs pandas; `rules load` starts faster without it

            from notifier import bulk
            rows = pd.DataFrame({"run_id": run_id, "rule_id": m["rule_id"].to_numpy(),
                                 "rule_version_id": m["rule_id"].map(versions).to_numpy(),
                                 "setai_no": m["setai_no"].to_numpy(),
                                 "reasons": [json.dumps(r, ensure_ascii=False, separators=(",", ":"))
                                             for r in m["reasons"]]})
            bulk.insert_frame(conn, EligibilityMatch.__table__.name, rows)
    return run_id


def latest_run(session: Session) -> EligibilityRun | None:
    return session.scalars(select(EligibilityRun).order_by(EligibilityRun.id.desc()).limit(1)).first()


def rule_names(session: Session) -> dict[str, str]:
    """rule_id → the name of its latest version (for pages that list rules by id)."""
    rows = session.execute(select(RuleVersion.rule_id, RuleVersion.name).order_by(RuleVersion.version)).all()
    return {rule_id: name for rule_id, name in rows}
