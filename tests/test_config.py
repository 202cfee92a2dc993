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


def test_source_max_age_overrides_name_sources_and_days():
    from notifier.config import ConfigError, parse_source_max_age
    ages = parse_source_max_age("shiminzei=500, hoiku=60")
    assert ages["shiminzei"] == 500 and ages["hoiku"] == 60 and ages["juminhyo"] == 40
    for bad, words in (("nosuch=3", "unknown source"), ("hoiku=x", "number of days"), ("hoiku=0", "at least 1")):
        with pytest.raises(ConfigError, match=words):
            parse_source_max_age(bad)


def test_batch_commands_do_not_need_a_secret_key_in_production(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("NOTIFIER_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    app = create_app(web=False)              # what `notifier data import` and friends build
    assert app.config["ENV"] == "production" and "auth.login" not in app.view_functions
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()                          # the web app still refuses


def test_the_batch_commands_run_in_production_without_a_secret_key(tmp_path):
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(NOTIFIER_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3")
    notifier = os.path.join(os.path.dirname(sys.executable), "notifier")
    for args in (["db", "upgrade"], ["data", "status"]):
        proc = subprocess.run([notifier, *args], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (args, proc.stderr)
