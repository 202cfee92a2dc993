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


def test_production_refuses_a_short_secret_key_for_the_web_app_only(monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFIER_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/s.sqlite3")
    monkeypatch.setenv("SECRET_KEY", "x" * 31)
    with pytest.raises(ConfigError, match="31 bytes: production needs at least 32"):
        create_app()
    assert create_app(web=False).config["ENV"] == "production"     # batch commands sign nothing
    monkeypatch.setenv("SECRET_KEY", "鍵" * 11)                    # 33 bytes in UTF-8
    assert create_app().config["SECRET_KEY"] == "鍵" * 11
    monkeypatch.setenv("NOTIFIER_ENV", "development")
    monkeypatch.setenv("SECRET_KEY", "short")
    assert create_app().config["SECRET_KEY"] == "short"            # a local trial may use anything


def _production_app(monkeypatch, tmp_path, **env):
    monkeypatch.setenv("NOTIFIER_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/h.sqlite3")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return create_app()


def test_hsts_is_sent_in_production_over_https_only(monkeypatch, tmp_path):
    from notifier import migrate
    migrate.upgrade(f"sqlite:///{tmp_path}/h.sqlite3")
    app = _production_app(monkeypatch, tmp_path, PROXY_COUNT="1")
    client = app.test_client()
    behind_tls = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert behind_tls.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/login").headers            # plain http
    # Without PROXY_COUNT the app does not believe X-Forwarded-Proto: no HSTS on what is really http.
    app = _production_app(monkeypatch, tmp_path, PROXY_COUNT="0")
    resp = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in resp.headers
    # Direct TLS (no proxy) counts too, and the max-age is configurable; 0 turns it off.
    app = _production_app(monkeypatch, tmp_path, HSTS_MAX_AGE="600")
    resp = app.test_client().get("/login", base_url="https://localhost")
    assert resp.headers["Strict-Transport-Security"] == "max-age=600"
    app = _production_app(monkeypatch, tmp_path, HSTS_MAX_AGE="0")
    assert "Strict-Transport-Security" not in app.test_client().get("/login", base_url="https://localhost").headers


def test_no_hsts_outside_production(app):
    resp = app.test_client().get("/login", base_url="https://localhost")
    assert "Strict-Transport-Security" not in resp.headers


def test_application_url_hosts_are_host_names():
    assert load(env={"APPLICATION_URL_HOSTS": " Apply.City.lg.jp, www.city.lg.jp. "},
                overrides={"ENV": "test"})["APPLICATION_URL_HOSTS"] == ("apply.city.lg.jp", "www.city.lg.jp")
    for bad in ("https://apply.city.lg.jp", "apply.city.lg.jp:443", "a b"):
        with pytest.raises(ConfigError, match="APPLICATION_URL_HOSTS"):
            load(env={"APPLICATION_URL_HOSTS": bad}, overrides={"ENV": "test"})


def test_the_pseudonym_key_is_set_derived_from_an_explicit_secret_key_or_absent():
    base = {"NOTIFIER_ENV": "development"}
    assert load({**base, "PSEUDONYM_KEY": "p" * 40}, web=False)["PSEUDONYM_KEY"] == "p" * 40
    derived = load({**base, "SECRET_KEY": "s" * 40}, web=False)["PSEUDONYM_KEY"]
    assert derived and derived != "s" * 40 and derived == load({**base, "SECRET_KEY": "s" * 40})["PSEUDONYM_KEY"]
    # no key given: none (never a random one, which would change every partner's pseudonyms per run)
    assert load(base, web=False)["PSEUDONYM_KEY"] == ""
    with pytest.raises(ConfigError, match="PSEUDONYM_KEY"):
        load({"NOTIFIER_ENV": "production", "PSEUDONYM_KEY": "short"}, web=False)
    assert load(base)["BULK_EXPORT_ALERT_HOUSEHOLDS"] == 500
    assert load({**base, "BULK_EXPORT_ALERT_HOUSEHOLDS": "20"})["BULK_EXPORT_ALERT_HOUSEHOLDS"] == 20


def test_daily_runs_at_0630_jst_and_dispatch_every_few_minutes_by_default():
    import datetime as dt

    from sqlalchemy import create_engine

    from notifier import clock
    from notifier.jobs.scheduler import _scheduler
    cfg = load(env={}, overrides={"ENV": "test"})
    assert cfg["DAILY_AT"] == dt.time(6, 30)
    assert cfg["DISPATCH_EVERY_MINUTES"] == 5
    # The scheduler reads DAILY_AT as JST: 06:30 JST is 21:30 UTC the day before.
    sched = _scheduler(create_engine("sqlite://"), cfg)          # built, not started: no job store written
    daily = sched.get_job("daily").trigger.get_next_fire_time(None, dt.datetime(2026, 11, 1, tzinfo=clock.JST))
    assert daily.utcoffset() == dt.timedelta(hours=9)
    assert daily.astimezone(dt.UTC).replace(tzinfo=None) == dt.datetime(2026, 10, 31, 21, 30)
    assert sched.get_job("dispatch").trigger.interval == dt.timedelta(minutes=5)
    assert load(env={"DAILY_AT": "07:15"}, overrides={"ENV": "test"})["DAILY_AT"] == dt.time(7, 15)
