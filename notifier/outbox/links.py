"""The one-tap link of a delivery, `/r/<token>`: a signed, expiring token naming the delivery.

The token is `<retry key hex>.<timestamp>.<signature>` (itsdangerous' TimestampSigner, HMAC with the
app's SECRET_KEY and a salt of its own): it names the delivery by its retry key, so enqueue can render
each message before the rows are written (one bulk insert). It holds no resident number and no
household number. Pure: the time comes from notifier.clock.
"""
from __future__ import annotations

import uuid

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from notifier import clock

SALT = "notifier.outbox.link"


class LinkInvalid(Exception):
    """The token was altered, is not one of ours, or has expired (`expired`)."""

    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:  # the service's clock (frozen in tests and replays)
        return int(clock.timestamp())

    def derive_key(self, secret_key=None) -> bytes:
        # Derived once per signer, not once per token (tens of thousands at enqueue).
        if secret_key is not None:
            return super().derive_key(secret_key)
        if not hasattr(self, "_derived"):
            self._derived = super().derive_key()
        return self._derived


def _signer(secret: str) -> _Signer:
    if not secret:
        raise ValueError("a link signing key is required (SECRET_KEY)")
    return _Signer(secret, salt=SALT)


def make_tokens(secret: str, retry_keys) -> list[str]:
    """One token per retry key (UUID text), signed now."""
    signer = _signer(secret)
    return [signer.sign(uuid.UUID(k).hex).decode() for k in retry_keys]


def make_token(secret: str, retry_key: str) -> str:
    return make_tokens(secret, [retry_key])[0]


def read_token(secret: str, token: str, max_age_days: int) -> str:
    """The retry key (UUID text) a token names; LinkInvalid if altered or older than `max_age_days`."""
    signer = _signer(secret)
    try:
        value = signer.unsign(token, max_age=max_age_days * 86400)
    except SignatureExpired as exc:
        raise LinkInvalid(expired=True) from exc
    except (BadSignature, UnicodeError, ValueError) as exc:
        raise LinkInvalid() from exc
    try:
        return str(uuid.UUID(hex=value.decode("ascii")))
    except (ValueError, UnicodeError) as exc:
        raise LinkInvalid() from exc


def link_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/r/{token}"
