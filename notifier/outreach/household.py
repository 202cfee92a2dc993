"""The household page (世帯の情報, issue 13 §2): one household's members, every program's use per member,
the matches of the latest eligibility run with their reasons, open outreach cases and the notices sent,
for coordinators and admins, with its one-page A4 print.

Service layer: it takes the caller's Session, reads only this household's rows of the stored source
snapshots (never the whole city), and writes the one audit row of the view. The per-member facts come
from the household table itself (`build_household_table` over the household's rows), so ages, 学年,
active periods and the latest tax year mean exactly what they mean to the rules (rules.md).

Addressing: the page's URL never carries a 世帯番号 or 宛名番号. `household_token` turns the 世帯番号
into an opaque token, a deterministic authenticated encryption keyed by the app's secret (SIV
construction with HMAC-SHA256: tag = HMAC(k1, 世帯番号)[:16], body = 世帯番号 XOR HMAC(k2, tag)); the
server turns it back with `setai_from_token`, which refuses any token it did not make. So the same
household always has the same address (other pages can link to it), nobody can guess or read a
household's address, and a changed secret retires every old address.

Search: the form posts the number (never a query string); a 世帯番号 of a current household is taken
first, else a current resident's 宛名番号 leads to their household.

Permissions: tax-derived values (市民税: 課税区分, 所得, ひとり親控除) only for users with the tax permission;
sources of sensitivity "welfare" or "child-welfare" (生活保護, 児童扶養手当, 家庭児童相談) only with the
child-welfare permission. A match's reasons that read such data are hidden the same way. Hidden items
say HIDDEN_TEXT.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from notifier import audit, clock
from notifier.contract import GRADE_LABELS, SOURCES
from notifier.eligibility.dao import latest_run, rule_names
from notifier.eligibility.engine import reason_text
from notifier.households import build_household_table, source_frame
from notifier.households.dates import active
from notifier.models import EligibilityMatch, Notice, OutreachCase, PupilLink
from notifier.models.sources import SOURCE_TABLES
from notifier.residents import current_condition

HIDDEN_TEXT = "権限がないため表示していません"
NOT_FOUND_TEXT = "この番号の世帯は見つかりませんでした。世帯番号または宛名番号をご確認ください。"
SEX_LABELS = {1: "男", 2: "女"}
NOTICE_KIND_LABELS = {"notice": "お知らせ", "reminder": "リマインド"}

# The programs shown per member, in the order of the table's columns: (key, label, source, gate).
# gate: None (every coordinator), "tax" (tax permission), "welfare" (child-welfare permission).
PROGRAMS = (
    ("jido_teate", "児童手当", "jido_teate", None),
    ("jido_fuyo_teate", "児童扶養手当", "jido_fuyo_teate", "welfare"),
    ("kodomo_iryo", "こども医療", "kodomo_iryo", None),
    ("shugaku_enjo", "就学援助", "shugaku_enjo", None),
    ("seikatsu_hogo", "生活保護", "seikatsu_hogo", "welfare"),
    ("shogai_techo", "障害者手帳", "shogai_techo", None),
    ("shogai_service", "障害福祉サービス", "shogai_service", None),
    ("kaigo", "介護認定・サービス", "kaigo_nintei", None),
    ("hoiku", "保育", "hoiku", None),
    ("kenshin", "乳幼児健診", "boshi_kenshin", None),
    ("kajiso", "家庭児童相談", "kajiso", "welfare"),
    ("shusseki", "出欠（直近の月）", "shusseki", None),
    ("online_shinsei", "オンライン申請", "online_shinsei", None),
    ("shiminzei", "市民税", "shiminzei", "tax"),
)
WELFARE_CLASSES = {"welfare", "child-welfare"}


class HouseholdNotFound(LookupError):
    """No current household for the number or token (the Japanese text is NOT_FOUND_TEXT)."""

    def __init__(self):
        super().__init__(NOT_FOUND_TEXT)


# --- addressing ----------------------------------------------------------------------------------
# A household's page address is its 世帯番号 encrypted with AES-SIV (RFC 5297, from `cryptography`):
# deterministic, so one household always has one address, and authenticated, so a token this secret
# did not make is refused. The key is derived from the app's secret for this one purpose.
_PURPOSE = b"notifier household page address v1"


def _siv(secret: str | bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV
    s = secret.encode() if isinstance(secret, str) else secret
    return AESSIV(hmac.new(s, _PURPOSE, hashlib.sha512).digest())


def household_token(secret: str | bytes, setai_no: str) -> str:
    """The opaque, stable address of a household (URL-safe; reveals nothing without the secret)."""
    sealed = _siv(secret).encrypt(setai_no.encode(), [_PURPOSE])
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def setai_from_token(secret: str | bytes, token: str) -> str | None:
    """The 世帯番号 a token stands for, or None for a token this secret did not make."""
    from cryptography.exceptions import InvalidTag
    if not token or len(token) > 96 or not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return _siv(secret).decrypt(raw, [_PURPOSE]).decode()
    except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
        return None


# --- search --------------------------------------------------------------------------------------
def find_household(session: Session, number: str, as_of: date) -> tuple[str, str] | None:
    """(世帯番号, how it was found: 世帯番号 | 宛名番号) of the current household for a typed number."""
    t = SOURCE_TABLES["juminhyo"]
    now = current_condition(t, as_of)
    hit = session.execute(select(t.c.setai_no).where(t.c.setai_no == number, now).limit(1)).scalar()
    if hit is not None:
        return hit, "世帯番号"
    hit = session.execute(select(t.c.setai_no).where(t.c.atena_no == number, now)
                          .order_by(t.c.id.desc()).limit(1)).scalar()
    return (hit, "宛名番号") if hit is not None else None


# --- the page ------------------------------------------------------------------------------------
@dataclass
class MemberView:
    atena_no: str
    name: str
    name_kana: str
    relation: str
    sex: str
    birth_date: date | None
    age: int | None
    school: str | None          # 学校名 and 学年 (小3 / 中1) of an enrolled pupil
    programs: dict[str, str | None]   # key → what is used (None: not used; HIDDEN_TEXT: not shown)


@dataclass
class MatchView:
    rule_id: str
    name: str
    reasons: list[str]
    hidden_reasons: int


@dataclass
class HouseholdPage:
    setai_no: str
    address: str | None
    as_of: date
    members: list[MemberView]
    programs: list[tuple[str, str, bool]]   # key, label, shown to this user
    run_as_of: date | None
    matches: list[MatchView]
    cases: list[dict]
    notices: list[dict]
    viewed_by: str
    viewed_at: datetime                     # JST
    sees_tax: bool
    sees_welfare: bool
    notes: list[str] = field(default_factory=list)

    @property
    def unused(self) -> list[str]:
        """Labels of the shown programs no member uses (the print lists them on one line)."""
        return [label for key, label, shown in self.programs
                if shown and all(m.programs[key] is None for m in self.members)]

    def is_unused(self, key: str) -> bool:
        return all(m.programs[key] is None for m in self.members)

    @property
    def notices_sent(self) -> int:
        return sum(1 for n in self.notices if n["sent_on"] is not None)


def _rows(session: Session, name: str, where) -> pd.DataFrame:
    t = SOURCE_TABLES[name]
    cols = [c.field for c in SOURCES[name].columns] + (["relation_norm"] if name == "juminhyo" else [])
    rows = session.execute(select(*[t.c[c] for c in cols]).where(where).order_by(t.c.id)).mappings().all()
    return source_frame(name, [dict(r) for r in rows])


def _sources(session: Session, setai_no: str) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    j = SOURCE_TABLES["juminhyo"]
    people = select(j.c.atena_no).where(j.c.setai_no == setai_no).scalar_subquery()
    atenas = [a for (a,) in session.execute(select(j.c.atena_no).where(j.c.setai_no == setai_no).distinct())]
    sources = {"juminhyo": _rows(session, "juminhyo", j.c.atena_no.in_(people))}
    links = pd.DataFrame(session.execute(select(PupilLink.pupil_id, PupilLink.atena_no)
                                         .where(PupilLink.status == "linked", PupilLink.atena_no.in_(atenas))).all(),
                         columns=["pupil_id", "atena_no"]).astype("str")
    pupils = links["pupil_id"].tolist()
    for name, src in SOURCES.items():
        if name == "juminhyo":
            continue
        t = SOURCE_TABLES[name]
        if src.key == "pupil_id":
            where = t.c.pupil_id.in_(pupils)
        elif name == "jido_teate":
            where = or_(t.c.atena_no.in_(atenas), t.c.child_atena_no.in_(atenas))
        else:
            where = t.c.atena_no.in_(atenas)
        sources[name] = _rows(session, name, where) if atenas else source_frame(name)
    return sources, links


def _member_programs(src: dict[str, pd.DataFrame], m: pd.Series, table, as_of: date) -> dict[str, str | None]:
    """What each program shows for one member (None = not in use on as_of)."""
    a = m["atena_no"]
    t = pd.Timestamp(as_of)
    out: dict[str, str | None] = {}

    def on(name, start, end, key="atena_no", value=a):
        df = src[name]
        return df.loc[(df[key] == value).to_numpy(dtype=bool, na_value=False) & active(df[start], df[end], as_of)]

    parts = []
    if m["jido_teate_recipient"]:
        parts.append(f"受給者（児童 {len(on('jido_teate', 'certified_on', 'ended_on'))}人）")
    if m["jido_teate_child"]:
        parts.append("対象児童")
    out["jido_teate"] = "・".join(parts) or None
    jf = on("jido_fuyo_teate", "certified_on", "lost_on")
    out["jido_fuyo_teate"] = "・".join(dict.fromkeys(jf["payment_class"].dropna())) or ("受給" if len(jf) else None)
    out["kodomo_iryo"] = "資格あり" if m["kodomo_iryo"] else None
    if m["shugaku_enjo"]:
        se = src["shugaku_enjo"]
        se = se.loc[(se["pupil_id"] == m["pupil_id"]).to_numpy(dtype=bool, na_value=False)
                    & (se["fiscal_year"] == table.fiscal_year).to_numpy(dtype=bool, na_value=False)]
        out["shugaku_enjo"] = "・".join(dict.fromkeys(se["cert_class"].dropna())) or "認定"
    else:
        out["shugaku_enjo"] = None
    out["seikatsu_hogo"] = "受給中" if m["seikatsu_hogo"] else None
    books = [f"{kind}{m[col]}" for kind, col in (("身体", "handbook_shintai"), ("精神", "handbook_seishin"),
                                                 ("療育", "handbook_ryoiku")) if pd.notna(m[col])]
    out["shogai_techo"] = "・".join(books) or None
    ss = on("shogai_service", "start_on", "end_on")
    out["shogai_service"] = "・".join(dict.fromkeys(ss["service_kind"].dropna())) or None
    care = [m["care_level"]] if pd.notna(m["care_level"]) else []
    ks = src["kaigo_service"]
    recent = ks.loc[(ks["atena_no"] == a).to_numpy(dtype=bool, na_value=False)
                    & (ks["service_month"] >= t - pd.DateOffset(months=3)).to_numpy(dtype=bool, na_value=False)
                    & (ks["service_month"] <= t).to_numpy(dtype=bool, na_value=False)]
    if len(recent):
        care.append("サービス利用：" + "・".join(dict.fromkeys(recent["service_kind"].dropna())))
    out["kaigo"] = "／".join(care) or None
    ho = on("hoiku", "start_on", "end_on")
    out["hoiku"] = "・".join(dict.fromkeys(ho["facility"].dropna())) or None
    bk = src["boshi_kenshin"]
    bk = bk.loc[(bk["atena_no"] == a).to_numpy(dtype=bool, na_value=False)].sort_values("target_month")
    checks = []
    for _, r in bk.iterrows():
        if pd.notna(r["attended_on"]):
            checks.append(f"{r['checkup_kind']} 受診")
        elif pd.notna(r["target_month"]) and r["target_month"] < t.replace(day=1):
            checks.append(f"{r['checkup_kind']} 未受診")
        else:
            checks.append(f"{r['checkup_kind']} 対象（{r['target_month']:%Y-%m}）")
    out["kenshin"] = "・".join(checks) or None
    kj = on("kajiso", "received_on", "closed_on")
    out["kajiso"] = "・".join(dict.fromkeys(kj["consult_kind"].dropna())) or None
    out["shusseki"] = None
    if pd.notna(m["pupil_id"]):
        sk = src["shusseki"]
        sk = sk.loc[(sk["pupil_id"] == m["pupil_id"]).to_numpy(dtype=bool, na_value=False)
                    & (sk["month"] <= t).to_numpy(dtype=bool, na_value=False)].sort_values("month")
        if len(sk):
            last = sk.iloc[-1]
            out["shusseki"] = f"{last['month']:%Y-%m} 欠席 {int(last['absent_days'])}日／授業 {int(last['school_days'])}日"
    os_ = src["online_shinsei"]
    os_ = os_.loc[(os_["atena_no"] == a).to_numpy(dtype=bool, na_value=False)].sort_values("applied_at")
    out["online_shinsei"] = None
    if len(os_):
        last = os_.iloc[-1]
        what = last["procedure_name"] if isinstance(last["procedure_name"], str) else last["procedure_code"]
        out["online_shinsei"] = f"{len(os_)}件（最新：{what} {last['applied_at']:%Y-%m-%d}）"
    if m["has_tax_row"]:
        tax = [f"{int(m['tax_year'])}年度 {m['tax_class']}", f"合計所得 {int(m['total_income']):,}円"]
        if m["hitorioya_deduction"]:
            tax.append("ひとり親控除")
        if m["widow_deduction"]:
            tax.append("寡婦控除")
        out["shiminzei"] = "・".join(tax)
    else:
        out["shiminzei"] = None
    return out


def _int(v) -> int | None:
    return None if pd.isna(v) else int(v)


def _date(v) -> date | None:
    return None if pd.isna(v) else pd.Timestamp(v).date()


def build_page(session: Session, setai_no: str, *, user, as_of: date | None = None) -> HouseholdPage:
    """The household as `user` may see it on `as_of` (default: today in Japan). Raises HouseholdNotFound
    when the household has no current member."""
    as_of = as_of or clock.today_jst()
    sources, links = _sources(session, setai_no)
    table = build_household_table(sources, links, as_of)
    members = table.members
    members = members.loc[(members["setai_no"] == setai_no).to_numpy()]
    if members.empty:
        raise HouseholdNotFound()
    sees_tax = bool(user.sees_tax)
    sees_welfare = bool(user.child_welfare_permission)
    shown = {key: gate is None or (gate == "tax" and sees_tax) or (gate == "welfare" and sees_welfare)
             for key, _, _, gate in PROGRAMS}
    jumin = sources["juminhyo"].drop_duplicates("atena_no", keep="last").set_index("atena_no")
    views = []
    for _, m in members.iterrows():
        person = jumin.loc[m["atena_no"]]
        programs = _member_programs(sources, m, table, as_of)
        programs = {k: (v if shown[k] else HIDDEN_TEXT) for k, v in programs.items()}
        school = None
        if pd.notna(m["grade"]):
            school = f"{m['school_name']} {GRADE_LABELS[int(m['grade'])]}"
        views.append(MemberView(
            atena_no=m["atena_no"], name=person["name"], name_kana=person["name_kana"],
            relation=m["relation"], sex=SEX_LABELS.get(_int(m["sex"]), "不明"),
            birth_date=_date(m["birth_date"]), age=_int(m["age"]), school=school, programs=programs))
    views.sort(key=lambda v: (v.relation != "世帯主", v.birth_date or date.max, v.atena_no))
    # The address as the registry writes it, the head's first (members share it in the registry).
    addresses = jumin.loc[[v.atena_no for v in views], "address"].tolist()
    address = next((a for a in addresses if isinstance(a, str) and a), None)

    hidden_classes = ({"tax"} if not sees_tax else set()) | (WELFARE_CLASSES if not sees_welfare else set())
    run = latest_run(session)
    matches = []
    if run is not None:
        names = rule_names(session)
        rows = session.execute(select(EligibilityMatch.rule_id, EligibilityMatch.reasons)
                               .where(EligibilityMatch.run_id == run.id, EligibilityMatch.setai_no == setai_no)
                               .order_by(EligibilityMatch.rule_id)).all()
        for rule_id, reasons in rows:
            lines, hidden = [], 0
            for r in json.loads(reasons or "[]"):
                if set(r.get("sensitivity") or ()) & hidden_classes:
                    hidden += 1
                    continue
                try:
                    lines.append(reason_text(r))
                except (KeyError, TypeError, ValueError):
                    lines.append(r.get("label") or r.get("criterion", ""))
            matches.append(MatchView(rule_id, names.get(rule_id, rule_id), lines, hidden))

    cases = [{"id": c.id, "rule": c.rule_id, "rule_name": None, "opened_on": clock.utc_to_jst(c.opened_at).date(),
              "assigned_org": c.assigned_org}
             for c in session.scalars(select(OutreachCase).where(OutreachCase.setai_no == setai_no,
                                                                 OutreachCase.status == "open")
                                      .order_by(OutreachCase.opened_at, OutreachCase.id))]
    if cases:
        names = rule_names(session)
        for c in cases:
            c["rule_name"] = names.get(c["rule"], c["rule"])
    notices = [{"kind": NOTICE_KIND_LABELS.get(kind, kind), "as_of": day,
                "sent_on": clock.utc_to_jst(sent).date() if sent else None}
               for kind, day, sent in session.execute(
                   select(Notice.kind, Notice.as_of, Notice.first_sent_at).where(Notice.setai_no == setai_no)
                   .order_by(Notice.as_of, Notice.id))]
    return HouseholdPage(
        setai_no=setai_no, address=address, as_of=as_of, members=views,
        programs=[(key, label, shown[key]) for key, label, _, _ in PROGRAMS],
        run_as_of=run.as_of if run is not None else None, matches=matches, cases=cases, notices=notices,
        viewed_by=user.display_name, viewed_at=clock.now_jst(), sees_tax=sees_tax, sees_welfare=sees_welfare)


def view(session: Session, setai_no: str, *, user, actor, via: str, printed: bool = False,
         as_of: date | None = None) -> HouseholdPage:
    """build_page and the view's audit row, in the caller's transaction (the caller commits)."""
    page = build_page(session, setai_no, user=user, as_of=as_of)
    audit.record(session, "view_household", actor=actor, target_type="household", target_id=setai_no,
                 detail={"via": via, "page": "print" if printed else "household",
                         "members": len(page.members)})
    return page
