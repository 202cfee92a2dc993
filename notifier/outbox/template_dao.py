"""Message template versions in the database (the edge of outbox/templates.py).

Like rules: versions are immutable, a load or an edit with new content adds a pending version, and a
version reaches residents only once a second person approved it; `--activate` approves at once as an
audited system action (installation). Every change is audited in the caller's transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from notifier import audit, clock, versioning
from notifier.models import MessageTemplateVersion
from notifier.outbox.templates import MessageTemplate, TemplateError, load_templates, template_from_json


class TemplateApprovalError(ValueError):
    """Japanese message for staff."""


@dataclass
class TemplateLoadOutcome:
    template_id: str
    version: int
    status: str        # new | unchanged
    active: bool


def dao_latest_version(session: Session, template_id: str) -> MessageTemplateVersion | None:
    return session.scalars(select(MessageTemplateVersion).where(MessageTemplateVersion.template_id == template_id)
                           .order_by(MessageTemplateVersion.version.desc()).limit(1)).first()


def dao_active_version(session: Session, template_id: str) -> MessageTemplateVersion | None:
    return session.scalars(select(MessageTemplateVersion).where(
        MessageTemplateVersion.template_id == template_id, MessageTemplateVersion.status == "active")).first()


def pending_versions(session: Session) -> list[MessageTemplateVersion]:
    return session.scalars(select(MessageTemplateVersion).where(MessageTemplateVersion.status == "pending")
                           .order_by(MessageTemplateVersion.created_at, MessageTemplateVersion.id)).all()


def active_templates(session: Session) -> dict[str, tuple[MessageTemplateVersion, MessageTemplate]]:
    """template_id → (active version row, its template), for every readable active version."""
    out = {}
    for row in session.scalars(select(MessageTemplateVersion).where(MessageTemplateVersion.status == "active")):
        try:
            out[row.template_id] = (row, template_from_json(row.definition, f"{row.template_id}@v{row.version}"))
        except (TemplateError, ValueError):
            continue  # an unreadable stored version never reaches a resident
    return out


def add_version(session: Session, template: MessageTemplate, *, actor,
                note: str | None = None) -> tuple[MessageTemplateVersion, bool]:
    """Store `template` as a new pending version unless the latest version has the same content."""
    latest = dao_latest_version(session, template.id)
    if latest is not None and latest.content_hash == template.content_hash:
        return latest, False
    session.execute(update(MessageTemplateVersion).where(MessageTemplateVersion.template_id == template.id,
                                                         MessageTemplateVersion.status == "pending")
                    .values(status="withdrawn", decided_at=clock.now()))
    row = MessageTemplateVersion(template_id=template.id, version=(latest.version + 1) if latest else 1,
                                 definition=template.canonical_json(), content_hash=template.content_hash,
                                 status="pending", created_by=audit.actor_label(actor), note=note)
    session.add(row)
    session.flush()
    audit.record(session, "template_change", actor=actor, target_type="template",
                 target_id=f"{template.id}@v{row.version}", detail={"hash": template.content_hash[:12], "note": note})
    return row, True


def approve(session: Session, version: MessageTemplateVersion, *, actor, system: bool = False) -> None:
    """Activate a pending version; the previous active version is superseded. A person cannot approve
    their own version (the two-person rule); `system` is the audited exception used by `load
    --activate` at installation (notifier.versioning)."""
    versioning.approve(session, version, key="template_id", error=TemplateApprovalError, action="template_approve", target_type="template",
                       actor=actor, system=system)


def reject(session: Session, version: MessageTemplateVersion, *, actor, note: str | None = None) -> None:
    versioning.reject(session, version, key="template_id", error=TemplateApprovalError, action="template_approve", target_type="template",
                      actor=actor, note=note)


def load_directory(session: Session, directory: Path, *, actor, activate: bool) -> list[TemplateLoadOutcome]:
    """Load every template file of a directory as versions (all files checked before any is stored)."""
    outcomes = []
    for template in load_templates(directory):
        row, new = add_version(session, template, actor=actor)
        if activate and row.status == "pending":
            approve(session, row, actor=actor, system=True)
        outcomes.append(TemplateLoadOutcome(template.id, row.version, "new" if new else "unchanged",
                                            row.status == "active"))
    return outcomes
