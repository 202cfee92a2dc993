"""名寄せ results: the current link of each roster row, review candidates, and staff decisions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from notifier import clock
from notifier.models.base import Base


class PupilLink(Base):
    """The outcome for one 学齢簿 row in the latest `link run` (replaced by each run)."""
    __tablename__ = "pupil_links"
    __table_args__ = (Index("ix_pupil_links_atena_no", "atena_no"), Index("ix_pupil_links_status", "status"))

    pupil_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    atena_no: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))      # linked | review | unlinked
    method: Mapped[str] = mapped_column(String(32))      # exact | loose_kana | scored | manual | none
    score: Mapped[float | None] = mapped_column(Float)
    fingerprint: Mapped[str] = mapped_column(String(64))  # hash of the roster row's matching fields
    linked_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class LinkCandidate(Base):
    """A resident the scorer proposes for a roster row in the review queue (候補)."""
    __tablename__ = "link_candidates"
    __table_args__ = (Index("ix_link_candidates_pupil", "pupil_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[str] = mapped_column(String(32))
    atena_no: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[dict | None] = mapped_column(JSON)


class LinkDecision(Base):
    """A staff decision on a roster row (confirm / reject / none), kept as history.

    The latest decision for (pupil_id, fingerprint) applies while the roster row is unchanged.
    """
    __tablename__ = "link_decisions"
    __table_args__ = (Index("ix_link_decisions_pupil", "pupil_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))    # confirm | reject | none
    atena_no: Mapped[str | None] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    reason: Mapped[str | None] = mapped_column(Text)      # why an earlier decision was changed
