"""名寄せ end to end on the database: link run, the review page, decisions that survive re-runs."""
from __future__ import annotations

import csv
import json
import re

from sqlalchemy import select

from notifier.models import AuditEvent, LinkDecision, PupilLink
from tests.factories import create_staff, csrf_token, import_sources, sign_in

RESIDENTS = [
    {"宛名番号": "0000001", "世帯番号": "100", "氏名": "佐藤 花子", "氏名カナ": "サトウ ハナコ", "生年月日": "1985-05-05",
     "性別": "2", "続柄": "世帯主", "住所コード": "272191000101"},
    {"宛名番号": "0000002", "世帯番号": "100", "氏名": "佐藤 悠斗", "氏名カナ": "サトウ ユウト", "生年月日": "2016-06-01",
     "性別": "1", "続柄": "子", "住所コード": "272191000101"},
    {"宛名番号": "0000003", "世帯番号": "200", "氏名": "佐藤 悠人", "氏名カナ": "サトウ ユウト", "生年月日": "2016-06-01",
     "性別": "1", "続柄": "子", "住所コード": "272191000555"},
    {"宛名番号": "0000004", "世帯番号": "300", "氏名": "田中 一郎", "氏名カナ": "タナカ イチロウ", "生年月日": "2014-01-10",
     "性別": "1", "続柄": "子", "住所コード": "272191000777"},
]
ROSTER = [
    # Namesake with no address or guardian: must go to review.
    {"児童生徒番号": "S001", "氏名カナ": "ｻﾄｳ ﾕｳﾄ", "生年月日": "H28.6.1", "性別": "男", "学校コード": "E01",
     "学校名": "和泉市立第一小学校", "学年": "小4"},
    # Exact on the four items.
    {"児童生徒番号": "S002", "氏名カナ": "たなか いちろう", "生年月日": "2014/1/10", "性別": "1", "住所コード": "272191000777",
     "学校コード": "E01", "学校名": "和泉市立第一小学校", "学年": "小6"},
    # A pupil who moved away: nobody like them.
    {"児童生徒番号": "S003", "氏名カナ": "スズキ ケン", "生年月日": "2015-02-02", "性別": "1", "学校コード": "E01",
     "学校名": "和泉市立第一小学校", "学年": "小6"},
]


def test_link_run_review_and_decisions_that_survive_reruns(app, client, db_session, tmp_path, runner):
    import_sources(app, tmp_path / "d", {"juminhyo": RESIDENTS, "gakureibo": ROSTER})
    result = runner.invoke(args=["link", "run", "--as-of", "2026-11-01", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert (counts["linked"], counts["review"], counts["unlinked"]) == (1, 1, 1)

    coordinator = create_staff(db_session, "coord", ["coordinator"])
    sign_in(client, db_session, coordinator)
    page = client.get("/linkage/review").get_data(as_text=True)
    assert "S001" in page
    page = client.get("/linkage/review/S001").get_data(as_text=True)
    assert "0000002" in page and "0000003" in page and "サトウ ハナコ" in page
    token = csrf_token(client, "/linkage/review/S001")
    resp = client.post("/linkage/review/S001", data={"decision": "confirm", "atena_no": "0000003", "csrf_token": token})
    assert resp.status_code == 302
    db_session.expire_all()
    assert db_session.get(PupilLink, "S001").atena_no == "0000003"
    assert db_session.scalars(select(LinkDecision)).one().decision == "confirm"
    assert db_session.scalars(select(AuditEvent).where(AuditEvent.action == "link_decision")).one().target_id == "S001"

    # Re-import the same roster and re-run: the decision is reused.
    import_sources(app, tmp_path / "d2", {"juminhyo": RESIDENTS, "gakureibo": ROSTER})
    runner.invoke(args=["link", "run", "--as-of", "2026-11-01"])
    db_session.expire_all()
    link = db_session.get(PupilLink, "S001")
    assert (link.atena_no, link.method) == ("0000003", "manual")

    out = tmp_path / "links.csv"
    assert runner.invoke(args=["link", "export", "--out", str(out)]).exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0].keys() == {"児童生徒番号", "宛名番号", "method", "score"}
    by_id = {r["児童生徒番号"]: r for r in rows}
    assert by_id["S002"]["宛名番号"] == "0000004" and by_id["S002"]["method"] == "exact"
    assert by_id["S003"]["宛名番号"] == ""


def test_a_forged_candidate_is_refused(app, client, db_session, tmp_path, runner):
    import_sources(app, tmp_path / "d", {"juminhyo": RESIDENTS, "gakureibo": ROSTER})
    runner.invoke(args=["link", "run", "--as-of", "2026-11-01"])
    coordinator = create_staff(db_session, "coord", ["coordinator"])
    sign_in(client, db_session, coordinator)
    token = csrf_token(client, "/linkage/review/S001")
    resp = client.post("/linkage/review/S001", data={"decision": "confirm", "atena_no": "0000004", "csrf_token": token})
    assert resp.status_code == 400


def test_a_decided_row_shows_the_decision_and_changes_only_with_a_reason(app, client, db_session, tmp_path, runner):
    import_sources(app, tmp_path / "d", {"juminhyo": RESIDENTS, "gakureibo": ROSTER})
    runner.invoke(args=["link", "run", "--as-of", "2026-11-01"])
    coordinator = create_staff(db_session, "coord", ["coordinator"])
    sign_in(client, db_session, coordinator)
    queue = client.get("/linkage/review").get_data(as_text=True)
    assert "小4" in queue and "年目" not in queue and "サトウ ユウト" in queue    # roster facts and best candidate
    assert 'class="agree"' in queue and "最高点」は" in queue

    token = csrf_token(client, "/linkage/review/S001")
    client.post("/linkage/review/S001", data={"decision": "confirm", "atena_no": "0000003", "csrf_token": token})
    page = client.get("/linkage/review/S001").get_data(as_text=True)
    assert "判断済み：この人で確定（宛名番号 0000003）" in page and "coord が" in page
    assert "この人で確定する</button>" not in page and "判断を変更する" in page

    # A second click of a plain decision does not silently override the first.
    token = csrf_token(client, "/linkage/review/S001")
    resp = client.post("/linkage/review/S001", data={"decision": "none", "csrf_token": token})
    assert resp.status_code == 400 and "理由を入力してください" in resp.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(PupilLink, "S001").atena_no == "0000003"
    assert len(db_session.scalars(select(LinkDecision)).all()) == 1

    resp = client.post("/linkage/review/S001", data={"choice": "confirm:0000002", "reason": "保護者に確認した",
                                                     "csrf_token": token})
    assert resp.status_code == 302
    db_session.expire_all()
    assert db_session.get(PupilLink, "S001").atena_no == "0000002"
    latest = db_session.scalars(select(LinkDecision).order_by(LinkDecision.id.desc())).first()
    assert (latest.decision, latest.atena_no, latest.reason) == ("confirm", "0000002", "保護者に確認した")
    audit = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "link_decision")
                               .order_by(AuditEvent.id.desc())).first()
    assert audit.detail["changed_from"] == "confirm" and audit.detail["reason"] == "保護者に確認した"
    assert "理由：保護者に確認した" in client.get("/linkage/review/S001").get_data(as_text=True)


