"""The TOTP check: the steps around now, a used step refused as reused (not as wrong)."""
from __future__ import annotations

import pyotp

from notifier.auth import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_790_000_000.0
STEP = int(NOW // 30)


def code(step: int) -> str:
    return pyotp.TOTP(SECRET).generate_otp(step)


def test_it_accepts_the_current_and_the_neighbouring_steps():
    for step in (STEP - 1, STEP, STEP + 1):
        assert totp.check(SECRET, code(step), None, NOW) == totp.CodeCheck(step=step)
    assert totp.check(SECRET, code(STEP + 2), None, NOW) == totp.CodeCheck()


def test_a_code_of_a_used_step_is_reused_not_wrong():
    assert totp.check(SECRET, code(STEP), STEP, NOW) == totp.CodeCheck(reused=True)
    assert totp.check(SECRET, code(STEP - 1), STEP, NOW) == totp.CodeCheck(reused=True)
    assert totp.check(SECRET, code(STEP + 1), STEP, NOW) == totp.CodeCheck(step=STEP + 1)
    wrong = f"{(int(code(STEP)) + 1) % 1_000_000:06d}"
    assert totp.check(SECRET, wrong, STEP, NOW) == totp.CodeCheck()


def test_it_reads_only_six_digits():
    spaced = code(STEP)[:3] + " " + code(STEP)[3:]
    assert totp.check(SECRET, spaced, None, NOW).step == STEP
    assert totp.check(SECRET, "12345", None, NOW) == totp.CodeCheck()
    assert totp.check("", code(STEP), None, NOW) == totp.CodeCheck()
