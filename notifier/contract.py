"""The service's shared vocabulary: the data contract (files, columns, kinds, codes) and every
code list the stages agree on (relations, grades, handbook grades, care levels, sensitivity classes,
consent scopes and channels, roles).

Every other part of the service names source fields by the English ``field`` names below, so this
module is the one place where the city's Japanese column headers meet the code. It imports nothing
from the service: every layer may import it.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field


@dataclass(frozen=True)
class Column:
    header: str            # Japanese header in the default layout
    field: str             # canonical English field name (database column, frame column)
    kind: str              # id | text | kana | date | month | fy | int | code | sex | grade | flag | datetime
    required: bool = False
    codes: tuple[str, ...] = ()   # allowed values for kind == "code" (after NFKC + strip)


@dataclass(frozen=True)
class Source:
    name: str              # table suffix and default file stem
    title: str             # Japanese title for staff screens
    columns: tuple[Column, ...]
    key: str = "atena_no"  # the person key: atena_no, or pupil_id for education-board files
    sensitivity: tuple[str, ...] = ()
    filename: str = ""
    extra: dict = dc_field(default_factory=dict)

    @property
    def file(self) -> str:
        return self.filename or f"{self.name}.csv"

    def column(self, field: str) -> Column:
        for c in self.columns:
            if c.field == field:
                return c
        raise KeyError(field)


# 続柄, relative to the 世帯主 (data-contract.md).
RELATIONS = ("世帯主", "妻", "夫", "子", "父", "母", "祖父", "祖母", "孫", "兄", "姉", "弟", "妹",
             "子の妻", "子の夫", "同居人", "縁故者", "その他")
# The registry also writes children by birth order (長男, 二女, 十一男) or as adopted (養子, 養女):
# all of them read as 子.
CHILD_RELATION_RE = r"(?:長|次|十?[二三四五六七八九]|十[一二三四五六七八九]?)[男女]|養子|養女"
SPOUSE_RELATIONS = ("妻", "夫")
HEAD_RELATION = "世帯主"


def fold_relation(relation: str | None) -> str | None:
    """続柄 as written → the contract's relation (長男/二女/養子 … → 子); None stays None."""
    import re
    if relation is None:
        return None
    return "子" if re.fullmatch(CHILD_RELATION_RE, relation) else relation


# 学年: 小1 … 中3 are stored as 1 … 9.
GRADES = ("小1", "小2", "小3", "小4", "小5", "小6", "中1", "中2", "中3")
GRADE_LABELS = {i: g for i, g in enumerate(GRADES, start=1)}
ELEMENTARY_GRADES = range(1, 7)
JUNIOR_HIGH_GRADES = range(7, 10)
# The grades each kind of school has, by how its 学校名 ends (longest ending first: 小中学校 also ends
# in 中学校). 学年 written as the year within the school (「2年」, 「２年生」) is read through it: a
# 中学校's 2年 is 中2 (8), a 小学校's 2年 is 小2 (2), a 義務教育学校's 7年 is 中1 (7).
SCHOOL_KIND_GRADES = {"義務教育学校": range(1, 10), "小中学校": range(1, 10),
                      "小学校": ELEMENTARY_GRADES, "中学校": JUNIOR_HIGH_GRADES}

# 要介護状態区分 in order of need; CARE_RANK 要支援1 = 1 … 要介護5 = 7 (0 = no certification).
CARE_LEVELS = ("要支援1", "要支援2", "要介護1", "要介護2", "要介護3", "要介護4", "要介護5")
CARE_RANK = {level: i + 1 for i, level in enumerate(CARE_LEVELS)}

