"""The household page service (notifier.outreach.household): content for a generated household against the
generator's truth, permissions (tax, welfare), the audit row, addressing tokens and the search; and the
pages over HTTP (search by POST, 303 to the opaque address, Japanese 404)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import select

from notifier.consent import service as consent
from notifier.contract import GRADE_LABELS
from notifier.models import AuditEvent
from notifier.outreach import household as hp
from tests.factories import create_staff, csrf_token, import_sources, sign_in
from tests.web.test_rules_pages import AS_OF, CITY

DAY = date.fromisoformat(AS_OF)
EXTRA = {
    "seikatsu_hogo": [{"宛名番号": "0000041", "保護開始日": "2024-04-01"}],
    "kodomo_iryo": [{"宛名番号": "0000012", "資格開始日": "2016-06-01"}],
    "jido_teate": [{"受給者宛名番号": "0000011", "児童宛名番号": "0000012", "認定日": "2016-06-01"}],
    "kajiso": [{"宛名番号": "0000042", "相談種別": "養護相談", "受付日": "2026-06-01"}],
}


@pytest.fixture
def city(app, db_session, tmp_path, runner):
    """The rules pages' small city plus a few programs, linked, rules active, a run on AS_OF."""
    import_sources(app, tmp_path / "city", CITY | EXTRA, complete=True)
    assert runner.invoke(args=["link", "run", "--as-of", AS_OF]).exit_code == 0
    assert runner.invoke(args=["rules", "load", "eligibility_rules", "--activate"]).exit_code == 0
    for atena in ("0000011", "0000021", "0000031", "0000041"):
        consent.record(db_session, atena, grant=["notify"], actor="test", channel="窓口", staff_id="staff01")
    db_session.commit()
    result = runner.invoke(args=["eligibility", "run", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    return db_session


def staff(session, name, **perms):
    return create_staff(session, name, ["coordinator"], display_name=f"職員 {name}", **perms)


def test_members_ages_grades_and_programs(city):
    user = staff(city, "full", tax_permission=True, child_welfare_permission=True)
    page = hp.build_page(city, "700001", user=user, as_of=DAY)
    assert [(m.relation, m.age, m.school) for m in page.members] == [
        ("世帯主", 38, None), ("長男", 10, "和泉市立第一小学校 小5")]
    head, son = page.members
    assert head.programs["jido_teate"] == "受給者（児童 1人）" and son.programs["jido_teate"] == "対象児童"
    assert son.programs["kodomo_iryo"] == "資格あり" and head.programs["kodomo_iryo"] is None
    assert head.programs["shiminzei"] == "2026年度 課税・合計所得 1,200,000円・ひとり親控除"
    assert page.viewed_by == "職員 full" and page.run_as_of == DAY


def test_matches_with_reasons_and_tax_reasons_hidden_without_the_permission(city):
    full = staff(city, "full", tax_permission=True, child_welfare_permission=True)
    page = hp.build_page(city, "700001", user=full, as_of=DAY)
    plain = hp.build_page(city, "700001", user=staff(city, "plain"), as_of=DAY)
    assert {m.rule_id for m in page.matches} == {m.rule_id for m in plain.matches}
    for a, b in zip(page.matches, plain.matches):
        assert len(a.reasons) == len(b.reasons) + b.hidden_reasons
        assert all("所得" not in line for line in b.reasons)


def test_tax_and_welfare_are_hidden_without_the_permissions(city):
    plain = staff(city, "plain")
    page = hp.build_page(city, "700004", user=plain, as_of=DAY)
    shown = {key: ok for key, _, ok in page.programs}
    assert not shown["shiminzei"] and not shown["seikatsu_hogo"] and not shown["kajiso"]
    assert all(m.programs["shiminzei"] == hp.HIDDEN_TEXT for m in page.members)
    assert all(m.programs["seikatsu_hogo"] == hp.HIDDEN_TEXT for m in page.members)
    assert shown["kodomo_iryo"] and shown["jido_teate"]
    tax_only = hp.build_page(city, "700004", user=staff(city, "tax", tax_permission=True), as_of=DAY)
    assert tax_only.members[0].programs["shiminzei"].startswith("2026年度 課税")
    assert tax_only.members[0].programs["seikatsu_hogo"] == hp.HIDDEN_TEXT
    welfare = hp.build_page(city, "700004", user=staff(city, "cw", child_welfare_permission=True), as_of=DAY)
    head, child = welfare.members
    assert head.programs["seikatsu_hogo"] == "受給中" and child.programs["kajiso"] == "養護相談"
    assert head.programs["shiminzei"] == hp.HIDDEN_TEXT


def test_a_view_writes_one_audit_row_without_names(city):
    user = staff(city, "coord")
    before = len(city.scalars(select(AuditEvent).where(AuditEvent.action == "view_household")).all())
    hp.view(city, "700002", user=user, actor=user, via="宛名番号", printed=True, as_of=DAY)
    city.commit()
    rows = city.scalars(select(AuditEvent).where(AuditEvent.action == "view_household")).all()
    assert len(rows) == before + 1
    row = rows[-1]
    assert (row.target_type, row.target_id, row.actor) == ("household", "700002", "coord")
    assert row.detail == {"via": "宛名番号", "page": "print", "members": 3}
    assert "スズキ" not in str(row.detail)


def test_search_by_either_number_and_unknown_numbers(city):
    assert hp.find_household(city, "700002", DAY) == ("700002", "世帯番号")
    assert hp.find_household(city, "0000023", DAY) == ("700002", "宛名番号")
    assert hp.find_household(city, "999999", DAY) is None
    with pytest.raises(hp.HouseholdNotFound) as e:
        hp.build_page(city, "999999", user=staff(city, "c"), as_of=DAY)
    assert str(e.value) == hp.NOT_FOUND_TEXT and "見つかりませんでした" in str(e.value)


def test_tokens_are_opaque_stable_and_refuse_tampering():
    t = hp.household_token("secret", "700002")
    assert "700002" not in t and t == hp.household_token("secret", "700002")
    assert hp.setai_from_token("secret", t) == "700002"
    assert hp.setai_from_token("other", t) is None
    assert hp.setai_from_token("secret", t[:-2] + ("AA" if t[-2:] != "AA" else "BB")) is None
    assert hp.setai_from_token("secret", "700002") is None and hp.setai_from_token("secret", "") is None
    assert hp.household_token("secret", "700001") != t


def test_the_pages_over_http(city, client, app):
    user = staff(city, "coord")
    sign_in(client, city, user)
    token = csrf_token(client, "/households/")
    resp = client.post("/households/", data={"number": "０００００２３", "csrf_token": token})
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert "0000023" not in location and "700002" not in location and "?via=atena" in location
    assert hp.setai_from_token(app.secret_key, location.split("/households/")[1].split("?")[0]) == "700002"
    page = client.get(location).get_data(as_text=True)
    assert "世帯番号 700002" in page and "スズキ ユイ" in page and "和泉市立第一小学校 小5" in page
    assert page.count(hp.HIDDEN_TEXT) >= 3                  # 市民税, 生活保護, 家庭児童相談
    assert "印刷" in page and "表示・印刷：職員 coord" in page
    missing = client.post("/households/", data={"number": "999999", "csrf_token": token})
    assert missing.status_code == 404 and hp.NOT_FOUND_TEXT in missing.get_data(as_text=True)
    bad = client.get("/households/not-a-token")
    assert bad.status_code == 404 and "ページが見つかりません" in bad.get_data(as_text=True)
    assert client.post("/households/", data={"number": "700002"}).status_code == 400      # no CSRF token


def test_other_roles_are_refused(city, client):
    user = create_staff(city, "author", ["rule_author"])
    sign_in(client, city, user)
    assert client.get("/households/").status_code == 403


def test_a_generated_household_matches_the_truth(app, small_city):
    """The small city imported and linked: a household with a linked pupil shows its current members
    with their ages and the pupil's 学年, as the generator's clean frames say."""
    from notifier.households import age_on
    from notifier.ingest.importer import import_directory
    from notifier.ingest.mapping import Mapping
    from notifier.linkage.run import run_linkage
    directory, _ = small_city
    engine = app.extensions["db_engine"]
    assert not import_directory(engine, directory, Mapping(), actor="test").failed
    run_linkage(engine, DAY)
    truth = directory / "_truth"
    jumin = pd.read_parquet(truth / "clean" / "juminhyo.parquet")
    roster = pd.read_parquet(truth / "clean" / "gakureibo.parquet")
    links = pd.read_csv(truth / "roster_links.csv", dtype=str)
    current = jumin[(jumin["resident_since"].isna() | (jumin["resident_since"] <= pd.Timestamp(DAY)))
                    & (jumin["removed_on"].isna() | (jumin["removed_on"] > pd.Timestamp(DAY)))]
    plain = links[(links["case"] == "current")].merge(roster, left_on="児童生徒番号", right_on="pupil_id")
    plain = plain[plain["grade"].between(1, 9)].merge(current, left_on="宛名番号", right_on="atena_no")
    sizes = current.groupby("setai_no").size()
    day = pd.Timestamp(DAY)
    ki = pd.read_parquet(truth / "clean" / "kodomo_iryo.parquet")
    ki = ki[(ki["start_on"] <= day) & (ki["end_on"].isna() | (ki["end_on"] > day))]
    pick = plain[(plain["setai_no"].map(sizes) >= 3) & plain["宛名番号"].isin(ki["atena_no"])].iloc[0]
    s = app.extensions["db_sessionmaker"]()
    user = staff(s, "truth")
    page = hp.build_page(s, pick["setai_no"], user=user, as_of=DAY)
    want = current[current["setai_no"] == pick["setai_no"]]
    ages = dict(zip(want["atena_no"], age_on(want["birth_date"].astype("datetime64[ns]"), DAY).tolist()))
    assert {m.atena_no: m.age for m in page.members} == ages
    pupil = next(m for m in page.members if m.atena_no == pick["宛名番号"])
    assert pupil.school == f"{pick['school_name']} {GRADE_LABELS[int(pick['grade'])]}"
    assert {m.name for m in page.members} == set(want["name"])
    assert pupil.programs["kodomo_iryo"] == "資格あり"
    assert {m.atena_no for m in page.members if m.programs["kodomo_iryo"]} == set(ki["atena_no"]) & set(ages)
    jt = pd.read_parquet(truth / "clean" / "jido_teate.parquet")
    jt = jt[(jt["certified_on"] <= day) & (jt["ended_on"].isna() | (jt["ended_on"] > day))]
    assert pupil.programs["jido_teate"] is not None or pupil.atena_no not in set(jt["child_atena_no"])
    assert {m.atena_no for m in page.members if m.programs["jido_teate"]} == \
        (set(jt["atena_no"]) | set(jt["child_atena_no"])) & set(ages)
    s.close()


def test_the_run_matched_this_household(city):
    page = hp.build_page(city, "700001", user=staff(city, "m"), as_of=DAY)
    assert page.matches and all(m.name and (m.reasons or m.hidden_reasons) for m in page.matches)
    assert any(m.hidden_reasons for m in page.matches)      # the income criterion reads tax data
