"""Configuration: production refuses to start without SECRET_KEY; tests cannot reach LINE."""
from __future__ import annotations

import pytest

from notifier import create_app
from notifier.config import UNREACHABLE_LINE_BASE_URL, ConfigError, load


def test_it_refuses_production_without_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("NOTIFIER_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_it_starts_in_production_with_secret_key_and_secure_cookies(monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFIER_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/p.sqlite3")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_it_defaults_to_production_mode(monkeypatch):
    monkeypatch.delenv("NOTIFIER_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        load()


def test_the_test_config_points_line_at_an_unreachable_address():
    cfg = load(env={}, overrides={"ENV": "test"})
    assert cfg["LINE_API_BASE_URL"] == UNREACHABLE_LINE_BASE_URL
    assert cfg["SESSION_COOKIE_SECURE"] is False


def test_it_rejects_bad_quiet_hours():
    with pytest.raises(ConfigError, match="QUIET_HOURS"):
        load(env={"QUIET_HOURS": "soon"}, overrides={"ENV": "test"})