# 障害者手帳: kinds, and the grades each kind uses (身体 and 精神 stored as "1級" even when written "1").
HANDBOOK_KINDS = ("身体", "精神", "療育")
HANDBOOK_GRADES = ("1級", "2級", "3級", "4級", "5級", "6級", "A", "A1", "A2", "B", "B1", "B2")
HANDBOOK_GRADE_PATTERNS = {"身体": r"([1-6])級?", "精神": r"([1-3])級?", "療育": r"A|B|A1|A2|B1|B2"}
HANDBOOK_GRADES_BY_KIND = {"身体": HANDBOOK_GRADES[:6], "精神": HANDBOOK_GRADES[:3], "療育": HANDBOOK_GRADES[6:]}

# 性別 as written → 1 male / 2 female.
SEX_CODES = {"1": 1, "男": 1, "男性": 1, "2": 2, "女": 2, "女性": 2}

DISABILITY_SERVICE_KINDS = ("居宅介護", "重度訪問介護", "生活介護", "移動支援", "児童発達支援",
                            "放課後等デイサービス", "短期入所", "自立支援医療")
CHECKUP_KINDS = ("4か月児", "1歳6か月児", "3歳児")

# Data sensitivity classes (rules.md "What a match does"), in display order.
SENSITIVITY_CLASSES = ("tax", "welfare", "disability", "care", "education", "child-welfare")
SENSITIVITY_LABELS = {"tax": "税", "welfare": "福祉", "disability": "障害", "care": "介護",
                      "education": "教育", "child-welfare": "児童福祉"}

# Consent (mission.md): scopes, and the channels a statement can arrive through.
CONSENT_SCOPES = ("notify", "tax")
CONSENT_SCOPE_LABELS = {"notify": "お知らせの送付", "tax": "所得状況の確認（課税情報）"}
# Where a consent statement came in (consent_events.channel), as staff pages name it.
CONSENT_CHANNEL_LABELS = {"LINE": "LINE（トーク）", "LIFF": "LINE（同意ページ）", "窓口": "窓口", "CSW": "CSW", "職員": "職員"}
CONSENT_ACTIONS = ("grant", "withdraw")
CONSENT_CHANNELS = ("LINE", "LIFF", "窓口", "CSW", "職員")
# Channels on which staff may record a *grant*: only what the resident said to them in person.
STAFF_GRANT_CHANNELS = ("窓口", "CSW")

# Who checks on a household that did not respond (issue "Follow-up"): the school and its SSW when a
# member is an enrolled pupil; the public-health nurse when the youngest child is under 6 and no member
# is a pupil; otherwise the community social worker.
OUTREACH_ROUTES = {
    "school_ssw": "学校・スクールソーシャルワーカー（SSW）",
    "health_nurse": "保健師（母子保健）",
    "csw": "コミュニティソーシャルワーカー（CSW・いきいきネット相談支援センター）",
}
# Outcomes of an outreach case, in the pilots' words (issue 13; Fukuoka's and Amagasaki's reports).
CASE_OUTCOMES = ("接触できた", "ニーズあり", "ニーズなし", "申請につながった", "就園につながった", "要対協に登録",
                 "相談窓口につないだ", "他事業につないだ", "転出", "接触できず継続")
# Contacts logged on a case, and the kinds of organisation a case is assigned to.
CONTACT_KINDS = {"visit": "家庭訪問", "phone": "電話", "school_check": "学校での確認", "other": "その他"}
CONTACT_RESULTS = ("会えた・話せた", "不在・応答なし", "学校で様子を確認", "その他")
ORGANISATION_KINDS = {"school": "学校", "ssw": "スクールソーシャルワーカー", "csw": "CSW事務所", "health": "保健センター",
                      "kodomo_shokudo": "こども食堂", "other": "その他の機関"}
# The 要対協 check is not consent-based: a withdrawal stops reminders, never an open case.
CASE_CONSENT_NOTE = ("通知の同意は撤回されていますが、要保護児童対策地域協議会（要対協）での見守りは同意に基づくものではないため、"
                     "このケースは続きます。")
