"""Staff consent pages (同意の管理): find a household, see each member's consent state and history,
record consents taken at the counter or by a CSW, written-request withdrawals, and undo wrong LINE links.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from notifier import audit, clock, db
from notifier.clock import JST
from notifier.consent import service as consent
from notifier.consent import staff
from notifier.consent.importer import parse_import_reference
from notifier.contract import CONSENT_CHANNEL_LABELS
from notifier.line import accounts
from notifier.web import current_actor, require_roles

bp = Blueprint("consents", __name__, url_prefix="/consents")

SEARCH_KINDS = {"atena": "宛名番号", "setai": "世帯番号"}
SCOPE_LABELS = {"notify": "お知らせ", "tax": "課税情報の確認"}
ACTION_LABELS = {"grant": "同意", "withdraw": "撤回"}
# A statement staff record under 職員 on this page is a written request.
CHANNEL_LABELS = {**CONSENT_CHANNEL_LABELS, "職員": "職員（書面による申出）"}
# What staff can record: a consent given in person (counter, CSW visit), or a withdrawal, which may
# also arrive as a written request handled by staff.
SCOPE_CHOICES = {"notify": ("お知らせの送付", ["notify"]),
                 "notify,tax": ("お知らせの送付と課税情報の確認", ["notify", "tax"]),
                 "tax": ("課税情報の確認のみ", ["tax"])}
CHANNEL_CHOICES = {"窓口": "窓口", "CSW": "CSW（地域福祉コーディネーター）",
                   "職員": "職員（書面による撤回の申出）"}
GRANT_CHANNELS = ("窓口", "CSW")
DATETIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S")
REFERENCE_MAX = 128
REASON_MAX = 200


def _digits(raw: str | None) -> str:
    return unicodedata.normalize("NFKC", raw or "").strip()


def _now_jst_text() -> str:
    return clock.now_jst().strftime("%Y-%m-%d %H:%M")


EARLIEST_YEAR = 2000        # consents before this are a typing error (the service did not exist)


def parse_jst(raw: str) -> datetime | None:
    """A date-time typed in Japan time → naive UTC, or None when it cannot be read or is before
    EARLIEST_YEAR (the form's message says which form to use)."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", raw or "").strip())
    for fmt in DATETIME_FORMATS:
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if local.year < EARLIEST_YEAR:
            return None
        return local.replace(tzinfo=JST).astimezone(UTC).replace(tzinfo=None)
    return None


# References as stored → words: a counter-consent file's row (`<file>:<sha256[:16]>:<line>`, see
# consent.importer), an unlink's withdrawal (`LINE連携解除 <account>`), LINE's webhook event id (only
# for tracing; staff see that the resident acted), or what staff typed (受付番号・書類番号).
UNLINK_PREFIX = "LINE連携解除 "
OWN_ACTION = {"LINE": "本人がLINEのトークで操作", "LIFF": "本人がLINEの同意ページで操作"}


def reference_words(channel: str, reference: str | None) -> str:
    """What the history's 記録のもと column says for one event."""
    if channel in OWN_ACTION:
        return OWN_ACTION[channel]
    if not reference:
        return ""
    if reference.startswith(UNLINK_PREFIX):
        return "誤ったLINE連携の解除にともなう撤回"
    imported = parse_import_reference(reference)
    if imported:
        return f"一括取込（{imported[0]} の {imported[1]} 行目）"
    return f"受付番号・書類番号：{reference}"


def channel_words(channel: str, reference: str | None) -> str:
    if channel == "職員" and (reference or "").startswith(UNLINK_PREFIX):
        return "職員（LINE連携の解除）"
    return CHANNEL_LABELS.get(channel, channel)


def withdrawn_text(history: list[dict], state: dict) -> dict[str, str]:
    """Scope → 「YYYY年M月D日 HH:MM」 (JST) of the withdrawal, for each scope not held now whose latest
    event is a withdrawal (history is newest first); a scope never granted has none (「同意なし」)."""
    out = {}
    for scope in ("notify", "tax"):
        latest = next((h["event"] for h in history if h["event"].scope == scope), None)
        if not state[scope] and latest is not None and latest.action == "withdraw":
            local = clock.utc_to_jst(latest.occurred_at)
            out[scope] = f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return out


def _render(setai_no: str | None, *, number: str = "", kind: str = "atena", search_error: str | None = None,
            form: dict | None = None, errors: dict | None = None, unlink_form: dict | None = None,
            unlink_errors: dict | None = None, via: str | None = None, status: int = 200):
    s = db.session()
    members = []
    if setai_no:
        members = staff.household_view(s, setai_no)
        for m in members:
            m["withdrawn_at"] = withdrawn_text(m["history"], m["state"])
            for h in m["history"]:
                h["channel_words"] = channel_words(h["event"].channel, h["event"].reference)
                h["reference_words"] = reference_words(h["event"].channel, h["event"].reference)
        audit.record(s, "view_household", actor=current_actor(), target_type="household", target_id=setai_no,
                     detail={"via": via or "世帯番号"})
        s.commit()
    form = form or {}
    form.setdefault("occurred_at", _now_jst_text())
    return render_template(
        "consents/index.html", setai_no=setai_no, members=members, number=number, kind=kind,
        search_kinds=SEARCH_KINDS, search_error=search_error, form=form, errors=errors or {},
        unlink_form=unlink_form or {}, unlink_errors=unlink_errors or {},
        scope_labels=SCOPE_LABELS, action_labels=ACTION_LABELS, channel_labels=CHANNEL_LABELS,
        scope_choices=SCOPE_CHOICES, channel_choices=CHANNEL_CHOICES), status


@bp.route("/", methods=["GET", "POST"])
@require_roles("coordinator")
def index():
    """The search (a POST, so no resident number is ever in a URL), answered by a redirect to the
    household's opaque address (outreach.household.household_token)."""
    if request.method == "GET":
        return _render(None)
    number = _digits(request.form.get("q"))
    kind = request.form.get("by") if request.form.get("by") in SEARCH_KINDS else "atena"
    if not number:
        return _render(None, kind=kind, search_error=f"{SEARCH_KINDS[kind]}を入力してください。", status=400)
    if not number.isdigit():
        return _render(None, number=number, kind=kind,
                       search_error=f"{SEARCH_KINDS[kind]}は数字で入力してください。", status=400)
    setai_no = staff.find_household(db.session(), number, kind)
    if setai_no is None:
        return _render(None, number=number, kind=kind,
                       search_error=f"この{SEARCH_KINDS[kind]}の住民記録は見つかりませんでした。番号と種類をご確認ください。",
                       status=404)
    return redirect(url_for("consents.household", token=_token(setai_no), via=kind), code=303)


def _token(setai_no: str) -> str:
    from flask import current_app

    from notifier.outreach.household import household_token
    return household_token(current_app.secret_key, setai_no)


@bp.route("/h/<token>")
@require_roles("coordinator")
def household(token: str):
    from flask import current_app

    from notifier.outreach.household import setai_from_token
    setai_no = setai_from_token(current_app.secret_key, token)
    if setai_no is None or not staff.household_members(db.session(), setai_no):
        abort(404)
    kind = request.args.get("via") if request.args.get("via") in SEARCH_KINDS else "setai"
    return _render(setai_no, kind=kind, via=SEARCH_KINDS[kind])


def _household_url(setai_no: str, anchor: str | None = None) -> str:
    return url_for("consents.household", token=_token(setai_no), _anchor=anchor)


def _posted_household() -> tuple[str, list[str]]:
    setai_no = _digits(request.form.get("setai_no"))
    if not setai_no:
        abort(400)
    members = [m["atena_no"] for m in staff.household_members(db.session(), setai_no)]
    if not members:
        abort(404)
    return setai_no, members


def _jst_text(ts: datetime) -> str:
    return ts.replace(tzinfo=UTC).astimezone(JST).strftime("%Y-%m-%d %H:%M")


# --- recording -----------------------------------------------------------------------------------
@bp.route("/record", methods=["POST"])
@require_roles("coordinator")
def record():
    setai_no, members = _posted_household()
    form = {key: (request.form.get(key) or "").strip()
            for key in ("atena_no", "action", "scope", "channel", "occurred_at", "reference")}
    errors = {}
    if form["atena_no"] not in members:
        errors["atena_no"] = "この世帯の住民を選んでください。"
    if form["action"] not in ACTION_LABELS:
        errors["action"] = "「同意」または「撤回」を選んでください。"
    if form["scope"] not in SCOPE_CHOICES:
        errors["scope"] = "同意の範囲を選んでください。"
    if form["channel"] not in CHANNEL_CHOICES:
        errors["channel"] = "受け付けた経路を選んでください。"
    elif form["action"] == "grant" and form["channel"] not in GRANT_CHANNELS:
        errors["channel"] = "同意は本人から直接受け付けたもののみ記録できます。「窓口」または「CSW」を選んでください。"
    occurred = parse_jst(form["occurred_at"])
    if occurred is None:
        errors["occurred_at"] = (f"日時は 2026-04-01 10:30 の形で、{EARLIEST_YEAR}年以降の日時を入力してください"
                                 "（日本時間）。")
    elif occurred > clock.now() + timedelta(minutes=5):
        errors["occurred_at"] = "未来の日時は入力できません。受け付けた日時を入力してください。"
    if len(form["reference"]) > REFERENCE_MAX:
        errors["reference"] = f"{REFERENCE_MAX}文字以内で入力してください。"

    s = db.session()
    if not errors:
        if occurred == clock.now().replace(second=0, microsecond=0):
            occurred = clock.now()  # "now" typed to the minute: keep the seconds so it follows earlier events
        checked = SCOPE_CHOICES[form["scope"]][1]
        if form["action"] == "withdraw" and "notify" in checked:
            checked = ["notify", "tax"]  # withdrawing notify withdraws tax too
        later = staff.latest_event_at(s, form["atena_no"], checked)
        if later is not None and later.replace(second=0, microsecond=0) <= occurred < later:
            occurred = later  # the same minute as typed: the order of recording decides
        if later is not None and occurred < later:
            # The latest statement wins: a back-dated entry would be recorded yet change nothing.
            errors["occurred_at"] = (f"この日時より後の同意・撤回がすでに記録されています（最新：{_jst_text(later)}）。"
                                     "受け付けた日時をご確認ください。")
    if not errors:
        scopes = SCOPE_CHOICES[form["scope"]][1]
        grant, withdraw = (scopes, []) if form["action"] == "grant" else ([], scopes)
        try:
            rows = consent.record(s, form["atena_no"], actor=current_actor(), grant=grant, withdraw=withdraw,
                                  channel=form["channel"],
                                  occurred_at=occurred, staff_id=g.user.username,
                                  reference=form["reference"] or None)
        except consent.ConsentError as exc:
            errors["scope"] = str(exc)
        else:
            if not rows:
                errors["scope"] = "撤回できる同意がありません。現在の同意の状態をご確認ください。"
    if errors:
        s.rollback()
        return _render(setai_no, form=form, errors=errors, status=400)
    s.commit()
    flash(f"宛名番号 {form['atena_no']} の{ACTION_LABELS[form['action']]}を記録しました。", "success")
    return redirect(_household_url(setai_no, f"member-{form['atena_no']}"))


@bp.route("/unlink", methods=["POST"])
@require_roles("coordinator")
def unlink():
    setai_no, members = _posted_household()
    s = db.session()
    account_id = request.form.get("account_id", type=int)
    account = staff.account(s, account_id)
    if account is None or account.atena_no not in members:
        abort(404)
    reason = (request.form.get("reason") or "").strip()
    withdraw = request.form.get("consent") == "withdraw"
    error = None
    if not reason:
        error = "解除の理由を入力してください（例：別の方の申請IDで連携されていたため）。"
    elif len(reason) > REASON_MAX:
        error = f"{REASON_MAX}文字以内で入力してください。"
    if error:
        return _render(setai_no, unlink_form={"account_id": account.id, "reason": reason,
                                               "consent": request.form.get("consent", "keep")},
                       unlink_errors={account.id: error}, status=400)
    atena = account.atena_no
    accounts.unlink(s, account, actor=current_actor(), reason=reason)
    if withdraw:
        consent.record(s, atena, actor=current_actor(), withdraw=["notify"], channel="職員",
                       staff_id=g.user.username, reference=f"{UNLINK_PREFIX}{account.id}", cause="unlink")
    s.commit()
    flash(f"宛名番号 {atena} のLINE連携を解除しました。", "success")
    return redirect(_household_url(setai_no, f"member-{atena}"))
