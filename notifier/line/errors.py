"""What a LINE call returns or raises, without importing line-bot-sdk (which is slow to import):
code that only handles the outcome of a call imports this module, not `client`."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SendResult:
    """LINE accepted a send (200, or 409: the same retry key was accepted before).

    A 200 means accepted, not delivered: LINE answers 200 for users who blocked the account.
    """

    status: int
    request_id: str | None = None
    accepted_request_id: str | None = None
    sent_messages: list[dict] = field(default_factory=list)
    outcome: str = "sent"

    @property
    def duplicate(self) -> bool:
        """True when LINE had already accepted this retry key (the answer was 409)."""
        return self.status == 409

    @property
    def line_request_id(self) -> str | None:
        """The id of the request that actually sent the messages."""
        return self.accepted_request_id or self.request_id


class LineError(Exception):
    """A LINE call failed, classified for the caller.

    permanent        never retry this send (bad payload, unknown user, bad token, ...)
    status           HTTP status, or None when no answer came (timeout, connection, client-side check)
    reason           LINE's message (no user ids or message bodies)
    quota_exhausted  429 "You have reached your monthly limit.": stop all sending and alert
    retry_after      seconds from a Retry-After header, when LINE sent one
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        status: int | None = None,
        quota_exhausted: bool = False,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.status = status
        self.quota_exhausted = quota_exhausted
        self.retry_after = retry_after
        self.request_id = request_id

    @property
    def temporary(self) -> bool:
        return not self.permanent

    def __repr__(self) -> str:
        return (
            f"LineError(status={self.status!r}, permanent={self.permanent!r}, "
            f"quota_exhausted={self.quota_exhausted!r}, reason={self.reason!r})"
        )
