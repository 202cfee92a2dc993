"""ORM models, one module per part of the service; importing this package registers them all."""
from notifier.models.base import Base, utcnow
from notifier.models.accounts import Role, StaffUser, StaffRole
from notifier.models.audit import AuditEvent

__all__ = ["Base", "utcnow", "Role", "StaffUser", "StaffRole", "AuditEvent"]
