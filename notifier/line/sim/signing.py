"""Signatures and ids the simulator produces the way LINE does.

Webhook bodies are signed like LINE (base64 HMAC-SHA256 of the raw body with the channel secret);
ID tokens are small HS256 JWTs that only the simulator itself ever verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def sign_body(channel_secret: str, body: bytes) -> str:
    """The X-Line-Signature value for a raw webhook body."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def ulid(timestamp_ms: int | None = None) -> str:
    """A ULID (48-bit millisecond time + 80 random bits, Crockford base32), like webhookEventId."""
    ms = int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms)
    value = ((ms & ((1 << 48) - 1)) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def line_user_id() -> str:
    """A user id in LINE's format, U + 32 hex digits."""
    return "U" + secrets.token_hex(16)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_id_token(key: bytes, claims: dict) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = _b64url(hmac.new(key, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def decode_id_token(key: bytes, token: str) -> dict | None:
    """Claims if the token is well-formed and signed with `key`, else None (no exp/aud checks)."""
    try:
        header, payload, signature = token.split(".")
        expected = _b64url(hmac.new(key, f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            return None
        claims = json.loads(_b64url_decode(payload))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None
