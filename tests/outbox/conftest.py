"""A small city for outbox tests: residents, the shipped rules and templates (active), LINE accounts
linked and consented the way the webhook records them, and eligibility runs written as the engine
stores them (store_run)."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from notifier import clock
from notifier.consent import service as consent
from notifier.eligibility.dao import active_rules, load_directory, store_run
from notifier.models import LineAccount
from notifier.outbox import template_dao
from tests.factories import import_sources

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 11, 2)
BASE = "https://notice.example.jp"


class City:
    def __init__(self, app):
        self.app = app
        self.maker = app.extensions["db_sessionmaker"]

    @contextmanager
    def session(self):
        """A session inside an app context (enqueue signs links with the app's SECRET_KEY)."""
        with self.app.app_context(), self.maker() as s:
            yield s

    def link(self, atena_no: str, line_user_id: str, *, notify: bool = True, reachable: bool = True) -> int:
        with self.maker() as s:
            account = LineAccount(line_user_id=line_user_id, atena_no=atena_no, linked_at=clock.now(),
                                  link_channel="LINE", reachable=reachable, followed_at=clock.now())
            s.add(account)
            s.flush()
            if notify:
                consent.record(s, atena_no, grant=["notify"], actor="test", channel="LINE", line_account_id=account.id)
            s.commit()
            return account.id

    def run(self, as_of: date, matches: dict[str, list[str]], *, skipped: tuple[str, ...] = ()) -> int:
        """Store an eligibility run for `as_of` with these matches (rule → households); every active
        rule is in the summary, evaluated unless in `skipped`."""
        with self.maker() as s:
            versions = {rule.id: v.id for v, rule in active_rules(s)}
        rows = [(rule_id, setai) for rule_id, households in matches.items() for setai in households]
        m = pd.DataFrame(rows, columns=["rule_id", "setai_no"])
        m["reasons"] = [[{"criterion": "test"}] for _ in range(len(m))]
        summary = {rid: ({"evaluated": False, "reason": "missing"} if rid in skipped
                         else {"evaluated": True, "matches": int((m["rule_id"] == rid).sum())})
                   for rid in versions}
        return store_run(self.app.extensions["db_engine"], as_of, 10, type("R", (), {"matches": m}),
                         versions, actor="test", summary=summary)


def residents(n: int) -> list[dict]:
    """n households (世帯番号 6000NN), each of two current residents (head 0001NN1, child 0001NN2)."""
    out = []
    for i in range(1, n + 1):
        setai = f"6{i:05d}"
        out.append({"宛名番号": f"1{i:05d}1", "世帯番号": setai, "続柄": "世帯主"})
        out.append({"宛名番号": f"1{i:05d}2", "世帯番号": setai, "続柄": "子", "生年月日": "2016-05-01",
                    "氏名カナ": "イズミ タロウ", "氏名": "和泉 太郎", "性別": "1"})
    return out


@pytest.fixture
def city(app, tmp_path):
    import_sources(app, tmp_path / "jumin", {"juminhyo": residents(6)})
    maker = app.extensions["db_sessionmaker"]
    with maker() as s:
        load_directory(s, ROOT / "eligibility_rules", actor="test", activate=True,
                       url_hosts=app.config["APPLICATION_URL_HOSTS"])
        template_dao.load_directory(s, ROOT / "templates" / "messages", actor="test", activate=True)
        s.commit()
    return City(app)


# The LINE simulator over HTTP and the real SDK (tests/line/conftest.py).
from tests.line.conftest import friend, line, sim, sim_server, webhook  # noqa: E402,F401
