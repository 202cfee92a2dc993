"""Household table (世帯テーブル): current residents grouped by 世帯番号 with vectorised features.

`build_household_table(sources, links, as_of)` is the one entry point; see rules.md for the exact
definitions it implements (current resident, age, 児童, latest tax year, household income …).
"""
from .dates import age_on, fiscal_year, is_jido, school_age_on
from .features import build_household_table
from .frames import empty_consents, empty_links, empty_sources, source_frame
from .table import HouseholdTable

__all__ = ["build_household_table", "HouseholdTable", "fiscal_year", "age_on", "school_age_on",
           "is_jido", "source_frame", "empty_sources", "empty_links", "empty_consents"]
