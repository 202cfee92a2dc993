"""ORM models, one module per part of the service; importing this package registers them all."""
from notifier.models.base import Base, utcnow
from notifier.models.accounts import Role, StaffUser, StaffRole
from notifier.models.audit import AuditEvent
from notifier.models.consent import ConsentEvent, ConsentText
from notifier.models.line import LineAccount, LinkAttempt, WebhookEvent
from notifier.models.linkage import LinkCandidate, LinkDecision, PupilLink
from notifier.models.rules import EligibilityMatch, EligibilityRun, RuleVersion
from notifier.models.sources import SOURCE_TABLES, ImportRun, QuarantineRow

__all__ = ["Base", "utcnow", "Role", "StaffUser", "StaffRole", "AuditEvent", "SOURCE_TABLES", "ImportRun", "QuarantineRow", "PupilLink", "LinkCandidate", "LinkDecision",
           "ConsentEvent", "ConsentText", "LineAccount", "LinkAttempt", "WebhookEvent",
           "EligibilityMatch", "EligibilityRun", "RuleVersion"]
