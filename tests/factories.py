"""Factories that build rows the way the application does (through its own service functions)."""
from __future__ import annotations

import re
import time

import pyotp

from notifier import clock
from notifier.auth.service import create_user
from notifier.models import StaffUser

PASSWORD = "correct-horse-battery"


def create_staff(session, username: str, roles: list[str], *, enrolled: bool = True, **kw) -> StaffUser:
    user = create_user(session, username=username, password=PASSWORD, roles=roles,
                       organisation=kw.pop("organisation", "和泉市立第一小学校" if "caseworker" in roles else None),
                       **kw)
    if enrolled:
        user.totp_secret = pyotp.random_base32()
        user.totp_enrolled_at = clock.now()
    session.commit()
    return user


def next_totp_code(session, user: StaffUser) -> str:
    """A code the server will still accept when it checks it, a moment (seconds, on a loaded machine)
    after this returns. The server accepts the steps around now and refuses reused ones; the current
    step or the next stays acceptable until the clock moves on twice, so a page that is slow to submit
    does not cross a boundary into a refusal. When both are used, wait for the next step."""
    session.refresh(user)
    totp = pyotp.TOTP(user.totp_secret)
    while True:
        current = int(time.time() // totp.interval)
        for step in (current, current + 1):
            if user.totp_last_step is None or step > user.totp_last_step:
                return totp.generate_otp(step)
        time.sleep((current + 1) * totp.interval - time.time() + 0.05)


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, session, user: StaffUser, password: str = PASSWORD):
    token = csrf_token(client, "/login")
    resp = client.post("/login", data={"username": user.username, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    token = csrf_token(client, "/login/totp")
    resp = client.post("/login/totp", data={"code": next_totp_code(session, user), "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/"), resp.status_code
    return client


# --- source data through the real importer -----------------------------------------------------
RESIDENT_DEFAULTS = {"氏名": "和泉 花子", "氏名カナ": "イズミ ハナコ", "生年月日": "1985-04-01", "性別": "2",
                     "続柄": "世帯主", "住所コード": "272191000101", "住所": "和泉市府中町1丁目1-1"}


def write_source_csv(directory, source: str, rows: list[dict], encoding: str = "utf-8") -> None:
    """Write rows (Japanese headers, as a city would export them) as DIR/<source>.csv."""
    import csv
    from pathlib import Path

    from notifier.contract import SOURCES
    headers = [c.header for c in SOURCES[source].columns]
    if source == "juminhyo":
        rows = [{**RESIDENT_DEFAULTS, **r} for r in rows]
    path = Path(directory) / SOURCES[source].file
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=headers, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({h: row.get(h, "") for h in headers})


def import_sources(app, directory, sources: dict[str, list[dict]], *, complete: bool = False):
    """Write and import the given sources; returns the import summary (asserts nothing was rejected).

    complete=True: every other contract source is imported too, as a file with no rows (a city that
    sends all its exports, some of them empty), so rules reading those sources are evaluated.
    """
    from pathlib import Path

    from notifier.contract import SOURCES
    from notifier.ingest.importer import import_directory
    from notifier.ingest.mapping import Mapping
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if complete:
        sources = {name: [] for name in SOURCES} | dict(sources)
    for name, rows in sources.items():
        write_source_csv(directory, name, rows)
    summary = import_directory(app.extensions["db_engine"], directory, Mapping(), actor="test")
    assert not summary.failed, summary.as_dict()
    return summary


# --- household tables from compact rows (pure tests) ---------------------------------------------
def household_table(as_of, links=(), **rows):
    """build_household_table over sources given as rows with the loader's dtypes; juminhyo rows
    default setai_no 'H1', relation 世帯主, sex 1 and a plausible name/address."""
    import pandas as pd

    from notifier.households import build_household_table, empty_sources, source_frame
    sources = empty_sources()
    for name, rs in rows.items():
        rs = [dict(r) for r in rs]
        if name == "juminhyo":
            for r in rs:
                r.setdefault("setai_no", "H1")
                r.setdefault("relation", "世帯主")
                r.setdefault("sex", 1)
                r.setdefault("name", "試験")
                r.setdefault("name_kana", "シケン")
                r.setdefault("address_code", "272190000001")
        sources[name] = source_frame(name, rs)
    link_df = pd.DataFrame(list(links), columns=["pupil_id", "atena_no"]).astype("str")
    return build_household_table(sources, link_df, as_of)


# --- the outbox -----------------------------------------------------------------------------------
def notifiable_households(app, directory, n: int, *, start: int = 1) -> list[str]:
    """n households of one resident each (宛名番号 8NNNNNN1, 世帯番号 8NNNNN), each resident with a
    linked, following LINE account holding `notify` (bulk rows, as the webhook would leave them).
    Returns the 世帯番号."""
    import numpy as np
    import pandas as pd

    from notifier import bulk, clock
    from notifier.models import ConsentEvent, LineAccount
    nums = np.arange(start, start + n)
    setai = [f"8{i:06d}" for i in nums]
    atena = [f"8{i:06d}1" for i in nums]
    import_sources(app, directory, {"juminhyo": [{"宛名番号": a, "世帯番号": s} for a, s in zip(atena, setai)]})
    now = pd.Timestamp(clock.now())
    engine = app.extensions["db_engine"]
    with engine.begin() as conn:
        accounts = pd.DataFrame({"line_user_id": [f"U{i:032x}" for i in nums], "atena_no": atena,
                                 "linked_at": now, "link_channel": "LINE", "reachable": True,
                                 "followed_at": now, "created_at": now})
        bulk.insert_frame(conn, LineAccount.__table__.name,
                          bulk.iso_dates(accounts, {"linked_at", "followed_at", "created_at"}))
        events = pd.DataFrame({"atena_no": atena, "setai_no": setai, "scope": "notify", "action": "grant",
                               "channel": "LINE", "occurred_at": now, "recorded_at": now})
        bulk.insert_frame(conn, ConsentEvent.__table__.name, bulk.iso_dates(events, {"occurred_at", "recorded_at"}))
    return setai


def matched_households(app, directory, n: int, *, rule_id: str = "shugaku_enjo", as_of=None) -> list[str]:
    """n notifiable households (above), the shipped rules and templates active, and an eligibility run
    for `as_of` (default 2026-11-02) matching them all for `rule_id`. Returns the 世帯番号."""
    from datetime import date
    from pathlib import Path

    import pandas as pd

    from notifier.eligibility.dao import active_rules, load_directory, store_run
    from notifier.outbox import template_dao
    as_of = as_of or date(2026, 11, 2)
    root = Path(__file__).resolve().parents[1]
    setai = notifiable_households(app, directory, n)
    maker = app.extensions["db_sessionmaker"]
    with maker() as s:
        load_directory(s, root / "eligibility_rules", actor="test", activate=True,
                       url_hosts=app.config["APPLICATION_URL_HOSTS"])
        template_dao.load_directory(s, root / "templates" / "messages", actor="test", activate=True)
        s.commit()
        versions = {rule.id: v.id for v, rule in active_rules(s)}
    matches = pd.DataFrame({"rule_id": rule_id, "setai_no": setai, "reasons": [[] for _ in setai]})
    store_run(app.extensions["db_engine"], as_of, n, type("Evaluation", (), {"matches": matches}), versions,
              actor="test", summary={rid: {"evaluated": True} for rid in versions})
    return setai