# Case status as shown to staff and partners (models.outreach.CASE_STATUSES).
CASE_STATUS_LABELS = {"open": "対応中", "closed": "終了"}
# Exports of outreach cases (outreach/export.py): what each file holds and who may make it on the web.
OUTREACH_EXPORT_KINDS = {
    "masked": "仮名化した一覧（連携機関向け）",
    "identified": "個人を特定できる一覧（市役所内）",
    "key_table": "仮名IDの対応表（管理者のみ）",
}
PRESCHOOL_AGE_LIMIT = 6       # the youngest child "under 6" goes to the public-health nurse
OUTREACH_LEGAL_BASIS = ("要保護児童対策地域協議会（要対協）における情報共有"
                        "（児童福祉法第25条の2・第25条の3）")

# Staff roles (design.md "Staff web app").
ROLES = ("admin", "rule_author", "rule_approver", "coordinator", "caseworker", "auditor")
ROLE_LABELS = {"admin": "管理者", "rule_author": "ルール作成者", "rule_approver": "ルール承認者",
               "coordinator": "コーディネーター", "caseworker": "支援機関担当者", "auditor": "監査担当者"}

C = Column
SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("juminhyo", "住民基本台帳", (
        C("宛名番号", "atena_no", "id", True),
        C("世帯番号", "setai_no", "id", True),
        C("氏名", "name", "text", True),
        C("氏名カナ", "name_kana", "kana", True),
        C("生年月日", "birth_date", "date", True),
        C("性別", "sex", "sex", True),
        C("続柄", "relation", "relation", True),
        C("住所コード", "address_code", "id", True),
        C("住所", "address", "text"),
        C("住民となった日", "resident_since", "date"),
        C("消除日", "removed_on", "date"),
        C("消除事由", "removal_reason", "code", codes=("転出", "死亡", "その他")),
    )),
    Source("shiminzei", "市民税", (
        C("宛名番号", "atena_no", "id", True),
        C("課税年度", "tax_year", "fy", True),
        C("合計所得金額", "total_income", "int", True),
        C("所得割額", "income_levy", "int"),
        C("均等割額", "per_capita_levy", "int"),
        C("課税区分", "tax_class", "code", True, ("課税", "均等割のみ", "非課税")),
        C("ひとり親控除", "hitorioya_deduction", "flag"),
        C("寡婦控除", "widow_deduction", "flag"),
        C("扶養親族数", "dependents", "int"),
    ), sensitivity=("tax",)),
    Source("shogai_techo", "障害者手帳", (
        C("宛名番号", "atena_no", "id", True),
        C("手帳種別", "handbook_kind", "code", True, HANDBOOK_KINDS),
        C("等級", "grade", "handbook_grade", True),
        C("交付日", "issued_on", "date", True),
        C("有効期限", "valid_until", "date"),
        C("返還日", "returned_on", "date"),
    ), sensitivity=("disability",)),
    Source("shogai_service", "障害福祉サービス", (
        C("宛名番号", "atena_no", "id", True),
        C("サービス種類", "service_kind", "code", True, DISABILITY_SERVICE_KINDS),
        C("支給決定開始日", "start_on", "date", True),
        C("支給決定終了日", "end_on", "date"),
    ), sensitivity=("disability",)),
    Source("kaigo_nintei", "介護保険認定", (
        C("宛名番号", "atena_no", "id", True),
        C("要介護状態区分", "care_level", "code", True, CARE_LEVELS),
        C("認定有効期間開始日", "start_on", "date", True),
        C("認定有効期間終了日", "end_on", "date", True),
    ), sensitivity=("care",)),
    Source("kaigo_service", "介護保険サービス", (
        C("宛名番号", "atena_no", "id", True),
        C("サービス種類", "service_kind", "text", True),
        C("サービス提供年月", "service_month", "month", True),
    ), sensitivity=("care",)),
    Source("jido_fuyo_teate", "児童扶養手当", (
        C("受給者宛名番号", "atena_no", "id", True),
        C("支給区分", "payment_class", "code", True, ("全部支給", "一部支給", "全部停止")),
        C("認定日", "certified_on", "date", True),
        C("資格喪失日", "lost_on", "date"),
    ), sensitivity=("welfare",)),
    Source("jido_teate", "児童手当", (
        C("受給者宛名番号", "atena_no", "id", True),
        C("児童宛名番号", "child_atena_no", "id", True),
        C("認定日", "certified_on", "date", True),
        C("消滅日", "ended_on", "date"),
    )),
    Source("kodomo_iryo", "こども医療", (
        C("宛名番号", "atena_no", "id", True),
        C("資格開始日", "start_on", "date", True),
        C("資格終了日", "end_on", "date"),
    )),
    Source("seikatsu_hogo", "生活保護", (
        C("宛名番号", "atena_no", "id", True),
        C("保護開始日", "start_on", "date", True),
        C("保護廃止日", "end_on", "date"),
    ), sensitivity=("welfare",)),
    Source("gakureibo", "学齢簿・児童生徒", (
        C("児童生徒番号", "pupil_id", "key", True),
        C("氏名カナ", "name_kana", "kana", True),
        C("生年月日", "birth_date", "date"),
        C("性別", "sex", "sex", True),
        C("住所コード", "address_code", "id"),
        C("住所", "address", "text"),
        C("学校コード", "school_code", "text", True),
        C("学校名", "school_name", "text", True),
        C("学年", "grade", "grade", True),
        C("保護者氏名カナ", "guardian_kana", "kana"),
    ), key="pupil_id", sensitivity=("education",)),
    Source("shusseki", "出欠", (
        C("児童生徒番号", "pupil_id", "key", True),
        C("年月", "month", "month", True),
        C("授業日数", "school_days", "int", True),
        C("欠席日数", "absent_days", "int", True),
        C("遅刻日数", "late_days", "int"),
    ), key="pupil_id", sensitivity=("education",)),
    Source("shugaku_enjo", "就学援助", (
        C("児童生徒番号", "pupil_id", "key", True),
        C("認定年度", "fiscal_year", "fy", True),
        C("認定区分", "cert_class", "code", True, ("要保護", "準要保護")),
        C("認定日", "certified_on", "date", True),
        C("取消日", "cancelled_on", "date"),
    ), key="pupil_id", sensitivity=("education",)),
    Source("hoiku", "保育", (
        C("宛名番号", "atena_no", "id", True),
        C("施設名", "facility", "text", True),
        C("入所日", "start_on", "date", True),
        C("退所日", "end_on", "date"),
    )),
    Source("boshi_kenshin", "乳幼児健診", (
        C("宛名番号", "atena_no", "id", True),
        C("健診種別", "checkup_kind", "code", True, CHECKUP_KINDS),
        C("対象年月", "target_month", "month", True),
        C("受診日", "attended_on", "date"),
    )),
    Source("kajiso", "家庭児童相談", (
        C("宛名番号", "atena_no", "id", True),
        C("相談種別", "consult_kind", "text", True),
        C("受付日", "received_on", "date", True),
        C("終結日", "closed_on", "date"),
    ), sensitivity=("child-welfare",)),
    Source("online_shinsei", "オンライン申請", (
        C("申請ID", "application_id", "text", True),
        C("申請者宛名番号", "atena_no", "id", True),
        C("手続きコード", "procedure_code", "text", True),
        C("手続き名", "procedure_name", "text"),
        C("申請日時", "applied_at", "datetime", True),
    )),
)}

