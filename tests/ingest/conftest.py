"""Fixtures for the ingest tests: a contract-shaped 住民基本台帳 export at Izumi scale, built in memory."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

_KANA = list("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン"
             "ガギグゲゴザジズゼゾダデドバビブベボパピプペポ") + ["シュウ", "ショウ", "キョウ", "リョウ", "チャ", "ー", "ッ"]
_KANJI = list("佐藤鈴木高橋田中伊渡辺山本村小林加大野和泉府太郎花子優健司美咲翔陽菜結衣蓮湊")
_FORMS = [lambda y, m, d: f"{y}-{m:02d}-{d:02d}", lambda y, m, d: f"{y}/{m}/{d}", lambda y, m, d: f"{y}{m:02d}{d:02d}"]


def synthetic_juminhyo(n: int, seed: int = 1) -> pd.DataFrame:
    """n residents with realistic spread: ~all-distinct names, ~36,000 birth dates, era and Western dates."""
    rng = np.random.default_rng(seed)

    def words(alphabet, lo, hi):
        lengths = rng.integers(lo, hi + 1, n)
        picks = rng.integers(0, len(alphabet), (n, hi))
        return ["".join(alphabet[j] for j in row[:k]) for row, k in zip(picks, lengths)]

    sei, mei = words(_KANA, 2, 4), words(_KANA, 2, 4)
    births = pd.Timestamp("1925-01-01") + pd.to_timedelta(rng.integers(0, 36_500, n), unit="D")
    forms = rng.integers(0, len(_FORMS), n)
    since = rng.choice(["", "令和2年4月1日", "H31.4.1", "S60.1.1", "2001/5/6", "R05.10.01"], n)
    return pd.DataFrame({
        "宛名番号": [f"{i:010d}" for i in range(n)],
        "世帯番号": [f"{i // 3:010d}" for i in range(n)],
        "氏名": [f"{a}　{b}" for a, b in zip(words(_KANJI, 1, 2), words(_KANJI, 1, 2))],
        "氏名カナ": [f"{a} {b}" for a, b in zip(sei, mei)],
        "生年月日": [_FORMS[f](t.year, t.month, t.day) for f, t in zip(forms, births)],
        "性別": rng.choice(["1", "2", "男", "女"], n),
        "続柄": rng.choice(["世帯主", "妻", "長男", "長女", "二男", "子", "母", "同居人"], n),
        "住所コード": [f"272191{a:06d}" for a in rng.integers(0, 400, n)],
        "住所": [f"和泉市府中町{a}丁目{b}番{c}号" for a, b, c in zip(*rng.integers(1, 40, (3, n)))],
        "住民となった日": since,
        "消除日": rng.choice(["", "", "", "2024-03-01", "令和6年3月1日"], n),
        "消除事由": rng.choice(["", "", "転出"], n),
    })


@pytest.fixture(scope="session")
def juminhyo_185k_cp932() -> bytes:
    return synthetic_juminhyo(185_000).to_csv(index=False).encode("cp932")
