"""The audit trail in words (操作履歴の表示): who acted, on what, and the details, in Japanese.

Pure: an audit row and the names its ids stand for (audit.names_for) in, plain Japanese text out.
Every action of audit.ACTIONS has its wording; a detail key no wording knows is still shown as
「項目：値」 with readable values, never as raw JSON.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from notifier.contract import CONSENT_CHANNEL_LABELS, CONSENT_SCOPE_LABELS, IMPORT_SOURCE_LABELS, ROLE_LABELS

ACTOR_LABELS = {
    "system": "システム",
    "line": "LINE（住民の操作）",
    "demo": "デモの準備",
    "anonymous": "サインインしていない利用者",
    "cli": "コマンド",
}

TARGET_LABELS = {
    "outreach_case": "見守りケース No.",
    "worklist": "見守りケースの一覧",
    "priority_scheme": "優先度の点数表 第",
    "delivery": "お知らせの送信",
    "template": "お知らせの文面",
    "eligibility_run": "該当判定",
    "reminder": "リマインド",
    "dispatch_run": "送信処理",
    "followup_run": "フォローアップ",
    "case": "見守りケース",
    "outbox_alert": "送信の警告",
    "staff_user": "職員",
    "rule": "ルール",
    "import_run": "データ取込",
    "quarantine": "隔離された行",
    "review_queue": "名寄せの確認待ち一覧",
    "pupil": "児童生徒",
    "household": "世帯",
    "resident": "住民",
    "eligibility_export": "対象世帯の書き出し",
    "funnel_export": "ファネルの書き出し",
    "link_export": "名寄せ結果の書き出し",
    "consent_import": "窓口・CSWの同意の取込",
}

SIGN_IN_REASONS = {
    "unknown_user": "登録のないユーザー名",
    "password": "パスワードの誤り",
    "totp": "確認コードの誤り",
    "totp_reused": "使用済みの確認コード（試行回数には数えません）",
    "totp_stale": "別の画面でサインインが完了した後の確認コード（試行回数には数えません）",
    "locked": "アカウントがロック中のため確認していません",
}
FACTORS = {"password": "パスワード", "totp": "確認コード"}
CONSENT_ACTIONS = {"grant": "同意", "withdraw": "撤回", "change": "同意と撤回"}
LINK_RESULTS = {"linked": "連携しました", "refused_already_linked": "別のLINEアカウントと連携済みのため断りました",
                "unlinked": "職員が連携を解除しました"}
LINK_DECISIONS = {"confirm": "照合を確定", "reject": "候補を除外", "none": "該当者なし"}
IMPORT_STATUS = {"stored": "取込済み", "rejected": "取込中止（ファイルを取り込みませんでした）"}
CAUSES = {"unlink": "LINE連携の解除にともなう撤回", "unfollow": "LINEのブロック", "stop": "「配信停止」の送信"}
# Consent and link channels as the consent page names them.
CHANNELS = CONSENT_CHANNEL_LABELS

# Detail keys → label, for keys shown as they are (「項目：値」).
KEY_LABELS = {
    "rows": "件数", "note": "変更の理由", "reason": "理由", "minutes": "ロックの時間（分）",
    "failures": "連続した失敗", "path": "アクセス先", "via": "検索方法", "channel": "経路",
    "setai_no": "世帯番号", "atena_no": "宛名番号", "events": "同意記録の番号", "account": "LINEアカウントの番号",
    "linked_account": "連携済みのLINEアカウントの番号", "file": "ファイル", "source": "データ",
    "batch": "取込の単位", "status": "結果", "run_id": "判定の番号", "skipped": "取込済みのため飛ばした行",
    "sessions_ended": "終了したログイン", "hash": "内容の識別番号", "candidates": "候補の宛名番号",
    "scopes": "範囲", "granted": "同意した範囲", "withdrawn": "撤回した範囲", "cause": "きっかけ",
    "decision": "判断", "changed_from": "変更前の判断", "roles": "役割", "tax": "税情報の閲覧",
    "system": "一括承認", "rejected": "却下", "result": "結果", "from": "変更前", "to": "変更後",
    "rows_stored": "保存した行", "rows_quarantined": "隔離した行", "factor": "確認の段階",
    "quarantined": "隔離した行", "import_run": "取込の番号",
}


@dataclass(frozen=True)
class Names:
    """What ids stand for: users id → (display name, username), rules "id@vN" → name, runs id → (source, file)."""

    users: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    actor: str
    action: str
    target: str
    details: tuple[str, ...]


def value_text(value) -> str:
    """A detail value as words: はい/いいえ, なし, lists joined with 、, numbers with commas."""
    if value is None or value == "" or value == []:
        return "なし"
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return "、".join(value_text(v) for v in value)
    if isinstance(value, dict):
        return "、".join(f"{KEY_LABELS.get(k, k)}：{value_text(v)}" for k, v in value.items())
    return str(value)


def _scopes(values) -> str:
    return "・".join(CONSENT_SCOPE_LABELS.get(v, str(v)) for v in values or []) or "なし"


def _roles(values) -> str:
    return "・".join(ROLE_LABELS.get(v, str(v)) for v in values or []) or "なし"


def _user(names: Names, user_id) -> str:
    try:
        found = names.users.get(int(user_id))
    except (TypeError, ValueError):
        found = None
    if found is None:
        return f"職員（番号 {user_id}・削除済みか不明）"
    display, username = found
    return display if display == username else f"{display}（{username}）"


def actor_text(label: str, actor_id: int | None, names: Names) -> str:
    if actor_id is not None:
        return _user(names, actor_id)
    if label in ACTOR_LABELS:
        return ACTOR_LABELS[label]
    if label.startswith("cli:"):
        return f"コマンド（{label.removeprefix('cli:')} が実行）"
    return label


def target_text(target_type: str | None, target_id: str | None, names: Names) -> str:
    if not target_type:
        return "—"
    tid = target_id or ""
    if target_type == "staff_user":
        return f"職員 {_user(names, tid)}"
    if target_type == "rule":
        rule_id, _, n = tid.rpartition("@v")
        name = names.rules.get(tid)
        version = f"第{n}版" if n.isdigit() else tid
        return f"ルール「{name}」{version}" if name else f"ルール {rule_id or tid} {version}"
    if target_type == "template":
        template_id, _, n = tid.rpartition("@v")
        return f"お知らせの文面 {template_id or tid} {f'第{n}版' if n.isdigit() else ''}".strip()
    if target_type in ("import_run", "quarantine"):
        run = names.runs.get(int(tid)) if tid.isdigit() and len(tid) < 19 else None
        what = "データ取込" if target_type == "import_run" else "隔離された行"
        if run is None:
            return f"{what}（取込の番号 {tid}）"
        source, file = run
        title = IMPORT_SOURCE_LABELS.get(source, source)
        return f"{what}：{title}（{file}、取込の番号 {tid}）"
    if target_type == "review_queue":
        return "名寄せの確認待ち一覧"
    if target_type == "pupil":
        return f"児童生徒番号 {tid}"
    if target_type == "household":
        return f"世帯番号 {tid}"
    if target_type == "resident":
        return f"宛名番号 {tid}"
    if target_type in ("eligibility_export", "link_export", "consent_import", "funnel_export"):
        return f"{TARGET_LABELS[target_type]}（{tid}）"
    if target_type == "outreach_case":
        return f"見守りケース No.{tid}"
    if target_type == "priority_scheme":
        return f"優先度の点数表 第{tid}版" if tid.isdigit() and tid != "0" else "優先度の点数表（初期設定）"
    if target_type == "worklist":
        return "見守りケースの一覧"
    return f"{TARGET_LABELS.get(target_type, target_type)} {tid}".strip()


# --- details per action: each returns the lines for that action's known keys ----------------------
def _sign_in_failed(d: dict) -> list[str]:
    reason = SIGN_IN_REASONS.get(d.get("reason"), value_text(d.get("reason")))
    if d.get("reason") in ("password", "totp") and d.get("failures"):
        reason += f"（連続 {d['failures']} 回目）"
    if d.get("factor"):
        reason += f"・{FACTORS.get(d['factor'], d['factor'])}の段階"
    return [reason]


def _account_locked(d: dict) -> list[str]:
    return [f"{d.get('minutes', '?')}分間ロックしました（連続した失敗 {d.get('failures', '—')} 回）"]


def _user_created(d: dict) -> list[str]:
    return [f"役割：{_roles(d.get('roles'))}", f"税情報の閲覧：{'可' if d.get('tax') else '不可'}"]


def _password_changed(d: dict) -> list[str]:
    return [f"ログイン中のセッション {d.get('sessions_ended', 0)} 件を終了しました"]


def _roles_changed(d: dict) -> list[str]:
    return [f"役割：{_roles(d.get('from'))} → {_roles(d.get('to'))}",
            f"ログイン中のセッション {d.get('sessions_ended', 0)} 件を終了しました"]


def _view_person(d: dict) -> list[str]:
    lines = []
    if "rows" in d:
        lines.append(f"{value_text(d['rows'])} 件を表示")
    if "candidates" in d:
        lines.append(f"候補の宛名番号：{value_text(d['candidates'])}")
    return lines


def _view_household(d: dict) -> list[str]:
    lines = [f"検索方法：{value_text(d['via'])}"] if "via" in d else []
    if d.get("page") == "print":
        lines.append("印刷用の表示")
    if "members" in d:
        lines.append(f"世帯員 {value_text(d['members'])} 人")
    return lines


def _export(d: dict) -> list[str]:
    lines = [f"{value_text(d.get('rows'))} 行を書き出し"] if "rows" in d else []
    if "run_id" in d:
        lines.append(f"判定の番号 {d['run_id']} の結果")
    return lines


def _import(d: dict) -> list[str]:
    title = IMPORT_SOURCE_LABELS.get(d.get("source")) or value_text(d.get("source"))
    lines = [f"{title}（{value_text(d.get('file'))}）：{IMPORT_STATUS.get(d.get('status'), value_text(d.get('status')))}"]
    if d.get("status") == "stored":
        lines.append(f"保存 {value_text(d.get('rows_stored', 0))} 行・隔離 {value_text(d.get('rows_quarantined', 0))} 行")
    return lines


def _rule_change(d: dict) -> list[str]:
    lines = [f"変更の理由：{value_text(d.get('note'))}"]
    if d.get("hash"):
        lines.append(f"内容の識別番号：{d['hash']}")
    return lines


def _rule_approve(d: dict) -> list[str]:
    if d.get("rejected"):
        return ["却下しました", f"却下の理由：{value_text(d.get('note'))}"]
    if d.get("system"):
        return ["運用担当者がルールの読込と同時に承認し、有効にしました（二人目の承認を経ない一括登録）"]
    return ["承認し、有効にしました"]


def _template_approve(d: dict) -> list[str]:
    if d.get("system"):
        return ["運用担当者が文面の読込と同時に承認し、有効にしました（二人目の承認を経ない一括登録）"]
    return _rule_approve(d)


def _notice_enqueue(d: dict) -> list[str]:
    lines = [f"対象日：{value_text(d.get('as_of'))}"]
    if "notices" in d:
        lines.append(f"お知らせ {d.get('notices', 0)} 件・送信 {d.get('deliveries', 0)} 件を作成しました")
    if "reminders" in d:
        lines.append(f"リマインド {d.get('reminders', 0)} 件・送信 {d.get('deliveries', 0)} 件を作成しました")
    if d.get("already_notified"):
        lines.append(f"再通知を控える期間のため作成しなかった世帯：{d['already_notified']}")
    if d.get("no_account"):
        lines.append(f"通知できるLINEアカウントがない世帯：{d['no_account']}")
    if d.get("skipped_rules"):
        lines.append(f"データが足りず作成しなかったルール：{value_text(d['skipped_rules'])}")
    return lines


DISPATCH_COUNTS = {"sent": "送信", "retried": "再試行待ち", "failed": "送信できず", "cancelled": "取り消し",
                   "unknown": "確認が必要", "recovered": "中断から再開"}


def _notice_dispatch(d: dict) -> list[str]:
    lines = ["、".join(f"{label} {d[k]} 件" for k, label in DISPATCH_COUNTS.items() if d.get(k)) or "送信なし"]
    if d.get("stopped_for_quota"):
        lines.append("LINEの月間の送信上限に達したため途中で止めました")
    if d.get("cancel_reasons"):
        words = {"withdrawn": "同意の撤回", "unfollowed": "友だち解除", "moved_out": "転出など"}
        lines.append("取り消しの理由：" + "、".join(f"{words.get(k, k)} {v} 件" for k, v in d["cancel_reasons"].items()))
    return lines


CASE_CHANGES = {"opened": "ケースの開始", "assigned": "担当機関の割り当て", "contact": "連絡の記録",
                "outcome": "結果の記録", "closed": "ケースの終了"}


def _case_change(d: dict) -> list[str]:
    if "cases_opened" in d:
        return [f"応答あり {d.get('responded', 0)} 件、リマインド {d.get('reminders', 0)} 件、"
                f"見守りケースの作成 {d.get('cases_opened', 0)} 件、終了 {d.get('cases_closed', 0)} 件"]
    from notifier.contract import CONTACT_KINDS
    lines = [CASE_CHANGES.get(d.get("change"), value_text(d.get("change")))] if "change" in d else []
    if d.get("organisation"):
        lines.append(f"担当機関：{d['organisation']}")
    if d.get("contact_kind"):
        lines.append(f"方法：{CONTACT_KINDS.get(d['contact_kind'], d['contact_kind'])}")
    if d.get("result"):
        lines.append(f"結果：{d['result']}")
    if d.get("outcome"):
        lines.append(f"結果：{d['outcome']}")
    return lines


SCHEME_PAGES = {"priority": "優先度の点数表の画面を表示",
                "priority_preview": "点数表の変更案を試算し、その場合の世帯の点数と順位を表示（保存はしていません）"}


def _view_worklist(d: dict) -> list[str]:
    if d.get("page") in SCHEME_PAGES:            # the points table page (cases.record_scheme_view)
        lines = [SCHEME_PAGES[d["page"]]]
        if "households" in d:
            lines.append(f"表示した世帯 {value_text(d['households'])} 件")
        return lines
    lines = [f"表示 {value_text(d.get('rows', 0))} 件（条件に当てはまるのは {value_text(d.get('total', 0))} 件）"]
    if d.get("filters"):
        lines.append("絞り込み：" + "、".join(f"{FILTER_LABELS.get(k, k)} {v}" for k, v in d["filters"].items()))
    return lines


FILTER_LABELS = {"rule": "ルール", "route": "経路", "school": "学校", "area": "地区", "status": "状況", "wait": "待ち日数",
                 "org": "担当機関", "sort": "並べ替え"}


def _priority_change(d: dict) -> list[str]:
    from notifier.outreach.priority import DEFAULT_SCHEME
    names = "、".join(DEFAULT_SCHEME.get(k, {}).get("label", k) for k in d.get("signals") or []) or "なし"
    return [f"第{value_text(d.get('from_version', 0))}版から変更：{names}",
            f"対応中のケース {value_text(d.get('rescored', 0))} 件の点数を計算し直しました"]


def _consent_change(d: dict) -> list[str]:
    action = CONSENT_ACTIONS.get(d.get("action"), value_text(d.get("action")))
    lines = []
    if "granted" in d or "withdrawn" in d:
        if d.get("granted"):
            lines.append(f"同意：{_scopes(d['granted'])}")
        if d.get("withdrawn"):
            lines.append(f"撤回：{_scopes(d['withdrawn'])}")
    elif "scopes" in d:
        lines.append(f"{action}：{_scopes(d['scopes'])}")
    elif "action" in d:
        lines.append(action)
    if "events" in d and "channel" not in d and "setai_no" not in d:   # a counter-consent file
        lines.append(f"記録した同意・撤回 {value_text(d['events'])} 件")
    elif d.get("channel"):
        lines.append(f"経路：{CHANNELS.get(d['channel'], d['channel'])}")
    if d.get("setai_no"):
        lines.append(f"世帯番号 {d['setai_no']}")
    if d.get("cause"):
        lines.append(f"きっかけ：{CAUSES.get(d['cause'], d['cause'])}")
    if "skipped" in d:
        lines.append(f"取込済みのため飛ばした行 {value_text(d['skipped'])} 件")
    if "quarantined" in d:
        lines.append(f"隔離した行 {value_text(d['quarantined'])} 件")
    if d.get("import_run") is not None:
        lines.append(f"取込の番号 {value_text(d['import_run'])}")
    return lines


def _line_link(d: dict) -> list[str]:
    lines = [LINK_RESULTS.get(d.get("result"), value_text(d.get("result")))]
    if d.get("account") is not None:
        lines.append(f"LINEアカウントの番号 {d['account']}")
    if d.get("channel"):
        lines.append(f"経路：{CHANNELS.get(d['channel'], d['channel'])}")
    if d.get("reason"):
        lines.append(f"理由：{d['reason']}")
    return lines


def _link_decision(d: dict) -> list[str]:
    decision = LINK_DECISIONS.get(d.get("decision"), value_text(d.get("decision")))
    lines = [decision + (f"（宛名番号 {d['atena_no']}）" if d.get("atena_no") else "")]
    if d.get("changed_from"):
        lines.append(f"変更前の判断：{LINK_DECISIONS.get(d['changed_from'], d['changed_from'])}")
    if d.get("reason"):
        lines.append(f"変更の理由：{d['reason']}")
    return lines


DELIVERY_CHANGES = {"retry": "もう一度送る", "cancel": "送信を取り消す", "resolve": "確認が必要な送信を確認した",
                    "clear_alert": "警告を解除した"}
DELIVERY_STATUS_WORDS = {"queued": "送信待ち", "sent": "送信済み", "failed": "送信できず", "cancelled": "取り消し",
                         "unknown": "確認が必要", "sending": "送信中"}
ALERT_KINDS = {"quota": "LINEの月間の送信上限"}


def _delivery_change(d: dict) -> list[str]:
    lines = [DELIVERY_CHANGES.get(d.get("change"), value_text(d.get("change")))]
    if d.get("from") or d.get("to"):
        before = DELIVERY_STATUS_WORDS.get(d.get("from"), value_text(d.get("from")))
        after = DELIVERY_STATUS_WORDS.get(d.get("to"), value_text(d.get("to")))
        lines.append(f"状態：{before} → {after}")
    if d.get("kind"):
        lines.append(f"警告：{ALERT_KINDS.get(d['kind'], d['kind'])}")
    return lines


def _access_denied(d: dict) -> list[str]:
    return [f"アクセス先：{d['path']}"] if "path" in d else []


def _none(_d: dict) -> list[str]:
    return []


# Each action: its wording, and the detail keys that wording covers (the rest are listed after it).
DETAILS: dict[str, tuple[Callable[[dict], list[str]], frozenset]] = {
    "sign_in": (_none, frozenset()),
    "sign_in_failed": (_sign_in_failed, frozenset({"reason", "failures", "factor"})),
    "sign_out": (_none, frozenset()),
    "account_locked": (_account_locked, frozenset({"minutes", "failures"})),
    "totp_enrolled": (_none, frozenset()),
    "user_created": (_user_created, frozenset({"roles", "tax"})),
    "password_changed": (_password_changed, frozenset({"sessions_ended"})),
    "roles_changed": (_roles_changed, frozenset({"from", "to", "sessions_ended"})),
    "view_person": (_view_person, frozenset({"rows", "candidates"})),
    "view_household": (_view_household, frozenset({"via", "page", "members"})),
    "export": (_export, frozenset({"rows", "run_id"})),
    "import": (_import, frozenset({"source", "file", "status", "rows_stored", "rows_quarantined", "batch"})),
    "rule_change": (_rule_change, frozenset({"note", "hash"})),
    "rule_approve": (_rule_approve, frozenset({"system", "rejected", "note"})),
    "template_change": (_rule_change, frozenset({"note", "hash"})),
    "template_approve": (_template_approve, frozenset({"system", "rejected", "note"})),
    "notice_enqueue": (_notice_enqueue, frozenset({"as_of", "notices", "deliveries", "reminders", "already_notified",
                                                   "no_account", "skipped_rules"})),
    "notice_dispatch": (_notice_dispatch, frozenset({*DISPATCH_COUNTS, "stopped_for_quota", "cancel_reasons",
                                                     "quiet_hours", "paused_by_alert"})),
    "consent_change": (_consent_change, frozenset({"action", "scopes", "granted", "withdrawn", "channel",
                                                   "setai_no", "cause", "events", "skipped", "account",
                                                   "quarantined", "import_run"})),
    "line_link": (_line_link, frozenset({"result", "channel", "reason", "account", "linked_account"})),
    "link_decision": (_link_decision, frozenset({"decision", "atena_no", "changed_from", "reason"})),
    "case_change": (_case_change, frozenset({"responded", "reminders", "cases_opened", "cases_closed", "change",
                                             "organisation", "contact_kind", "result", "outcome"})),
    "view_case": (_none, frozenset()),
    "view_worklist": (_view_worklist, frozenset({"rows", "total", "filters", "page", "households"})),
    "priority_change": (_priority_change, frozenset({"from_version", "signals", "rescored"})),
    "delivery_change": (_delivery_change, frozenset({"change", "from", "to", "kind"})),
    "access_denied": (_access_denied, frozenset({"path"})),
}


def detail_lines(action: str, detail: dict | None) -> tuple[str, ...]:
    detail = detail if isinstance(detail, dict) else ({} if detail is None else {"detail": detail})
    wording, covered = DETAILS.get(action, (_none, frozenset()))
    lines = list(wording(detail))
    lines += [f"{KEY_LABELS.get(k, k)}：{value_text(v)}" for k, v in detail.items() if k not in covered]
    return tuple(lines)


def describe(action: str, actor: str, actor_id: int | None, target_type: str | None, target_id: str | None,
             detail: dict | None, names: Names, action_labels: dict[str, str]) -> Entry:
    return Entry(actor=actor_text(actor, actor_id, names), action=action_labels.get(action, action),
                 target=target_text(target_type, target_id, names), details=detail_lines(action, detail))
