"""Settings from environment variables (design.md "Configuration"), with safe defaults."""
from __future__ import annotations

import os
import secrets
from datetime import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_DIR = REPO_ROOT / "instance"

# The LINE base URL used under test: a reserved, unroutable address (RFC 5737), so a test that forgot
# to point the SDK at its local fake fails fast instead of reaching the real LINE.
UNREACHABLE_LINE_BASE_URL = "http://192.0.2.1:9"

ENVIRONMENTS = ("production", "development", "test")

# Signing sessions and CSRF tokens needs a key an attacker cannot brute-force (HMAC-SHA1/256: 32 bytes).
MIN_SECRET_KEY_BYTES = 32


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says which variable to set."""


def _parse_quiet_hours(value: str) -> tuple[time, time] | None:
    """"20:00-09:00" (JST; may wrap midnight) → (start, end); "off" → None (no quiet hours)."""
    if value.strip().lower() in ("off", "none", ""):
        return None
    start, _, end = value.replace("–", "-").partition("-")
    try:
        h1, m1 = (int(x) for x in start.strip().split(":"))
        h2, m2 = (int(x) for x in end.strip().split(":"))
        return time(h1, m1), time(h2, m2)
    except ValueError as exc:
        raise ConfigError(f"QUIET_HOURS must look like 20:00-09:00, got {value!r}") from exc


def parse_time_of_day(value: str, name: str) -> time:
    """HH:MM or HH:MM:SS (JST) → a time."""
    try:
        parts = [int(x) for x in value.strip().split(":")]
        if len(parts) not in (2, 3):
            raise ValueError(value)
        return time(*parts)
    except ValueError as exc:
        raise ConfigError(f"{name} must look like 06:30, got {value!r}") from exc


def _int(env: dict, name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


# The shipped rules' placeholder forms (eligibility_rules/): a city sets its own hosts.
DEFAULT_APPLICATION_URL_HOSTS = "apply.city.example.lg.jp"


def parse_hosts(value: str) -> tuple[str, ...]:
    """APPLICATION_URL_HOSTS="apply.city.lg.jp, www.city.lg.jp" → lower-case host names."""
    hosts = tuple(dict.fromkeys(h.strip().lower().rstrip(".") for h in value.split(",") if h.strip()))
    for host in hosts:
        if not host or "/" in host or ":" in host or "@" in host or " " in host:
            raise ConfigError(f"APPLICATION_URL_HOSTS: {host!r} is not a host name (write apply.city.lg.jp)")
    return hosts


def parse_source_max_age(value: str) -> dict[str, int]:
    """SOURCE_MAX_AGE_DAYS="shiminzei=400,hoiku=60" → the contract defaults with those overrides."""
    from notifier.contract import SOURCE_MAX_AGE_DAYS, SOURCES
    out = dict(SOURCE_MAX_AGE_DAYS)
    for item in filter(None, (x.strip() for x in value.split(","))):
        name, _, days = item.partition("=")
        name = name.strip()
        if name not in SOURCES:
            raise ConfigError(f"SOURCE_MAX_AGE_DAYS: unknown source {name!r} (known: {', '.join(SOURCES)})")
        try:
            out[name] = int(days)
        except ValueError as exc:
            raise ConfigError(f"SOURCE_MAX_AGE_DAYS: {name} needs a number of days, got {days!r}") from exc
        if out[name] < 1:
            raise ConfigError(f"SOURCE_MAX_AGE_DAYS: {name} must be at least 1 day")
    return out


def pseudonym_key_from(pseudonym_key: str, secret_key: str | None, mode: str) -> str:
    """The key of the partners' 仮名ID (outreach/masking.py): PSEUDONYM_KEY; without it, a key derived
    from an explicitly set SECRET_KEY (so rotating SECRET_KEY would change every 仮名ID: set PSEUDONYM_KEY
    in production); otherwise "" and exports refuse to run — a random key would give a partner new
    pseudonyms on every export."""
    import hashlib
    import hmac
    if pseudonym_key:
        if mode == "production" and len(pseudonym_key.encode()) < MIN_SECRET_KEY_BYTES:
            raise ConfigError(f"PSEUDONYM_KEY is {len(pseudonym_key.encode())} bytes: production needs at least "
                              f"{MIN_SECRET_KEY_BYTES}")
        return pseudonym_key
    if secret_key:
        return hmac.new(secret_key.encode(), b"notifier-pseudonym-key-v1", hashlib.sha256).hexdigest()
    return ""


def normalise_database_url(url: str) -> str:
    """`postgresql://` → the psycopg 3 driver we ship (SQLAlchemy would otherwise look for psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def load(env: dict[str, str] | None = None, overrides: dict | None = None, *, web: bool = True) -> dict:
    """Build the Flask config mapping from the environment, then apply overrides (tests).

    Only the web app signs sessions: batch commands (`web=False`) need no SECRET_KEY, even in production.
    """
    env = dict(os.environ if env is None else env)
    overrides = dict(overrides or {})
    mode = overrides.get("ENV") or env.get("NOTIFIER_ENV", "production")
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"NOTIFIER_ENV must be one of {', '.join(ENVIRONMENTS)}, got {mode!r}")

    secret = overrides.get("SECRET_KEY") or env.get("SECRET_KEY")
    if not secret:
        if mode == "production" and web:
            raise ConfigError(
                "SECRET_KEY is not set: refusing to start in production mode "
                "(set SECRET_KEY, or NOTIFIER_ENV=development for a local trial)")
        secret = secrets.token_hex(32)
    elif mode == "production" and web and len(secret.encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(
            f"SECRET_KEY is {len(secret.encode())} bytes: production needs at least {MIN_SECRET_KEY_BYTES} "
            "(for example: python3 -c 'import secrets; print(secrets.token_hex(32))')")

    max_body = _int(env, "MAX_CONTENT_LENGTH", 256 * 1024, 1024)
    pseudonym_key = pseudonym_key_from(env.get("PSEUDONYM_KEY", ""), overrides.get("SECRET_KEY") or env.get("SECRET_KEY"),
                                       mode)
    default_db = f"sqlite:///{INSTANCE_DIR / 'notifier.sqlite3'}"
    line_default = UNREACHABLE_LINE_BASE_URL if mode == "test" else ""
    config = {
        "ENV": mode,
        "SECRET_KEY": secret,
        "DATABASE_URL": normalise_database_url(env.get("DATABASE_URL") or default_db),
        "LINE_CHANNEL_SECRET": env.get("LINE_CHANNEL_SECRET", ""),
        "LINE_CHANNEL_ACCESS_TOKEN": env.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
        # Empty means LINE's own hosts (the SDK's default); tests and the simulator set a local URL.
        "LINE_API_BASE_URL": env.get("LINE_API_BASE_URL", line_default),
        "LINE_LOGIN_CHANNEL_ID": env.get("LINE_LOGIN_CHANNEL_ID", ""),
        # The resident consent page runs inside LINE: with a LIFF app id it loads LINE's SDK (on the
        # resident's phone; staff pages never load anything external).
        "LIFF_ID": env.get("LIFF_ID", ""),
        "LIFF_SDK_URL": env.get("LIFF_SDK_URL", "https://static.line-scdn.net/liff/edge/2/sdk.js"),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://localhost:5000"),
        # A notice's /r/ link works this many days; a broken or expired one offers the city's site.
        "LINK_TOKEN_DAYS": _int(env, "LINK_TOKEN_DAYS", 90, 1),
        "CITY_GENERAL_URL": env.get("CITY_GENERAL_URL", "https://www.city.example.lg.jp/"),
        "QUIET_HOURS": _parse_quiet_hours(env.get("QUIET_HOURS", "20:00-09:00")),
        "PUSH_RATE_PER_SECOND": float(env.get("PUSH_RATE_PER_SECOND", "100")),
        # A delivery `sending` for longer than this belongs to a dispatcher that died: the next run
        # takes it back (same retry key). Longer than one send can take (the client times out at 10 s).
        "DISPATCH_CLAIM_STALE_SECONDS": float(env.get("DISPATCH_CLAIM_STALE_SECONDS", "120")),
        # Sends in flight at once per dispatcher process (threads, and the HTTP connections to LINE).
        "DISPATCH_THREADS": _int(env, "DISPATCH_THREADS", 8, 1),
        # The channel's monthly message quota (LINE's plan), shown beside this month's use; empty = not shown.
        "LINE_MONTHLY_LIMIT": _int(env, "LINE_MONTHLY_LIMIT", 0, 0) or None,
        "SOURCE_MAX_AGE_DAYS": parse_source_max_age(env.get("SOURCE_MAX_AGE_DAYS", "")),
        # The daily job: the folder the city's systems drop their exports into (archive/ and rejected/
        # are made beside the files), an optional mapping file for their names, and when it runs (JST).
        "DAILY_DROP_DIR": env.get("DAILY_DROP_DIR", ""),
        "DAILY_MAPPING": env.get("DAILY_MAPPING", ""),
        "DAILY_AT": parse_time_of_day(env.get("DAILY_AT", "06:30"), "DAILY_AT"),
        "DISPATCH_EVERY_MINUTES": int(env.get("DISPATCH_EVERY_MINUTES", "5")),
        # How long a scheduler's / a daily run's lease lasts without renewal: a standby takes over
        # this long after the active one dies (renewed every third of it).
        "SCHEDULER_LEASE_SECONDS": float(env.get("SCHEDULER_LEASE_SECONDS", "30")),
        "DAILY_LEASE_SECONDS": float(env.get("DAILY_LEASE_SECONDS", "60")),
        "LOGIN_MAX_FAILURES": _int(env, "LOGIN_MAX_FAILURES", 5, 1),
        "LOGIN_LOCK_MINUTES": _int(env, "LOGIN_LOCK_MINUTES", 15, 1),
        # Server-side sessions (web/sessions.py): the cookie holds only a random id. A session ends after
        # SESSION_IDLE_MINUTES without a request and SESSION_MAX_HOURS after sign-in, whichever is first.
        "SESSION_IDLE_MINUTES": _int(env, "SESSION_IDLE_MINUTES", 30, 1),
        "SESSION_MAX_HOURS": _int(env, "SESSION_MAX_HOURS", 8, 1),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": mode == "production",
        "SESSION_COOKIE_NAME": "notifier_session",
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        # Request bodies: staff forms and LINE webhook bodies are small; anything larger is refused (413).
        "MAX_CONTENT_LENGTH": max_body,
        "MAX_FORM_MEMORY_SIZE": max_body,
        "MAX_FORM_PARTS": 2000,
        "WEBHOOK_MAX_EVENTS": _int(env, "WEBHOOK_MAX_EVENTS", 100, 1),
        # Behind a TLS-terminating reverse proxy: how many proxies' X-Forwarded-* headers to trust (0 = none).
        "PROXY_COUNT": _int(env, "PROXY_COUNT", 0, 0),
        # Strict-Transport-Security on HTTPS responses in production; 0 turns it off.
        "HSTS_MAX_AGE": _int(env, "HSTS_MAX_AGE", 365 * 24 * 3600 if mode == "production" else 0, 0),
        # Where a rule's application_url may point: https URLs on these hosts, or paths on this site.
        "APPLICATION_URL_HOSTS": parse_hosts(env.get("APPLICATION_URL_HOSTS", DEFAULT_APPLICATION_URL_HOSTS)),
        # Masked exports to partners (outreach/export.py): the 仮名ID key (see pseudonym_key_from) and
        # how many households one user may export in one JST day before the dashboard shows an alert.
        "PSEUDONYM_KEY": pseudonym_key,
        "BULK_EXPORT_ALERT_HOUSEHOLDS": _int(env, "BULK_EXPORT_ALERT_HOUSEHOLDS", 500, 1),
        "TESTING": mode == "test",
    }
    config.update(overrides)
    return config