# consent.csv (data-contract.md): consents taken at counters or by CSWs, for `notifier consent import`.
# Not a source snapshot: each row becomes consent history.
CONSENT_FILE = Source("consent", "窓口・CSWで受け付けた同意", (
    C("宛名番号", "atena_no", "id", True),
    C("種別", "kind", "code", True, ("同意", "撤回")),
    C("同意範囲", "scope", "code", True, ("notify", "notify;tax")),
    C("取得日時", "granted_at", "datetime", True),
    C("チャネル", "channel", "code", True, STAFF_GRANT_CHANNELS),
    C("職員ID", "staff_id", "text", True),
))
del C

# What the import history (取込履歴) calls each import's source: a contract source, or the counter-consent
# file. A consent import is recorded like the others (rows read, stored, quarantined) but it adds consent
# history and is never a source snapshot: no rule reads it and its age never holds a rule back.
CONSENT_IMPORT_SOURCE = CONSENT_FILE.name
IMPORT_SOURCE_LABELS = {name: s.title for name, s in SOURCES.items()} | {CONSENT_IMPORT_SOURCE: CONSENT_FILE.title}

# How old a source's latest snapshot may be before rules that read it are not evaluated (days from the
# import to the business date). Most exports are monthly; the tax roll is assessed once a year.
# Operators override per source with SOURCE_MAX_AGE_DAYS ("shiminzei=400,hoiku=60").
DEFAULT_SOURCE_MAX_AGE_DAYS = 40
SOURCE_MAX_AGE_DAYS = {name: DEFAULT_SOURCE_MAX_AGE_DAYS for name in SOURCES} | {"shiminzei": 400}
# A source on a business date: usable, never imported, or its latest snapshot is too old.
SOURCE_OK, SOURCE_MISSING, SOURCE_STALE = "ok", "missing", "stale"