# A junior-high pupil with two namesakes born the same day (a tie: for a person to decide) and a girl of
# the same kana and birth date (a weaker candidate whose sex disagrees).
JUNIOR = {"juminhyo": [
    {"宛名番号": "0000051", "世帯番号": "510", "氏名": "山田 陽翔", "氏名カナ": "ヤマダ ハルト", "生年月日": "2011-06-01",
     "性別": "1", "続柄": "子", "住所コード": "272191000510"},
    {"宛名番号": "0000061", "世帯番号": "610", "氏名": "山田 春人", "氏名カナ": "ヤマダ ハルト", "生年月日": "2011-06-01",
     "性別": "1", "続柄": "子", "住所コード": "272191000610"},
    {"宛名番号": "0000071", "世帯番号": "710", "氏名": "山田 晴", "氏名カナ": "ヤマダ ハルト", "生年月日": "2011-06-01",
     "性別": "2", "続柄": "子", "住所コード": "272191000710"}],
    "gakureibo": [
    {"児童生徒番号": "J009", "氏名カナ": "ヤマダ ハルト", "生年月日": "2011-06-01", "性別": "1",
     "学校コード": "J02", "学校名": "和泉市立第二中学校", "学年": "中3"}]}


def test_the_queue_and_the_page_show_the_roster_facts_and_each_match_in_words(app, client, db_session, tmp_path,
                                                                              runner):
    import_sources(app, tmp_path / "d", JUNIOR)
    assert runner.invoke(args=["link", "run", "--as-of", "2026-11-01"]).exit_code == 0
    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))

    queue = client.get("/linkage/review").get_data(as_text=True)
    row = queue[queue.index("<td>J009</td>"):]
    row = row[:row.index("</tr>")]
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[:4] == ["J009", "ヤマダ ハルト", "2011-06-01", "和泉市立第二中学校 中3"]
    assert "宛名番号 0000051：ヤマダ ハルト（2011-06-01）" in cells[4]             # the best candidate beside it
    assert re.search(r'生年月日 <span class="agree">一致</span>・住所 <span class="blank-mark">学齢簿が空欄</span>'
                     r'・学年 <span class="agree">一致</span>', cells[4])
    assert "年目" not in queue and ">9<" not in row
    assert "自動で確定するのは 17 点以上で、次の候補より 6 点以上高い場合だけです" in queue   # 最高点 explained

    page = client.get("/linkage/review/J009").get_data(as_text=True)
    assert "<tr><th>学校・学年</th><td>和泉市立第二中学校 中3</td></tr>" in page
    assert "<tr><th>生年月日</th><td>2011-06-01</td></tr>" in page and "年目" not in page
    cards = page.split('class="card candidate"')[1:]
    assert [re.search(r"宛名番号 (\d+)", c).group(1) for c in cards] == ["0000051", "0000061", "0000071"]
    assert '<th>性別</th><td>男</td><td><span class="agree">一致</span>' in cards[0]
    assert '<th>性別</th><td>女</td><td><span class="disagree">不一致</span>' in cards[2]
    assert '<th>住所コード</th><td>272191000510</td><td><span class="blank-mark">学齢簿が空欄</span>' in cards[0]
    assert "<th>学年と生年月日</th><td>中3の生年月日の範囲内です</td><td><span class=\"agree\">一致</span>" in cards[0]
