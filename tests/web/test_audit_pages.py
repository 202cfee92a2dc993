"""The audit page in words, its filters, and its empty states."""
from __future__ import annotations

import re

from tests.factories import create_staff, import_sources, sign_in


def _rows(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [[re.sub(r"<[^>]+>", " ", cell).split() and " ".join(re.sub(r"<[^>]+>", " ", cell).split())
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_audit_page_shows_targets_and_details_in_japanese(app, db_session, runner, tmp_path):
    import_sources(app, tmp_path, {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "0000100001"},
                                                {"宛名番号": "x", "世帯番号": "0000100002"}]})
    assert runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"]).exit_code == 0
    auditor = create_staff(db_session, "kansa", ["auditor"], display_name="監査 一郎")
    client = sign_in(app.test_client(), db_session, auditor)
    html = client.get("/audit/").get_data(as_text=True)
    rows = _rows(html)
    text = html.split("<tbody>", 1)[1]
    for raw in ('{"', "&#34;", "staff_user", "import_run", "@v1", "quarantine", "true", "null"):
        assert raw not in text, raw
    assert ["監査 一郎（kansa）", "サインイン", "職員 監査 一郎（kansa）"] == rows[0][1:4]
    approve = next(r for r in rows if r[2] == "ルール承認" and "就学援助のご案内" in r[3])
    assert approve[3] == "ルール「就学援助のご案内」第1版"
    assert approve[4] == "運用担当者がルールの読込と同時に承認し、有効にしました（二人目の承認を経ない一括登録）"
    assert approve[1].startswith("コマンド（") and approve[1].endswith("が実行）")
    imported = next(r for r in rows if r[2] == "データ取込")
    assert imported[3].startswith("データ取込：住民基本台帳（juminhyo.csv、取込の番号")
    assert "取込済み" in imported[4] and "隔離 1 行" in imported[4]


def test_an_empty_filter_says_so_in_words(app, db_session):
    client = sign_in(app.test_client(), db_session, create_staff(db_session, "kansa", ["auditor"]))
    html = client.get("/audit/?action=export").get_data(as_text=True)
    assert "この条件に当てはまる記録はありません" in html and "条件を解除" in html and "<table" not in html
    html = client.get("/audit/?page=50").get_data(as_text=True)
    assert "このページには記録がありません" in html


def test_odd_filters_are_refused_next_to_the_field(app, db_session):
    client = sign_in(app.test_client(), db_session, create_staff(db_session, "kansa", ["auditor"]))
    for query, field, words in (("to=9999-12-31", "to", "2099-12-31 までの間"), ("from=0001-01-01", "from", "1900-01-01 から"),
                                ("from=2026-13-01", "from", "2026-04-01 の形"), ("action=nosuch", "action", "一覧から"),
                                ("from=2026-05-02&to=2026-05-01", "to", "開始日と同じか")):
        resp = client.get(f"/audit/?{query}")
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400, query
        error = re.search(rf'<p class="field-error" id="e-{field}">([^<]*)</p>', html)
        assert error and words in error.group(1), (query, error)
    assert client.get("/audit/?from=２０２６－０５－０１").status_code == 200      # full-width digits are a date
    for page in ("99999999999999999999", "0", "-1", "x", "1e3", "100001"):
        resp = client.get(f"/audit/?page={page}")
        assert resp.status_code == 400 and "ページ番号は 1 から" in resp.get_data(as_text=True), page
