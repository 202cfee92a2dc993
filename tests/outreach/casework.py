"""A small city with outreach cases, built through the importer, 名寄せ and the case service."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from notifier import audit, clock
from notifier.eligibility.dao import load_directory
from notifier.linkage.run import run_linkage
from tests.factories import create_staff, import_sources

ACTOR = audit.Actor(label="test")
ROOT = Path(__file__).resolve().parents[2]


def _months_before(today: date, n: int) -> list[str]:
    out, y, m = [], today.year, today.month
    for _ in range(n):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        out.append(f"{y:04d}-{m:02d}")
    return out


def _resident(atena, setai, kana, birth, sex, relation, address_code="272191000101"):
    return {"宛名番号": atena, "世帯番号": setai, "氏名": "和泉 " + kana.split()[-1], "氏名カナ": kana,
            "生年月日": birth, "性別": sex, "続柄": relation, "住所コード": address_code, "住所": "和泉市府中町1丁目1-1"}


@pytest.fixture
def casework(app, tmp_path):
    """Three households, each with a hand-opened 就学援助 case:
    91001 — a mother and a 小3 pupil at school S01 who missed half the days for three months;
    91002 — a couple and a 小5 pupil at school S02 who attends every day (no points);
    91003 — a mother alone with a 0-year-old (points for the infant and the single parent).
    Returns (app, {setai_no: case_id}, staff users)."""
    today = clock.today_jst()
    months = _months_before(today, 3)
    jumin = [
        _resident("1001", "91001", "イズミ ハナコ", "1988-05-01", "2", "世帯主"),
        _resident("1002", "91001", "イズミ タロウ", "2017-06-01", "1", "子"),
        _resident("2001", "91002", "サカイ イチロウ", "1980-01-10", "1", "世帯主", "272192000201"),
        _resident("2002", "91002", "サカイ ヨウコ", "1982-03-03", "2", "妻", "272192000201"),
        _resident("2003", "91002", "サカイ ケン", "2015-08-08", "1", "子", "272192000201"),
        _resident("3001", "91003", "キタ ミホ", "1995-02-02", "2", "世帯主", "272193000301"),
        _resident("3002", "91003", "キタ ソラ", f"{today.year}-{max(1, today.month - 3):02d}-01", "1", "子",
                  "272193000301"),
    ]
    roster = [
        {"児童生徒番号": "P1", "氏名カナ": "イズミ タロウ", "生年月日": "2017-06-01", "性別": "1", "住所コード": "272191000101",
         "学校コード": "S01", "学校名": "和泉市立第一小学校", "学年": "3"},
        {"児童生徒番号": "P2", "氏名カナ": "サカイ ケン", "生年月日": "2015-08-08", "性別": "1", "住所コード": "272192000201",
         "学校コード": "S02", "学校名": "和泉市立第二小学校", "学年": "5"},
    ]
    attendance = [{"児童生徒番号": "P1", "年月": m, "授業日数": "20", "欠席日数": "10"} for m in months] + \
                 [{"児童生徒番号": "P2", "年月": m, "授業日数": "20", "欠席日数": "0"} for m in months]
    import_sources(app, tmp_path / "drop", {"juminhyo": jumin, "gakureibo": roster, "shusseki": attendance})
    engine = app.extensions["db_engine"]
    run_linkage(engine, today)
    maker = app.extensions["db_sessionmaker"]
    from notifier.outreach import cases
    with maker() as s:
        load_directory(s, ROOT / "eligibility_rules", actor="test", activate=True,
                       url_hosts=app.config["APPLICATION_URL_HOSTS"])
        s.commit()
        coordinator = create_staff(s, "coord", ["coordinator"])
        school1 = create_staff(s, "school1", ["caseworker"], organisation="和泉市立第一小学校")
        school2 = create_staff(s, "school2", ["caseworker"], organisation="和泉市立第二小学校")
        auditor = create_staff(s, "auditor", ["auditor"])
        ids = {}
        for setai, route in (("91001", "school_ssw"), ("91002", "school_ssw"), ("91003", "health_nurse")):
            ids[setai] = cases.open_by_hand(s, setai, "shugaku_enjo", route=route, note=None, viewer=coordinator,
                                            actor=ACTOR, as_of=today).id
        s.commit()
        users = {"coordinator": coordinator.username, "school1": school1.username, "school2": school2.username,
                 "auditor": auditor.username}
    return app, ids, users


def user(session, username):
    from notifier.auth.service import dao_get_user_by_username
    return dao_get_user_by_username(session, username)


def notify(session, case_id: int, *, atena_no: str, sent_at, opened_at=None, reminder_sent_at=None):
    """What the pipeline leaves behind a case that follow-up opened, for a case opened by hand: a notice
    with a sent delivery to `atena_no`'s LINE account (its /r/ link opened at `opened_at`), and a
    reminder sent at `reminder_sent_at` that was never opened. The case points at both, as follow-up's
    do. Times are naive UTC. Returns (notice, reminder)."""
    import uuid

    from notifier.models import Delivery, LineAccount, LinkOpen, Notice, OutreachCase
    from tests.outbox.builders import MESSAGE, rule_version
    case = session.get(OutreachCase, case_id)
    v = rule_version(session)
    account = LineAccount(line_user_id="U" + uuid.uuid4().hex, atena_no=atena_no, linked_at=sent_at,
                          link_channel="LINE", reachable=True, followed_at=sent_at)
    notice = Notice(setai_no=case.setai_no, rule_id=case.rule_id, rule_version_id=v.id, as_of=sent_at.date(),
                    first_sent_at=sent_at)
    session.add_all([account, notice])
    session.flush()

    def delivery(n, at):
        d = Delivery(notice_id=n.id, line_account_id=account.id, atena_no=atena_no, rule_id=case.rule_id,
                     rule_version_id=v.id, message=MESSAGE, retry_key=str(uuid.uuid4()), status="sent",
                     attempts=1, first_attempt_at=at, last_attempt_at=at, sent_at=at)
        session.add(d)
        session.flush()
        return d

    first = delivery(notice, sent_at)
    if opened_at is not None:
        first.first_opened_at = opened_at
        session.add(LinkOpen(delivery_id=first.id, opened_at=opened_at))
    reminder = None
    if reminder_sent_at is not None:
        reminder = Notice(kind="reminder", reminder_of=notice.id, setai_no=case.setai_no, rule_id=case.rule_id,
                          rule_version_id=v.id, as_of=reminder_sent_at.date(), first_sent_at=reminder_sent_at)
        session.add(reminder)
        session.flush()
        delivery(reminder, reminder_sent_at)
    case.notice_id = notice.id
    case.reminder_notice_id = reminder.id if reminder is not None else None
    session.flush()
    return notice, reminder
