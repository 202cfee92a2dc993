"""Synthetic city exports for tests, demos and benchmarks (no real personal data).

``generate(scale, seed, out)`` writes every file of the data contract (data-contract.md) with the
contract's Japanese headers, plus ``consent.csv``, into ``out``, and truth files into ``out/_truth``
(read by tests only, never by the service):

* ``roster_links.csv`` — 児童生徒番号, 宛名番号 (the true current resident, blank if none), case,
  flags (every difficulty, ``;``-joined: kana_long_vowel, kana_small_kana, kana_space,
  kana_halfwidth, kana_hiragana, blank_birth, wrong_birth, twin, namesake, household_namesake,
  address_moved, moved_away, past_pupil, graduated), removed_atena_no (the juminhyo row of a pupil
  who moved away: 宛名番号 is blank because they are no longer a resident). case is one label per
  pupil: moved_away or past_pupil when there is no current resident, else the first of
  household_namesake, namesake, twin, wrong_birth, blank_birth, kana_variant, address_moved that
  applies, else current. Roster rows held back as invalid (below) are not in it.
* ``quarantine.csv`` — file, line, column, value: every row the importer must quarantine (one
  invalid cell each: an impossible date, an unknown code). They are in no clean frame and in no
  other truth file: the truth is what a perfect importer stores.
* ``rule_matches.csv`` — as_of, rule_id, 世帯番号, match_with_tax, match_without_tax (1/0), only rows
  where at least one is 1, from the naive reference (reference.py) on the clean data.
* ``dirt.json`` — every dirt rate (dirt.DIRT_RATES) and the count applied; the file encodings.
* ``summary.json`` — counts per file, roster cases and rule matches per truth date.
* ``gaiji.csv`` — this city's 外字 table (private-use code point → standard character).
* ``clean/<source>.parquet`` — the clean frames: canonical field names of notifier.contract,
  values as a perfect importer would store them. Dates and months are datetime64 (NaT = blank;
  months are the first of the month), fiscal years and amounts are ints, flags are bools, sex is
  1/2, grade is 1–9, 続柄 is canonical (子, never 長男), datetimes are naive JST. Kana and names are
  as the source system holds them (half-width, hiragana, 外字 included: that is content). The CSV rows
  are these rows in the same order, except that exact duplicate rows follow their original in the
  files of dirt.DUPLICATE_FILES.

The hard cases, at the rates of dirt.DIRT_RATES (``_truth/dirt.json`` repeats them with the counts
applied; a test keeps this list equal to DIRT_RATES):

* the school roster (学齢簿) keeps past pupils: ``gakureibo.past_pupil`` = 0.96 per enrolled pupil
  (izumi: ~30,000 roster rows for ~15,400 pupils), of them ``gakureibo.past_pupil.graduated`` = 0.5
  left after 中3 and ``gakureibo.past_pupil.sibling`` = 0.25 are an older sibling of a current pupil
  (that family's surname, address and guardian); pupils of moved-out households stay on the roster at
  ``gakureibo.moved_away_kept`` = 0.7; ``gakureibo.private_school`` = 0.03 of school-age residents
  are not on it;
* namesakes: ``gakureibo.namesake_pairs`` = 0.004 pairs per pupil in two households (same kana and
  birth date), ``gakureibo.household_namesake_pairs`` = 0.003 pairs of same-name cousins in one
  household (same kana, sex, address and guardian household; other birth dates); twins arise
  naturally (1.5% of later-born children);
* birth dates on the roster: ``gakureibo.birth_date.blank`` = 0.03, ``gakureibo.birth_date.wrong`` =
  0.01 (a valid wrong date: day ±1–3, day and month swapped, year ±1);
* kana as typed: ``gakureibo.name_kana.halfwidth`` = 0.04, ``gakureibo.name_kana.hiragana`` = 0.03,
  ``gakureibo.name_kana.space`` = 0.05, ``gakureibo.name_kana.long_vowel`` = 0.03,
  ``gakureibo.name_kana.small_kana`` = 0.02; ``juminhyo.name_kana.halfwidth`` = 0.02,
  ``juminhyo.name_kana.hiragana`` = 0.01; 外字: ``juminhyo.name.gaiji`` = 0.25 (of prone surnames),
  ``juminhyo.address.gaiji`` = 0.6 (of two towns); ``gakureibo.address_code.moved`` = 0.01;
  ``gakureibo.guardian_kana.blank`` = 0.05;
* 学年 as ``小5`` (the rest), ``5`` (``grade.numeric`` = 0.1) or ``５年`` / ``5年`` within the school
  (``grade.school_year`` = 0.1: a 中学校's 2年 is 中2);
* rendering: ``date.alt_format`` = 0.15, ``month.alt_format`` = 0.2, ``fy.era`` = 0.2,
  ``number.comma`` = 0.25, ``number.fullwidth`` = 0.03, ``id.fullwidth`` = 0.01, ``sex.kanji`` =
  0.3, ``relation.ordinal`` = 0.15, ``handbook_grade.fullwidth`` = 0.05, ``flag.blank_for_no`` = 0.5,
  ``duplicate_rows`` = 0.002;
* rows that must be quarantined: ``invalid_rows`` = 0.001 of the rows of every contract file with at
  least dirt.INVALID_MIN_ROWS (20) rows, and at least one there, at every scale (registry rows only
  of people removed before the first truth date; consent.csv too: `consent import` quarantines them);
* counter and CSW consents: ``consent.rows_per_resident`` = 0.238 (izumi: ~44,000 rows of consent.csv).

Dates: the export date ``as_of`` defaults to 2026-11-01; data is as of that day. Truth dates must be
on or before it; the defaults are 2026-02-15 (FY2025), 2026-05-10 and 2026-11-01 (FY2026), spanning
the fiscal-year boundary. Pupils whose household moved away left before the first truth date, so a
linker that does or does not link them to their removed juminhyo row gets the same rule results.
"""
from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from .city import IZUMI_TABLE, RESIDENTS, build_city
from .dirt import DIRT_RATES
from .writer import truth_matches, write_city

AS_OF = date(2026, 11, 1)
DEFAULT_TRUTH_DATES = (date(2026, 2, 15), date(2026, 5, 10), date(2026, 11, 1))
SCALES = tuple(RESIDENTS)

__all__ = ["generate", "AS_OF", "DEFAULT_TRUTH_DATES", "SCALES", "IZUMI_TABLE", "DIRT_RATES"]


def generate(scale: str, seed: int, out: Path, truth_dates: list[date] | None = None, *,
             as_of: date = AS_OF) -> dict:
    """Write a synthetic city to ``out`` and return a summary (rows per file, matches, seconds).

    Same scale, seed, dates → byte-identical files. ``scale``: tiny (~300 residents), small
    (~20,000) or izumi (~185,000, mission.md's table).
    """
    dates = sorted(set(truth_dates or DEFAULT_TRUTH_DATES))
    late = [d for d in dates if d > as_of]
    if late:
        raise ValueError(f"truth dates after the export date {as_of}: {', '.join(map(str, late))}")
    seconds = {}
    t = time.perf_counter()
    city = build_city(scale, seed, as_of, dates)
    seconds["build"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    truth = truth_matches(city, dates)
    seconds["reference"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    summary = write_city(city, Path(out), truth, seconds)
    seconds["write"] = round(time.perf_counter() - t, 2)
    seconds["total"] = round(sum(seconds.values()), 2)
    return summary
