"""A quick synthetic city in the loader's frame format, for timing the household table and the engine.

Not a realistic city (notifier/synth is that): just the row counts of Izumi's data-linkage table with
plausible household shapes, so that every default rule finds some households.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from notifier.contract import fold_relation
from notifier.households.frames import columns

AS_OF = dt.date(2026, 5, 10)


def _ids(prefix: str, n: int, start: int = 0) -> pd.Series:
    return pd.Series(np.arange(start, start + n)).astype(str).str.zfill(9).radd(prefix).astype("str")


def _days(base: dt.date, offsets: np.ndarray) -> pd.Series:
    return pd.Series(pd.Timestamp(base) + pd.to_timedelta(offsets, unit="D")).astype("datetime64[ns]")


def _frame(name: str, data: dict) -> pd.DataFrame:
    cols = columns(name)
    n = len(next(iter(data.values())))
    out = {}
    for col, dtype in cols.items():
        if col in data:
            out[col] = pd.Series(data[col]).reset_index(drop=True).astype(dtype)
        elif dtype == "bool":
            out[col] = pd.Series(np.zeros(n, dtype=bool))
        else:
            out[col] = pd.Series([pd.NA] * n if dtype != "datetime64[ns]" else [pd.NaT] * n,
                                 dtype=dtype)
    return pd.DataFrame(out)


def _pick(rng, n: int, k: int) -> np.ndarray:
    return rng.choice(n, size=min(k, n), replace=False)


def generate(residents: int = 185_000, seed: int = 0, as_of: dt.date = AS_OF):
    """(sources, links, consents) at roughly Izumi's scale for `residents` people."""
    rng = np.random.default_rng(seed)
    scale = residents / 185_000
    k = lambda x: max(1, int(x * scale))  # noqa: E731

    # Households: sizes 1–6 averaging ~2.3 → ~80,000 households at full scale; `residents` current
    # residents plus the ones removed before the as-of date.
    n = residents + k(3_000)
    sizes = rng.choice([1, 2, 3, 4, 5, 6], p=[0.36, 0.28, 0.16, 0.14, 0.05, 0.01],
                       size=int(n / 2.2) + 10)
    sizes = sizes[np.cumsum(sizes) <= n]
    if sizes.sum() < n:
        sizes = np.append(sizes, n - sizes.sum())
    hh = np.repeat(np.arange(len(sizes)), sizes)
    rank = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)   # 0 = head
    single_parent = rng.random(len(sizes)) < 0.08
    relation = np.where(rank == 0, "世帯主",
                        np.where((rank == 1) & ~single_parent[hh], "妻", "長男"))
    relation = np.where((relation == "長男") & (rng.random(n) < 0.5), "長女", relation)
    relation = np.where((relation == "長男") & (rng.random(n) < 0.1), "母", relation)
    age = np.where(rank <= 1, rng.integers(20, 95, n), rng.integers(0, 25, n))
    age = np.where(relation == "母", rng.integers(60, 95, n), age)
    birth = _days(as_of, -(age * 365.25 + rng.integers(0, 365, n)).astype(int))
    atena = _ids("", n, 100_000_000)
    setai = _ids("S", len(sizes))[hh].reset_index(drop=True)
    removed = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    gone = _pick(rng, n, k(3_000))
    removed.iloc[gone] = _days(as_of, -rng.integers(0, 700, len(gone))).to_numpy()
    rel = pd.Series(relation)
    juminhyo = _frame("juminhyo", {
        "atena_no": atena, "setai_no": setai, "name": pd.Series(["和泉 太郎"] * n),
        "name_kana": pd.Series(["イズミ タロウ"] * n), "birth_date": birth,
        "sex": pd.Series(rng.integers(1, 3, n)), "relation": rel,
        "relation_norm": rel.map(fold_relation),
        "address_code": pd.Series(["272190000001"] * n), "removed_on": removed,
    })

    def some(count, where=None):
        pool = np.flatnonzero(where) if where is not None else np.arange(n)
        return pool[_pick(rng, len(pool), count)]

    # Tax: one row per resident aged 16+ (2026 assessed for half of them, else 2025 only), plus an
    # older row for a fifth of them: ~185,000 rows at full scale.
    adults = some(k(185_000), age >= 16)
    year = np.where(rng.random(len(adults)) < 0.5, 2026, 2025)
    older = adults[rng.random(len(adults)) < 0.22]
    adults = np.concatenate([adults, older])
    year = np.concatenate([year, np.full(len(older), 2024)])
    income = (rng.lognormal(14.3, 1.0, len(adults))).astype(np.int64)
    income[rng.random(len(adults)) < 0.25] = 0
    shiminzei = _frame("shiminzei", {
        "atena_no": atena.iloc[adults], "tax_year": year, "total_income": income,
        "tax_class": np.where(income < 450_000, "非課税", "課税"),
        "hitorioya_deduction": rng.random(len(adults)) < 0.03,
    })

    # School roster and links (pupils 6–15), shugaku_enjo for some.
    kids = some(k(15_500), (age >= 6) & (age <= 14))
    pupils = _ids("P", len(kids))
    gakureibo = _frame("gakureibo", {
        "pupil_id": pupils, "name_kana": pd.Series(["イズミ"] * len(kids)),
        "sex": pd.Series(np.ones(len(kids), dtype=int)),
        "school_code": pd.Series(["S01"] * len(kids)), "school_name": pd.Series(["和泉小学校"] * len(kids)),
        "grade": np.clip(age[kids] - 5, 1, 9),
    })
    linked = rng.random(len(kids)) < 0.97
    links = pd.DataFrame({"pupil_id": pupils[linked].reset_index(drop=True),
                          "atena_no": atena.iloc[kids[linked]].reset_index(drop=True)})
    enj = _pick(rng, len(kids), k(2_500))
    shugaku_enjo = _frame("shugaku_enjo", {
        "pupil_id": pupils.iloc[enj], "fiscal_year": np.where(rng.random(len(enj)) < 0.7, 2026, 2025),
        "cert_class": pd.Series(["準要保護"] * len(enj)),
        "certified_on": _days(as_of, -rng.integers(0, 400, len(enj))),
    })
    att = np.repeat(np.arange(len(kids)), 3)
    shusseki = _frame("shusseki", {
        "pupil_id": pupils.iloc[att], "month": pd.Series(np.tile(
            [pd.Timestamp(2026, 2, 1), pd.Timestamp(2026, 3, 1), pd.Timestamp(2026, 4, 1)], len(kids))),
        "school_days": np.full(len(att), 20), "absent_days": rng.poisson(1.0, len(att)),
    })

    def period(name, who, start_col, end_col, extra=None, end_share=0.2):
        starts = _days(as_of, -rng.integers(1, 2000, len(who)))
        ends = _days(as_of, rng.integers(-300, 300, len(who)))
        ends[rng.random(len(who)) > end_share] = pd.NaT
        data = {"atena_no": atena.iloc[who], start_col: starts, end_col: ends}
        data.update(extra or {})
        return _frame(name, data)

    seikatsu_hogo = period("seikatsu_hogo", some(k(6_500)), "start_on", "end_on", end_share=0.6)
    jf = some(k(2_000), (age >= 20) & (age <= 55))
    jido_fuyo_teate = period("jido_fuyo_teate", jf, "certified_on", "lost_on",
                             {"payment_class": pd.Series(["全部支給"] * len(jf))})
    children = some(k(30_000), age <= 17)
    parents = pd.Series(hh[children]).map(
        pd.Series(np.flatnonzero(rank == 0), index=hh[rank == 0])).to_numpy()
    jido_teate = period("jido_teate", parents, "certified_on", "ended_on",
                        {"child_atena_no": atena.iloc[children]}, end_share=0.05)
    kodomo_iryo = period("kodomo_iryo", some(k(30_000), age <= 17), "start_on", "end_on", end_share=0.05)
    hoiku_who = some(k(920), age <= 5)
    hoiku = period("hoiku", hoiku_who, "start_on", "end_on",
                   {"facility": pd.Series(["和泉保育園"] * len(hoiku_who))}, end_share=0.1)

    hb = some(k(11_000))
    kind = rng.choice(["身体", "精神", "療育"], p=[0.655, 0.18, 0.165], size=len(hb))
    grade = np.where(kind == "身体", rng.choice(["1級", "2級", "3級", "4級", "5級", "6級"], len(hb)),
                     np.where(kind == "精神", rng.choice(["1級", "2級", "3級"], len(hb)),
                              rng.choice(["A", "B", "A1", "B2"], len(hb))))
    shogai_techo = _frame("shogai_techo", {
        "atena_no": atena.iloc[hb], "handbook_kind": kind, "grade": grade,
        "issued_on": _days(as_of, -rng.integers(1, 5000, len(hb))),
        "valid_until": pd.Series(np.where(kind == "精神", _days(as_of, rng.integers(-100, 700, len(hb))),
                                          pd.NaT)).astype("datetime64[ns]"),
    })
    svc = some(k(5_550))
    shogai_service = period("shogai_service", svc, "start_on", "end_on", {
        "service_kind": rng.choice(["居宅介護", "重度訪問介護", "生活介護", "移動支援", "短期入所"], len(svc))})
    cert = some(k(48_000), age >= 60)
    kaigo_nintei = _frame("kaigo_nintei", {
        "atena_no": atena.iloc[cert],
        "care_level": rng.choice(["要支援1", "要支援2", "要介護1", "要介護2", "要介護3", "要介護4", "要介護5"],
                                 len(cert)),
        "start_on": _days(as_of, -rng.integers(1, 700, len(cert))),
        "end_on": _days(as_of, rng.integers(-100, 700, len(cert))),
    })
    users = cert[rng.random(len(cert)) < 0.6]
    per = -(-k(660_000) // max(1, len(users)))          # ceil: exactly 660,000 rows at full scale
    who = np.repeat(users, per)[:k(660_000)]
    kaigo_service = _frame("kaigo_service", {
        "atena_no": atena.iloc[who],
        "service_kind": rng.choice(["訪問介護", "通所介護", "福祉用具貸与", "訪問看護", "短期入所生活介護"], len(who)),
        "service_month": pd.Series(pd.date_range("2025-01-01", periods=17, freq="MS"))
        [rng.integers(0, 17, len(who))].reset_index(drop=True),
    })
    babies = some(k(30_000), age <= 4)
    boshi_kenshin = _frame("boshi_kenshin", {
        "atena_no": atena.iloc[babies],
        "checkup_kind": rng.choice(["4か月児", "1歳6か月児", "3歳児"], len(babies)),
        "target_month": pd.Series(pd.Timestamp(2026, 4, 1) - pd.to_timedelta(
            rng.integers(0, 12, len(babies)) * 30, unit="D")).dt.to_period("M").dt.to_timestamp(),
        "attended_on": pd.Series(np.where(rng.random(len(babies)) < 0.9,
                                          _days(as_of, -rng.integers(1, 200, len(babies))), pd.NaT))
                       .astype("datetime64[ns]"),
    })
    kj = some(k(1_000), age <= 17)
    kajiso = period("kajiso", kj, "received_on", "closed_on",
                    {"consult_kind": pd.Series(["養護相談"] * len(kj))}, end_share=0.5)
    ap = some(k(20_000), age >= 18)
    online_shinsei = _frame("online_shinsei", {
        "application_id": _ids("IZM-", len(ap)), "atena_no": atena.iloc[ap],
        "procedure_code": rng.choice(["shugaku_enjo", "jido_fuyo_teate", "kyufukin", "home_helper"], len(ap)),
        "applied_at": _days(as_of, -rng.integers(1, 700, len(ap))),
    })

    sources = {
        "juminhyo": juminhyo, "shiminzei": shiminzei, "shogai_techo": shogai_techo,
        "shogai_service": shogai_service, "kaigo_nintei": kaigo_nintei, "kaigo_service": kaigo_service,
        "jido_fuyo_teate": jido_fuyo_teate, "jido_teate": jido_teate, "kodomo_iryo": kodomo_iryo,
        "seikatsu_hogo": seikatsu_hogo, "gakureibo": gakureibo, "shusseki": shusseki,
        "shugaku_enjo": shugaku_enjo, "hoiku": hoiku, "boshi_kenshin": boshi_kenshin,
        "kajiso": kajiso, "online_shinsei": online_shinsei,
    }
    hs = pd.Series(setai.unique())
    consents = pd.DataFrame({"setai_no": hs, "notify": rng.random(len(hs)) < 0.3})
    consents["tax"] = consents["notify"] & (rng.random(len(hs)) < 0.6)
    consents = consents.loc[consents["notify"]].reset_index(drop=True)
    return sources, links, consents
