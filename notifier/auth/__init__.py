"""Staff sign-in: argon2 passwords, a TOTP second factor, lock-out, and role checks."""