# Kinds and how they are stored:
#   id        digit string, leading zeros kept (NFKC first, so full-width digits are accepted)
#   key       school-system identifier: ASCII letters, digits and hyphens (upper-cased after NFKC)
#   text      NFKC-free original text, kept for display
#   kana      original kept in `field`; `field_strict` / `field_loose` hold the matching keys
#   date      datetime.date (blank = none)
#   month     first day of the month as a date (2025-04, 202504, R7.4)
#   fy        fiscal year as an int (2025, 令和7, R7)
#   int       integer yen or counts (commas, full-width digits accepted)
#   code      one of `codes`
#   sex       1 male / 2 female (1, 男, 2, 女)
#   relation  続柄 as written; `relation_norm` folds 長男/長女/二男… to 子
#   grade     1–9 (小1=1 … 中3=9; the bare numbers 1–9 are accepted; 「N年」 by the school's kind,
#             SCHOOL_KIND_GRADES; a grade the named kind of school does not have is refused)
#   handbook_grade  身体 1–6級, 精神 1–3級 (stored as "1級" even when written "1"), 療育 A/B/A1/A2/B1/B2
#   flag      bool (有 = True; 無 or blank = False)
#   datetime  JST date-time, stored as naive UTC


# Words a lock screen must never show (a notice's altText and its header line, which LINE's
# notification and chat list preview): they would tell anyone glancing at the phone why the household
# was chosen, or which service it is. One list, read by the template check (outbox/templates.py).
SENSITIVE_WORDS = (
    "生活保護", "保護費", "障害", "障がい", "障碍", "手帳", "療育", "介護", "要介護", "ヘルパー",
    "ひとり親", "母子", "父子", "寡婦", "離婚", "貧困", "困窮", "低所得", "非課税", "課税", "所得",
    "収入", "税", "虐待", "ヤングケアラー", "ケアラー", "児童扶養", "扶養手当", "就学援助", "援助",
    "未受診", "健診", "医療費", "助成", "手当", "給付", "支援", "福祉", "病気", "疾病", "精神",
    "要対協", "要保護", "滞納", "未就園",
)
# Words that give a reason or a personal finding (why the household was chosen): never in any part of
# a message, body included (rules.md: reasons are for staff, never for the message).
REASON_WORDS = (
    "所得", "課税", "非課税", "低所得", "貧困", "困窮", "生活保護", "虐待", "ヤングケアラー", "未受診",
    "滞納", "要保護", "要対協", "判定", "該当", "抽出", "あなたの世帯は", "お宅は",
)
