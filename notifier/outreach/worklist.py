"""The coordinators' worklist (見守りケース一覧): outreach cases filtered, sorted by priority points or
waiting time, one page at a time, in two SQL queries (a count and the page) so it answers quickly with
thousands of open cases. A caseworker's list holds only their organisation's cases. The signals shown
beside the points follow the case page's rule (cases.visible_signals)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifier.contract import OUTREACH_ROUTES
from notifier.models import OutreachCase
from notifier.outreach.cases import visible_condition, visible_signals

SORTS = {"priority": "優先度の高い順", "waiting": "待ち日数の長い順", "newest": "新しい順"}
STATUSES = {"open": "対応中", "closed": "終了", "all": "すべて"}
UNASSIGNED = "__none__"
PAGE_SIZE = 50


@dataclass(frozen=True)
class Filters:
    rule_id: str | None = None
    route: str | None = None
    school_code: str | None = None
    area: str | None = None            # 住所コード prefix
    status: str = "open"
    min_wait_days: int | None = None
    organisation: str | None = None    # an organisation, or UNASSIGNED
    sort: str = "priority"

    def args(self) -> dict:
        """The filters as query arguments (for links that keep them)."""
        out = {"rule": self.rule_id, "route": self.route, "school": self.school_code, "area": self.area,
               "status": self.status if self.status != "open" else None,
               "wait": self.min_wait_days, "org": self.organisation,
               "sort": self.sort if self.sort != "priority" else None}
        return {k: v for k, v in out.items() if v not in (None, "")}


class FilterError(ValueError):
    pass


def parse_filters(args) -> Filters:
    """Filters from query arguments; a value outside its vocabulary is refused (Japanese message)."""
    def text(name, limit=64):
        v = (args.get(name) or "").strip()
        if len(v) > limit:
            raise FilterError(f"{name}: 長すぎます。")
        return v or None
    f = Filters(rule_id=text("rule"), route=text("route"), school_code=text("school"), area=text("area", 32),
                status=text("status") or "open", organisation=text("org", 200), sort=text("sort") or "priority")
    if f.route is not None and f.route not in OUTREACH_ROUTES:
        raise FilterError("経路の指定が正しくありません。")
    if f.status not in STATUSES:
        raise FilterError("状況の指定が正しくありません。")
    if f.sort not in SORTS:
        raise FilterError("並べ替えの指定が正しくありません。")
    if f.area is not None and not f.area.isdigit():
        raise FilterError("地区は住所コードの先頭の数字で指定します。")
    wait = text("wait")
    if wait is not None:
        if not wait.isdigit() or int(wait) > 3650:
            raise FilterError("待ち日数は 0 から 3650 までの整数で指定します。")
        f = replace(f, min_wait_days=int(wait))
    return f


@dataclass(frozen=True)
class Page:
    total: int
    page: int
    pages: int
    rows: list[dict]


def _conditions(f: Filters, viewer, today: date) -> list:
    c = [visible_condition(viewer)]
    if f.status != "all":
        c.append(OutreachCase.status == f.status)
    if f.rule_id:
        c.append(OutreachCase.rule_id == f.rule_id)
    if f.route:
        c.append(OutreachCase.route == f.route)
    if f.school_code:
        c.append(OutreachCase.school_code == f.school_code)
    if f.area:
        c.append(OutreachCase.area_code.like(f.area + "%"))
    if f.min_wait_days is not None:
        c.append(OutreachCase.as_of <= today - timedelta(days=f.min_wait_days))
    if f.organisation == UNASSIGNED:
        c.append(OutreachCase.assigned_org.is_(None))
    elif f.organisation:
        c.append(OutreachCase.assigned_org == f.organisation)
    return c


COLUMNS = (OutreachCase.id, OutreachCase.setai_no, OutreachCase.rule_id, OutreachCase.route,
           OutreachCase.school_name, OutreachCase.area_code, OutreachCase.priority_points,
           OutreachCase.priority_signals, OutreachCase.status, OutreachCase.outcome, OutreachCase.assigned_org,
           OutreachCase.as_of, OutreachCase.last_contact_on, OutreachCase.consent_withdrawn_at)


def worklist(session: Session, f: Filters, *, viewer, today: date, page: int = 1,
             page_size: int = PAGE_SIZE) -> Page:
    cond = _conditions(f, viewer, today)
    total = session.scalar(select(func.count()).select_from(OutreachCase).where(*cond)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    order = {"priority": (OutreachCase.priority_points.desc(), OutreachCase.as_of, OutreachCase.id),
             "waiting": (OutreachCase.as_of, OutreachCase.priority_points.desc(), OutreachCase.id),
             "newest": (OutreachCase.as_of.desc(), OutreachCase.id.desc())}[f.sort]
    rows = session.execute(select(*COLUMNS).where(*cond).order_by(*order)
                           .limit(page_size).offset((page - 1) * page_size)).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        # A closed case no longer waits (its count would grow for ever).
        d["waiting_days"] = (today - r["as_of"]).days if r["status"] == "open" else None
        shown, hidden = visible_signals(r["priority_signals"], viewer)
        d["signals"] = [s["label"] for s in shown][:3]
        d["hidden_signals"] = hidden       # counted in the points, not named (as on the case page)
        out.append(d)
    return Page(total=total, page=page, pages=pages, rows=out)


def choices(session: Session, viewer) -> dict:
    """What the filters offer: rules, schools and organisations that occur in the viewer's cases."""
    vis = visible_condition(viewer)
    rules = sorted(set(session.scalars(select(OutreachCase.rule_id).where(vis).distinct())))
    schools = session.execute(select(OutreachCase.school_code, func.min(OutreachCase.school_name))
                              .where(vis, OutreachCase.school_code.is_not(None))
                              .group_by(OutreachCase.school_code).order_by(func.min(OutreachCase.school_name))).all()
    orgs = sorted(set(session.scalars(select(OutreachCase.assigned_org)
                                      .where(vis, OutreachCase.assigned_org.is_not(None)).distinct())))
    return {"rules": rules, "schools": [(c, n) for c, n in schools], "organisations": orgs}


AGE_BANDS = ((0, 7, "7日未満"), (7, 14, "7〜13日"), (14, 30, "14〜29日"), (30, None, "30日以上"))


def open_case_ages(session: Session, today: date) -> list[tuple[str, int]]:
    """Open cases by how long they have waited since they opened (for the operations panel)."""
    out = []
    for lo, hi, label in AGE_BANDS:
        cond = [OutreachCase.status == "open", OutreachCase.as_of <= today - timedelta(days=lo)]
        if hi is not None:
            cond.append(OutreachCase.as_of > today - timedelta(days=hi))
        out.append((label, session.scalar(select(func.count()).select_from(OutreachCase).where(*cond)) or 0))
    return out
