"""Opening a delivery's /r/ link: record the open (the time only) and say where to send the resident.

The redirect goes to the rule's application_url; where the form takes the online application ID
(オンライン申請ID), the URL says so with `{application_id}`, and it is filled with the latest ID of
the resident the delivery went to (online_shinsei). Without that placeholder the URL is used as is.
"""
from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from notifier import clock
from notifier.eligibility.rules import RuleError, rule_from_json
from notifier.models import Delivery, LinkOpen, RuleVersion
from notifier.models.sources import SOURCE_TABLES
from notifier.outbox.links import LinkInvalid, read_token

PLACEHOLDER = "{application_id}"


def application_id_of(session: Session, atena_no: str) -> str | None:
    shinsei = SOURCE_TABLES["online_shinsei"]
    return session.execute(select(shinsei.c.application_id).where(shinsei.c.atena_no == atena_no)
                           .order_by(shinsei.c.applied_at.desc()).limit(1)).scalar()


def open_link(session: Session, token: str, *, secret: str, max_age_days: int) -> str:
    """Record one open of the link and return the URL to redirect to; LinkInvalid if the token was
    altered, has expired (`expired`), or names no delivery."""
    retry_key = read_token(secret, token, max_age_days)
    row = session.execute(select(Delivery.id, Delivery.atena_no, Delivery.rule_version_id)
                          .where(Delivery.retry_key == retry_key)).first()
    if row is None:
        raise LinkInvalid()
    version = session.get(RuleVersion, row.rule_version_id)
    try:
        url = rule_from_json(version.definition, f"{version.rule_id}@v{version.version}").application_url
    except RuleError as exc:
        raise LinkInvalid() from exc
    now = clock.now()
    session.execute(insert(LinkOpen).values(delivery_id=row.id, opened_at=now))
    session.execute(update(Delivery).where(Delivery.id == row.id, Delivery.first_opened_at.is_(None))
                    .values(first_opened_at=now))
    if PLACEHOLDER in url:
        aid = application_id_of(session, row.atena_no)
        url = url.replace(PLACEHOLDER, quote(aid, safe="") if aid else "")
    return url
