"""The audit trail: written through one function, listed for auditors, never changed."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from notifier import audit
from notifier.models import AuditEvent
from notifier.models.audit import AuditImmutableError
from tests.factories import create_staff, sign_in


def test_it_records_a_view_of_a_record(app, db_session):
    user = create_staff(db_session, "tanaka", ["coordinator"])
    audit.record(db_session, "view_household", actor=audit.Actor.staff(user, "192.0.2.7"), target_type="household",
                 target_id="0001234")
    db_session.commit()
    row = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "view_household")).one()
    assert (row.actor, row.actor_id, row.target_type, row.target_id, row.ip) == \
        ("tanaka", user.id, "household", "0001234", "192.0.2.7")


def test_it_refuses_an_action_without_an_actor(db_session):
    with pytest.raises(TypeError):
        audit.record(db_session, "export")  # noqa - the actor is a required keyword


def test_a_command_is_recorded_as_its_operator(db_session):
    row = audit.record(db_session, "export", actor=audit.Actor.operator())
    assert row.actor.startswith("cli:") and len(row.actor) > len("cli:")


def test_it_refuses_unknown_actions(db_session):
    with pytest.raises(ValueError):
        audit.record(db_session, "made_up", actor="system")


def test_the_orm_refuses_to_change_or_delete_audit_rows(db_session):
    row = audit.record(db_session, "export", actor="system", detail={"file": "x.csv"})
    db_session.commit()
    row.action = "sign_in"
    with pytest.raises(AuditImmutableError):
        db_session.commit()
    db_session.rollback()
    db_session.delete(row)
    with pytest.raises(AuditImmutableError):
        db_session.commit()
    db_session.rollback()


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_the_database_refuses_to_change_or_delete_audit_rows(db_session, statement):
    audit.record(db_session, "export", actor="system")
    db_session.commit()
    stmt = update(AuditEvent).values(action="sign_in") if statement == "update" else delete(AuditEvent)
    with pytest.raises(DBAPIError, match="append-only"):
        db_session.execute(stmt)
    db_session.rollback()
    assert db_session.scalar(select(AuditEvent.action)) == "export"


def test_the_auditor_page_lists_and_filters(client, db_session):
    auditor = create_staff(db_session, "kansa", ["auditor"])
    audit.record(db_session, "export", actor="system", target_type="outreach", target_id="42")
    db_session.commit()
    sign_in(client, db_session, auditor)
    page = client.get("/audit/").get_data(as_text=True)
    assert "エクスポート" in page and "サインイン" in page
    page = client.get("/audit/?action=export").get_data(as_text=True)
    assert "outreach 42" in page and "kansa</td>" not in page
    page = client.get("/audit/?from=2026-13-01").get_data(as_text=True)
    assert "日付は 2026-04-01 の形で" in page
