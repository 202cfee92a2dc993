"""Who holds a consent scope now, as SQL: the send-time check of the dispatcher.

The same rule as `consent.state.person_state` (the latest event per resident and scope is a grant;
ties on `occurred_at` are broken by the event id), in the form a loop over batches of a hundred
deliveries wants: one query, no pandas in the dispatcher's process. tests/consent/test_holders.py
holds the two forms to each other over generated histories.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from notifier.models import ConsentEvent


def holding(session: Session, atena_nos: Iterable[str], scope: str = "notify") -> set[str]:
    """The residents of `atena_nos` whose latest `scope` event is a grant. (For `tax`, person_state
    also requires notify; the dispatcher asks only for notify.)"""
    wanted = sorted(set(atena_nos))
    if not wanted:
        return set()
    later = aliased(ConsentEvent)
    newer = exists().where(later.atena_no == ConsentEvent.atena_no, later.scope == scope,
                           or_(later.occurred_at > ConsentEvent.occurred_at,
                               and_(later.occurred_at == ConsentEvent.occurred_at, later.id > ConsentEvent.id)))
    query = (select(ConsentEvent.atena_no).where(ConsentEvent.atena_no.in_(wanted), ConsentEvent.scope == scope,
                                                 ConsentEvent.action == "grant", ~newer))
    return set(session.scalars(query))
