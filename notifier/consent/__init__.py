"""Consent (同意): versioned texts, append-only grants and withdrawals, and the derived state."""
