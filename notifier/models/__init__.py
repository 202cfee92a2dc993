"""ORM models, one module per part of the service; importing this package registers them all."""
from notifier.models.accounts import StaffRole, StaffUser, WebSession
from notifier.models.audit import AuditEvent
from notifier.models.base import Base
from notifier.models.consent import ConsentEvent, ConsentImportRow, ConsentText
from notifier.models.jobs import APSCHEDULER_JOBS, JobRun, Lease
from notifier.models.line import LineAccount, LinkAttempt, WebhookEvent
from notifier.models.linkage import LinkCandidate, LinkDecision, PupilLink
from notifier.models.outbox import Delivery, LinkOpen, MessageTemplateVersion, Notice, OutboxAlert, SendRate
from notifier.models.outreach import OutreachCase, OutreachCaseEvent, PriorityScheme
from notifier.models.rules import EligibilityMatch, EligibilityRun, RuleVersion
from notifier.models.sources import SOURCE_TABLES, ImportRun, QuarantineRow

__all__ = ["Base", "StaffUser", "StaffRole", "WebSession", "AuditEvent", "SOURCE_TABLES", "ImportRun", "QuarantineRow", "PupilLink", "LinkCandidate", "LinkDecision",
           "ConsentEvent", "ConsentImportRow", "ConsentText", "LineAccount", "LinkAttempt", "WebhookEvent",
           "EligibilityMatch", "EligibilityRun", "RuleVersion", "JobRun", "Lease", "APSCHEDULER_JOBS",
           "Notice", "Delivery", "LinkOpen", "MessageTemplateVersion", "SendRate", "OutboxAlert", "OutreachCase", "OutreachCaseEvent", "PriorityScheme"]
