"""The import history (取込履歴) and an import's quarantined rows, for a counter-consent file too."""
from __future__ import annotations

import re

from notifier.consent.importer import import_consents
from tests.factories import create_staff, import_sources, sign_in

HEADER = "宛名番号,種別,同意範囲,取得日時,チャネル,職員ID\n"


def test_a_consent_import_shows_in_the_history_with_its_quarantined_rows_in_japanese(app, client, db_session,
                                                                                      tmp_path):
    import_sources(app, tmp_path / "d", {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "1"}]})
    f = tmp_path / "窓口同意_4月.csv"
    f.write_text(HEADER + "0000001,同意,notify;tax,2026-04-01 10:00,窓口,staff01\n"
                 "0000009,同意,notify,2026-04-01 10:00,窓口,staff01\n"
                 "0000001,撤回,notify,2026-02-30 09:00,窓口,staff02\n", encoding="utf-8")
    result = import_consents(db_session, f, actor="test")
    db_session.commit()
    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))

    history = client.get("/imports/").get_data(as_text=True)
    row = re.search(r"<tr>\s*<td>[^<]*</td>\s*<td>窓口・CSWで受け付けた同意</td>\s*<td>窓口同意_4月.csv</td>.*?</tr>",
                    history, re.S)
    assert row, history
    assert f'href="/imports/{result.import_id}"' in row.group(0) and "取込済み" in row.group(0)
    assert ">consent<" not in history

    page = client.get(f"/imports/{result.import_id}").get_data(as_text=True)
    assert "隔離された行：窓口同意_4月.csv" in page and "データ：窓口・CSWで受け付けた同意" in page
    assert "修正した行だけが追加されます" in page
    cells = re.findall(r'<tr><td class="num">(\d+)</td><td>(.*?)</td><td><code>(.*?)</code></td><td>(.*?)</td></tr>',
                       page)
    assert cells == [("3", "宛名番号", "0000009", "住民記録にない宛名番号です"),
                     ("4", "取得日時", "2026-02-30 09:00", "日時として読めません（例：2026-04-01 10:30）")]

    ops = client.get("/ops/").get_data(as_text=True)                 # the operations page lists it as set aside
    assert f'data-quarantined="{result.import_id}"' in ops and "窓口同意_4月.csv：2 行を隔離しました" in ops


def test_an_import_with_no_quarantined_rows_says_so_in_words(app, client, db_session, tmp_path):
    from notifier.ingest import history
    import_sources(app, tmp_path / "d", {"juminhyo": [{"宛名番号": "0000001", "世帯番号": "1"},
                                                      {"宛名番号": "0000002", "世帯番号": "1"}]})
    f = tmp_path / "窓口同意_5月.csv"
    f.write_text(HEADER + "0000001,同意,notify,2026-05-01 10:00,窓口,staff01\n", encoding="utf-8")
    consent = import_consents(db_session, f, actor="test")
    db_session.commit()
    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))
    resident = next(r for r in history.recent_runs(db_session) if r.source == "juminhyo")

    page = client.get(f"/imports/{resident.id}").get_data(as_text=True)
    assert '<p class="empty">この取込で隔離された行はありません。2 行をすべて取り込みました。</p>' in page
    assert "<table" not in page
    page = client.get(f"/imports/{consent.import_id}").get_data(as_text=True)
    assert '<p class="empty">この取込で隔離された行はありません。同意・撤回 1 件を記録しました。</p>' in page


def test_an_empty_review_queue_says_so_in_words(app, client, db_session):
    sign_in(client, db_session, create_staff(db_session, "coord", ["coordinator"]))
    page = client.get("/linkage/review").get_data(as_text=True)
    assert "照合済み 0 件、要確認 0 件、照合なし 0 件" in page
    assert '<td colspan="7">確認が必要なものはありません。</td>' in page
