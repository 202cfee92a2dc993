"""TOTP second factor (RFC 6238, 30-second steps) with replay protection."""
from __future__ import annotations

import base64
from dataclasses import dataclass

import pyotp
import segno

from notifier import clock

ISSUER = "プッシュ型支援通知"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The enrolment QR code as an inline SVG data URI (no external service, no JavaScript)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@dataclass(frozen=True)
class CodeCheck:
    """A code's verdict: `step` when it is accepted; `reused` when it is right but its step was used."""

    step: int | None = None
    reused: bool = False


def check(secret: str, code: str, last_step: int | None, now: float | None = None) -> CodeCheck:
    """Check a code against the steps around now (one step of clock drift either way).

    A code of a step at or before `last_step` was already used to sign in: it is refused as `reused`
    (not a wrong guess: the person has the right code and must wait for the next one).
    """
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6 or not secret:
        return CodeCheck()
    now = clock.timestamp() if now is None else now
    totp = pyotp.TOTP(secret)
    current = int(now // totp.interval)
    reused = False
    for step in (current - 1, current, current + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            if last_step is not None and step <= last_step:
                reused = True
                continue
            return CodeCheck(step=step)
    return CodeCheck(reused=reused)


def verify(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """Return the accepted time step, or None. A step already used (last_step) is refused."""
    return check(secret, code, last_step, now).step


def current_code(secret: str, now: float | None = None) -> str:
    """For the demo and tests: the code an authenticator app would show now."""
    return pyotp.TOTP(secret).at(clock.timestamp() if now is None else now)
