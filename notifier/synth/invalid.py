"""Rows the importer must quarantine: one cell made invalid (an impossible date, an unknown code).

``hold_back`` takes such rows out of the clean frames (a perfect importer stores none of them, so the
truth is computed without them) and keeps them, with the invalid text, for the writer to put back
into the CSV at their place. The rate is ``DIRT_RATES["invalid_rows"]``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import dirt

# Dates no calendar has: 30 February, 13th months, a day after an era ended, 29 February of a common year.
IMPOSSIBLE_DATES = ("2025-02-30", "R5.2.30", "H31.5.1", "2024/13/01", "S64.1.8", "20230231", "令和6年4月31日",
                    "H30.2.29")
IMPOSSIBLE_MONTHS = ("2025-13", "R7.13", "202500")
IMPOSSIBLE_DATETIMES = ("2026-02-30 10:15:00", "2026-04-31 09:00:00")

# Per file: (field, invalid texts) — each held-back row gets one of them in one cell. consent.csv too:
# `consent import` quarantines such a row and imports the rest.
SPOILERS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "juminhyo": (("removed_on", IMPOSSIBLE_DATES), ("removal_reason", ("転居", "職権")), ("sex", ("9", "0")),
                 ("birth_date", IMPOSSIBLE_DATES)),
    "shiminzei": (("tax_class", ("免除", "未申告")), ("tax_year", ("20255", "R7年度分"))),
    "shogai_techo": (("grade", ("7級",)), ("handbook_kind", ("特定疾患",)), ("issued_on", IMPOSSIBLE_DATES)),
    "shogai_service": (("service_kind", ("同行援護", "訪問入浴")), ("start_on", IMPOSSIBLE_DATES)),
    "kaigo_nintei": (("care_level", ("要介護6", "経過的要介護")), ("start_on", IMPOSSIBLE_DATES)),
    "kaigo_service": (("service_month", IMPOSSIBLE_MONTHS),),
    "jido_fuyo_teate": (("payment_class", ("一時差止",)), ("certified_on", IMPOSSIBLE_DATES)),
    "jido_teate": (("certified_on", IMPOSSIBLE_DATES),),
    "kodomo_iryo": (("start_on", IMPOSSIBLE_DATES),),
    "seikatsu_hogo": (("start_on", IMPOSSIBLE_DATES),),
    "gakureibo": (("grade", ("小7", "中4", "高1")), ("sex", ("9",)), ("birth_date", IMPOSSIBLE_DATES)),
    "shusseki": (("absent_days", ("不明", "－")), ("month", IMPOSSIBLE_MONTHS)),
    "shugaku_enjo": (("cert_class", ("特別支援",)), ("certified_on", IMPOSSIBLE_DATES)),
    "hoiku": (("start_on", IMPOSSIBLE_DATES),),
    "boshi_kenshin": (("checkup_kind", ("2歳児", "5歳児")), ("attended_on", IMPOSSIBLE_DATES)),
    "kajiso": (("received_on", IMPOSSIBLE_DATES),),
    "online_shinsei": (("applied_at", IMPOSSIBLE_DATETIMES),),
    "consent": (("granted_at", IMPOSSIBLE_DATETIMES), ("kind", ("賛成",)), ("scope", ("email", "tax;email")),
                ("channel", ("電話", "郵送"))),
}


def hold_back(rng: np.random.Generator, frames: dict[str, pd.DataFrame], eligible: dict[str, np.ndarray],
              counts: dict[str, int]) -> dict[str, pd.DataFrame]:
    """Take invalid rows out of ``frames`` (in place); per file, the held rows with ``_pos`` (their
    place in the file's rows before holding back), ``_field`` and ``_text`` (the invalid cell).

    ``eligible`` limits the choice in a file (a mask over its rows); elsewhere every row may be chosen.
    """
    held = {}
    for name, spoilers in SPOILERS.items():
        f = frames[name]
        if len(f) < dirt.INVALID_MIN_ROWS:
            continue
        ok = eligible.get(name, np.ones(len(f), dtype=bool))
        k = min(int(ok.sum()), max(1, int(round(len(f) * dirt.rate("invalid_rows")))))
        if k == 0:
            continue
        pos = np.sort(rng.choice(np.flatnonzero(ok), k, replace=False))
        which = rng.integers(0, len(spoilers), k)
        fields = np.array([spoilers[w][0] for w in which], dtype=object)
        texts = np.array([spoilers[w][1][int(rng.integers(len(spoilers[w][1])))] for w in which], dtype=object)
        held[name] = f.iloc[pos].assign(_pos=pos, _field=fields, _text=texts).reset_index(drop=True)
        keep = np.ones(len(f), dtype=bool)
        keep[pos] = False
        frames[name] = f[keep].reset_index(drop=True)
        counts[f"invalid_rows.{name}"] = k
    return held
