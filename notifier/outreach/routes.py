"""Who should check on a household (pure): the suggested route of an outreach case, from the
household table — the school and its SSW when a member is an enrolled pupil (the school from the
roster), the public-health nurse when the youngest child is under 6 and no member is a pupil,
otherwise the community social worker (CSW)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from notifier.contract import PRESCHOOL_AGE_LIMIT
from notifier.households.table import HouseholdTable


def suggest_routes(table: HouseholdTable, setai_nos) -> pd.DataFrame:
    """One row per household asked for: setai_no, route, school_code, school_name (the school of the
    youngest enrolled pupil; missing unless the route is school_ssw). Households not in the table (no
    current resident on the table's date) have a missing route."""
    wanted = pd.Index(pd.Series(list(setai_nos), dtype="str"), name="setai_no")
    pos = table.household_positions(wanted)
    m = table.members
    hh = m["hh"].to_numpy()
    age = m["age"].to_numpy(dtype="float64", na_value=np.nan)
    grade = m["grade"].to_numpy(dtype="float64", na_value=np.nan)
    pupil = ~np.isnan(grade)
    n = table.n
    has_pupil = np.bincount(hh[pupil], minlength=n) > 0
    youngest = np.full(n, np.inf)
    known = ~np.isnan(age)
    np.minimum.at(youngest, hh[known], age[known])
    young_child = youngest < PRESCHOOL_AGE_LIMIT
    route = np.where(has_pupil, "school_ssw", np.where(young_child, "health_nurse", "csw")).astype(object)
    # The youngest pupil's school: sort pupils by household, then grade, and take the first of each.
    pupils = m.loc[pupil, ["hh", "grade", "school_code", "school_name"]].sort_values(["hh", "grade"], kind="stable")
    first = pupils.drop_duplicates("hh")
    school_code = pd.Series(pd.NA, index=range(n), dtype="str")
    school_name = pd.Series(pd.NA, index=range(n), dtype="str")
    school_code.iloc[first["hh"].to_numpy()] = first["school_code"].to_numpy()
    school_name.iloc[first["hh"].to_numpy()] = first["school_name"].to_numpy()
    ok = pos >= 0
    p = np.where(ok, pos, 0)

    def values(series: pd.Series) -> np.ndarray:
        arr = series.astype(object).to_numpy().copy()
        arr[series.isna().to_numpy()] = None
        return np.where(ok, arr[p], None)

    return pd.DataFrame({
        "setai_no": wanted.astype(str),
        "route": np.where(ok, route[p], None),
        "school_code": values(school_code),
        "school_name": values(school_name),
    })
