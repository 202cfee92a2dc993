"""Current residents (現住者) with their per-person features, and the dated facts criteria filter.

Everything is column arithmetic over whole sources: each source is mapped once onto member positions
(`PersonIndex`) and folded into flags with boolean indexing; no loop runs over people or households.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from notifier import residents
from notifier.contract import CARE_LEVELS, CARE_RANK
from notifier.vector import isin

from .dates import active, age_on, as_timestamp, fiscal_year, is_jido, month_start, school_age_on, valid_handbook
from .frames import PersonIndex, empty_links, source_frame

# Disability-service kinds of the contract, with the member column that flags an active period.
SHOGAI_SERVICE_COLUMNS = {
    "居宅介護": "shogai_kyotaku_kaigo",
    "重度訪問介護": "shogai_judo_homon_kaigo",
    "生活介護": "shogai_seikatsu_kaigo",
    "移動支援": "shogai_ido_shien",
    "児童発達支援": "shogai_jido_hattatsu_shien",
    "放課後等デイサービス": "shogai_hokago_day",
    "短期入所": "shogai_tanki_nyusho",
    "自立支援医療": "shogai_jiritsu_shien_iryo",
}
HANDBOOK_COLUMNS = {"身体": "handbook_shintai", "精神": "handbook_seishin", "療育": "handbook_ryoiku"}

# The columns of each source the household table reads: a batch loads only these (and only the
# sources its rules read; an absent source reads as empty).
SOURCE_COLUMNS = {
    "juminhyo": ["atena_no", "setai_no", "sex", "birth_date", "relation", "relation_norm", "resident_since",
                 "removed_on"],
    "gakureibo": ["pupil_id", "grade", "school_code", "school_name"],
    "shugaku_enjo": ["pupil_id", "fiscal_year", "certified_on", "cancelled_on"],
    "seikatsu_hogo": ["atena_no", "start_on", "end_on"],
    "jido_fuyo_teate": ["atena_no", "certified_on", "lost_on"],
    "jido_teate": ["atena_no", "child_atena_no", "certified_on", "ended_on"],
    "kodomo_iryo": ["atena_no", "start_on", "end_on"],
    "hoiku": ["atena_no", "start_on", "end_on"],
    "kajiso": ["atena_no", "received_on", "closed_on"],
    "shogai_service": ["atena_no", "service_kind", "start_on", "end_on"],
    "shogai_techo": ["atena_no", "handbook_kind", "grade", "issued_on", "valid_until", "returned_on"],
    "kaigo_nintei": ["atena_no", "care_level", "start_on", "end_on"],
    "kaigo_service": ["atena_no", "service_kind", "service_month"],
    "shiminzei": ["atena_no", "tax_year", "total_income", "tax_class", "hitorioya_deduction", "widow_deduction"],
    "boshi_kenshin": ["atena_no", "checkup_kind", "target_month", "attended_on"],
    "shusseki": ["pupil_id", "month", "school_days", "absent_days"],
    "online_shinsei": ["atena_no", "procedure_code", "applied_at"],
}

# Care-service claims older than this are not kept: criteria look back at most this many months.
CARE_SERVICE_LOOKBACK_MONTHS = 24


def read_since(name: str, as_of: dt.date) -> tuple[str, dt.date] | None:
    """(date column, first day) when the household table uses only a source's rows from that day
    on: a reader may leave the older rows in the database (kaigo_service is the largest export)."""
    if name == "kaigo_service":
        return "service_month", month_start(as_of, CARE_SERVICE_LOOKBACK_MONTHS).date()
    return None


def _src(sources: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    df = sources.get(name)
    return source_frame(name) if df is None else df


def _facts(idx: PersonIndex, hh: np.ndarray, df: pd.DataFrame, mask: np.ndarray | None,
           cols: list[str], key: str = "atena_no") -> pd.DataFrame:
    """Rows of a source (optionally masked) that belong to current residents, with member/hh."""
    if mask is not None:
        df = df.loc[mask]
    pos = idx.positions(df[key])
    ok = pos >= 0
    out = df.loc[ok, cols].reset_index(drop=True)
    out.insert(0, "member", pos[ok])
    out.insert(1, "hh", hh[pos[ok]])
    return out


def build_members(sources: dict[str, pd.DataFrame], links: pd.DataFrame | None,
                  as_of: dt.date) -> tuple[pd.DataFrame, pd.Index, dict[str, pd.DataFrame]]:
    """(members, household ids, facts) for as_of.

    members has one row per current resident; `hh` is the position of its household in the
    returned household index (sorted 世帯番号). facts holds the dated rows criteria filter with their
    own parameters (handbooks, care certifications, services, claims, check-ups, attendance, online
    applications), each with `member` and `hh` positions.
    """
    fy = fiscal_year(as_of)
    t = as_timestamp(as_of)
    res = residents.current_rows(_src(sources, "juminhyo"), as_of)
    hh, households = pd.factorize(res["setai_no"], sort=True)
    households = pd.Index(households, name="setai_no")
    hh = hh.astype(np.int64)
    n = len(res)
    idx = PersonIndex(res["atena_no"])

    rel = res["relation_norm"].fillna("")
    m = pd.DataFrame({
        "atena_no": res["atena_no"],
        "setai_no": res["setai_no"],
        "hh": hh,
        "sex": res["sex"],
        "birth_date": res["birth_date"],
        "age": age_on(res["birth_date"], as_of),
        "school_age": school_age_on(res["birth_date"], as_of),
        "is_jido": is_jido(res["birth_date"], as_of),
        "relation": res["relation"],
        "relation_norm": res["relation_norm"],
        "is_head": (rel == "世帯主").to_numpy(),
    })

    # Enrolled pupils: confirmed links to a roster row with 学年 1–9; the highest grade wins when a
    # resident is linked to more than one roster row.
    links = empty_links() if links is None else links
    roster = _src(sources, "gakureibo")
    roster = roster.loc[roster["grade"].between(1, 9).to_numpy(dtype=bool, na_value=False)]
    roster = roster.drop_duplicates("pupil_id", keep="last")
    enrolled = links[["pupil_id", "atena_no"]].merge(
        roster[["pupil_id", "grade", "school_code", "school_name"]], on="pupil_id", how="inner")
    enrolled["member"] = idx.positions(enrolled["atena_no"])
    enrolled = enrolled.loc[enrolled["member"] >= 0]
    best = enrolled.sort_values(["member", "grade"]).drop_duplicates("member", keep="last")
    pos = best["member"].to_numpy()
    for col, dtype in (("pupil_id", "str"), ("grade", "Int8"), ("school_code", "str"),
                       ("school_name", "str")):
        s = pd.Series(pd.NA, index=m.index, dtype=dtype)
        s.iloc[pos] = best[col].to_numpy()
        m[col] = s
    m["is_pupil"] = m["grade"].notna().to_numpy()

    # 就学援助: certified for FY(D) on D (認定年度 = FY, 認定日 ≤ D, 取消日 blank or later), for an
    # enrolled pupil.
    se = _src(sources, "shugaku_enjo")
    certified = se.loc[(se["fiscal_year"] == fy).to_numpy(dtype=bool, na_value=False)
                       & active(se["certified_on"], se["cancelled_on"], as_of), "pupil_id"]
    cert_links = enrolled.loc[isin(enrolled["pupil_id"], certified), "member"]
    flag = np.zeros(n, dtype=bool)
    flag[cert_links.to_numpy()] = True
    m["shugaku_enjo"] = flag

    # Receipts with a period: 生活保護, 児童扶養手当 recipient, 児童手当 (recipient and child), こども医療, 保育.
    sh = _src(sources, "seikatsu_hogo")
    m["seikatsu_hogo"] = idx.flag(sh["atena_no"], active(sh["start_on"], sh["end_on"], as_of))
    jf = _src(sources, "jido_fuyo_teate")
    m["jido_fuyo_teate"] = idx.flag(jf["atena_no"], active(jf["certified_on"], jf["lost_on"], as_of))
    jt = _src(sources, "jido_teate")
    jt_on = active(jt["certified_on"], jt["ended_on"], as_of)
    m["jido_teate_recipient"] = idx.flag(jt["atena_no"], jt_on)
    m["jido_teate_child"] = idx.flag(jt["child_atena_no"], jt_on)
    ki = _src(sources, "kodomo_iryo")
    m["kodomo_iryo"] = idx.flag(ki["atena_no"], active(ki["start_on"], ki["end_on"], as_of))
    ho = _src(sources, "hoiku")
    m["hoiku"] = idx.flag(ho["atena_no"], active(ho["start_on"], ho["end_on"], as_of))
    kj = _src(sources, "kajiso")
    m["kajiso_open"] = idx.flag(kj["atena_no"], active(kj["received_on"], kj["closed_on"], as_of))

    # Disability services by kind (active 支給決定 period).
    ss = _src(sources, "shogai_service")
    ss_on = active(ss["start_on"], ss["end_on"], as_of)
    disability_services = _facts(idx, hh, ss, ss_on, ["service_kind"])
    for kind, col in SHOGAI_SERVICE_COLUMNS.items():
        f = np.zeros(n, dtype=bool)
        f[disability_services.loc[(disability_services["service_kind"] == kind).to_numpy(),
                                  "member"].to_numpy()] = True
        m[col] = f

    # Handbooks: the most severe active grade per kind (1級 < 2級 …, A < A1 < A2 < B …).
    tc = _src(sources, "shogai_techo")
    handbooks = _facts(idx, hh, tc, valid_handbook(tc["issued_on"], tc["valid_until"],
                                                   tc["returned_on"], as_of),
                       ["handbook_kind", "grade"])
    for kind, col in HANDBOOK_COLUMNS.items():
        hb = handbooks.loc[(handbooks["handbook_kind"] == kind).to_numpy()]
        hb = hb.sort_values(["member", "grade"]).drop_duplicates("member", keep="first")
        s = pd.Series(pd.NA, index=m.index, dtype="str")
        s.iloc[hb["member"].to_numpy()] = hb["grade"].to_numpy()
        m[col] = s

    # Care certification: the highest active level.
    kn = _src(sources, "kaigo_nintei")
    care_certs = _facts(idx, hh, kn, active(kn["start_on"], kn["end_on"], as_of), ["care_level"])
    care_certs["rank"] = care_certs["care_level"].map(CARE_RANK).fillna(0).astype(np.int8)
    rank = np.zeros(n, dtype=np.int8)
    np.maximum.at(rank, care_certs["member"].to_numpy(), care_certs["rank"].to_numpy())
    m["care_rank"] = rank
    m["care_level"] = pd.Series(np.array((None,) + CARE_LEVELS, dtype=object)[rank],
                                index=m.index, dtype="str")

    # Care-service claims by kind and month, kept for the months criteria may look back at.
    ks = _src(sources, "kaigo_service")
    window = (ks["service_month"] >= month_start(as_of, CARE_SERVICE_LOOKBACK_MONTHS)) \
        .to_numpy(dtype=bool, na_value=False) & \
        (ks["service_month"] <= t).to_numpy(dtype=bool, na_value=False)
    care_services = _facts(idx, hh, ks, window, ["service_kind", "service_month"])

    # Tax: each member's latest tax year ≤ FY(D) (the new year's row may not be assessed yet).
    tx = _src(sources, "shiminzei")
    tx = tx.loc[(tx["tax_year"] <= fy).to_numpy(dtype=bool, na_value=False)]
    tpos = idx.positions(tx["atena_no"])
    ok = tpos >= 0
    tx = tx.loc[ok].assign(member=tpos[ok])
    tx = tx.sort_values(["member", "tax_year"], kind="stable").drop_duplicates("member", keep="last")
    tp = tx["member"].to_numpy()
    has_tax = np.zeros(n, dtype=bool)
    has_tax[tp] = True
    m["has_tax_row"] = has_tax
    for col, dtype in (("tax_year", "Int64"), ("total_income", "Int64"), ("tax_class", "str")):
        s = pd.Series(pd.NA, index=m.index, dtype=dtype)
        s.iloc[tp] = tx[col].to_numpy()
        m[col] = s
    for col in ("hitorioya_deduction", "widow_deduction"):
        f = np.zeros(n, dtype=bool)
        f[tp] = tx[col].fillna(False).to_numpy(dtype=bool)
        m[col] = f

    # Check-ups, school attendance and online applications, for the criteria that read them.
    bk = _src(sources, "boshi_kenshin")
    checkups = _facts(idx, hh, bk, None, ["checkup_kind", "target_month", "attended_on"])
    links_pos = enrolled[["pupil_id", "member"]]
    ssk = _src(sources, "shusseki")
    attendance = ssk.merge(links_pos, on="pupil_id", how="inner")
    attendance["hh"] = hh[attendance["member"].to_numpy()]
    attendance = attendance[["member", "hh", "month", "school_days", "absent_days"]]
    os_ = _src(sources, "online_shinsei")
    applications = _facts(idx, hh, os_, None, ["procedure_code", "applied_at"])

    facts = {
        "handbooks": handbooks, "care_certs": care_certs,
        "disability_services": disability_services, "care_services": care_services,
        "checkups": checkups, "attendance": attendance, "applications": applications,
    }
    return m, households, facts


__all__ = ["build_members", "read_since", "SHOGAI_SERVICE_COLUMNS", "HANDBOOK_COLUMNS", "SOURCE_COLUMNS"]
