"""`notifier demo`: the whole flow on SQLite with generated data, the local LINE simulator and the staff app.

It builds a fresh demo database from a generated `small` city (import → 名寄せ → rules → consents →
eligibility), starts the LINE simulator and the web app on loopback, replays a few weeks of the real
pipeline (consents over LINE, notices, opens, online applications, follow-up reminders, outreach cases)
so every page has something to show, and prints how to look around.
"""
from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import click
import pandas as pd

from notifier.config import INSTANCE_DIR, REPO_ROOT

DEMO_DB = INSTANCE_DIR / "demo.sqlite3"
DEMO_DATA = INSTANCE_DIR / "demo-data"
DEMO_USER = "demo-admin"
DEMO_PASSWORD = "demo-password-2026"
# A fixed secret so the printed code can be reproduced by any authenticator app during the demo.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
LINE_SECRET = "demo-channel-secret"
LINE_TOKEN = "demo-access-token"
LOGIN_CHANNEL = "1650000000"
# The demo's staff: one display name each, shown in the header and the audit log.
DEMO_STAFF = (("rule_author", "demo-author", "デモ作成者"), ("rule_approver", "demo-approver", "デモ承認者"),
              ("coordinator", "demo-coordinator", "デモ調整担当"), ("auditor", "demo-auditor", "デモ監査担当"))


def notifier_command() -> str:
    """The `notifier` command as it runs from any shell, venv activated or not: the script installed
    beside this Python (.venv/bin/notifier for the README's demo command), else this Python itself."""
    script = Path(sys.executable).with_name("notifier")
    if script.is_file():
        return shlex.quote(str(script.absolute()))
    return f"{shlex.quote(sys.executable)} -m notifier"


def totp_helper_command(url: str, username: str = DEMO_USER) -> str:
    return f"NOTIFIER_ENV=development DATABASE_URL={shlex.quote(url)} {notifier_command()} users totp-code {username}"


DEMO_SCALE = "small"
DEMO_CASEWORKER = "demo-school"


def prepare(url: str, as_of, scale: str = DEMO_SCALE) -> dict:
    """Build the demo database; returns what to print."""
    from notifier import clock, create_app, db, migrate
    from notifier.auth.service import create_user
    from notifier.consent.importer import import_consents
    from notifier.eligibility.dao import load_directory
    from notifier.eligibility.run import run_eligibility
    from notifier.ingest.importer import import_directory
    from notifier.ingest.mapping import Mapping
    from notifier.linkage.run import run_linkage
    from notifier.synth import generate

    if DEMO_DB.exists():
        DEMO_DB.unlink()
    for suffix in ("-wal", "-shm"):
        extra = DEMO_DB.with_name(DEMO_DB.name + suffix)
        if extra.exists():
            extra.unlink()
    shutil.rmtree(DEMO_DATA, ignore_errors=True)
    generate(scale, 1, DEMO_DATA)
    migrate.upgrade(url)
    app = create_app({"ENV": "development", "DATABASE_URL": url})
    engine = app.extensions["db_engine"]
    with app.app_context():
        summary = import_directory(engine, DEMO_DATA, Mapping(), actor="demo")
        _result, link_counts = run_linkage(engine, as_of)
        with db.transaction() as s:
            user = create_user(s, username=DEMO_USER, password=DEMO_PASSWORD, roles=["admin"],
                               display_name="デモ管理者", tax_permission=True, child_welfare_permission=True,
                               actor="demo")
            user.totp_secret = DEMO_TOTP_SECRET
            user.totp_enrolled_at = clock.now()
            for role, name, display in DEMO_STAFF:
                other = create_user(s, username=name, password=DEMO_PASSWORD, roles=[role], display_name=display,
                                    actor="demo")
                other.totp_secret = DEMO_TOTP_SECRET
                other.totp_enrolled_at = clock.now()
            load_directory(s, REPO_ROOT / "eligibility_rules", actor="demo", activate=True,
                           url_hosts=app.config["APPLICATION_URL_HOSTS"])
            from notifier.outbox.template_dao import load_directory as load_templates
            load_templates(s, REPO_ROOT / "templates" / "messages", actor="demo", activate=True)
            consents = import_consents(s, DEMO_DATA / "consent.csv", actor="demo")
        outcome = run_eligibility(engine, db.session(), as_of, actor="demo")
        from notifier.line.accounts import find_applicant
        shinsei = pd.read_csv(DEMO_DATA / "online_shinsei.csv", dtype=str, encoding="utf-8-sig")
        with db.transaction() as s:
            example = next((aid for aid in shinsei["申請ID"] if find_applicant(s, aid)), "")
    return {"app": app, "rows": sum(f.rows_stored for f in summary.files), "links": link_counts,
            "consents": consents.events_added, "households": outcome.households,
            "matches": {rid: r.get("matches", "判定しません") for rid, r in outcome.rules.items()},
            "example_id": example}


DEMO_RESIDENTS = 3


def residents_to_notify(app, as_of, n: int = DEMO_RESIDENTS) -> list[str]:
    """Online application IDs of applicants whose households matched a rule on `as_of` (one each)."""
    from sqlalchemy import select

    from notifier import db
    from notifier.models import SOURCE_TABLES, EligibilityMatch
    from notifier.residents import current_condition
    jumin, shinsei = SOURCE_TABLES["juminhyo"], SOURCE_TABLES["online_shinsei"]
    with app.app_context():
        s = db.session()
        matched = set(s.scalars(select(EligibilityMatch.setai_no).distinct()))
        rows = s.execute(select(shinsei.c.application_id, jumin.c.setai_no)
                         .join(jumin, jumin.c.atena_no == shinsei.c.atena_no)
                         .where(current_condition(jumin, as_of)).order_by(shinsei.c.application_id)).all()
    out, seen = [], set()
    for application_id, setai_no in rows:
        if setai_no in matched and setai_no not in seen:
            out.append(application_id)
            seen.add(setai_no)
        if len(out) == n:
            break
    return out


def send_demo_notices(app, sim, as_of, application_ids: list[str], *, timeout: float = 20.0) -> dict:
    """Residents on simulated phones add the account, send their online application ID and tap
    「お知らせを希望する」 (signed webhooks to the app); then the real enqueue and dispatcher send
    their notices to the simulator. Returns counts."""
    import time

    from sqlalchemy import select

    from notifier import db
    from notifier.line.client import LineClient
    from notifier.models import LineAccount
    from notifier.outbox.dispatch import dispatch
    from notifier.outbox.enqueue import enqueue

    def wait_for(query) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with app.app_context():
                if db.session().scalar(query):
                    return True
            time.sleep(0.2)
        return False

    linked = 0
    for i, application_id in enumerate(application_ids):
        user = sim.sim.state.add_user(f"デモ住民{i + 1}", friend=False)
        sim.sim.follow(user.user_id)
        sim.sim.send_text(user.user_id, application_id)
        if wait_for(select(LineAccount.id).where(LineAccount.line_user_id == user.user_id,
                                                 LineAccount.atena_no.is_not(None))):
            sim.sim.postback(user.user_id, "consent=notify", "お知らせを希望する")
            linked += 1
    time.sleep(1.0)          # the consent postbacks are processed in the background
    with app.app_context():
        with db.transaction() as s:
            queued = enqueue(s, as_of, actor="demo", public_base_url=app.config["PUBLIC_BASE_URL"])
        with LineClient(sim.base_url, app.config["LINE_CHANNEL_ACCESS_TOKEN"]) as client:
            sent = dispatch(db.engine(), client, quiet_hours=None, rate_per_second=None, actor="demo")
    return {"linked": linked, "notices": queued.notices, "sent": sent.sent}


# The simulated weeks (issues "Follow-up" and "Coordinators", must show): how many residents take part
# and what share of the notified open the link and apply online within days.
WEEKS_RESIDENTS = 40
OPEN_SHARE, APPLY_SHARE = 0.5, 0.3
REMINDER_DAY, CASE_DAY = 15, 31


def simulate_weeks(app, sim, start, application_ids: list[str], *, until=None) -> dict:
    """The real daily job over simulated weeks from `start` (a business date), each step at its own
    instant (clock.at): on day 0 residents follow the account on the simulator, send their online
    application ID and consent (LINE webhook events through line.flows), then `daily` (名寄せ,
    eligibility, notices, dispatch to the simulator); on day 1 half of them open the one-tap link (the
    app's /r/ page); on day 3 and day 18 some apply online (a new online_shinsei export put in the
    daily job's drop folder); `daily` on day 15 imports it and reminds the others; `daily` on day 31
    opens outreach cases for those still silent, ordered by points; then a coordinator assigns the
    first case to its school, which logs a visit and 申請につながった. Steps after `until` (default
    today) are skipped. Returns counts read back from the database."""
    import random
    import re
    from datetime import datetime, timedelta

    from sqlalchemy import func, select

    from notifier import audit, clock, db
    from notifier.eligibility.dao import active_pair
    from notifier.jobs.daily import run_daily
    from notifier.line import flows
    from notifier.models import Delivery, LinkOpen, Notice, OutreachCase

    until = until or clock.today_jst()
    rng = random.Random(7)
    drop = DEMO_DATA.with_name("demo-drop")
    shutil.rmtree(drop, ignore_errors=True)
    drop.mkdir(parents=True)
    config = {**app.config, "DAILY_DROP_DIR": str(drop)}
    online_rows = pd.read_csv(DEMO_DATA / "online_shinsei.csv", dtype=str, encoding="utf-8-sig")

    def at(day_offset: int, hour: int = 10, minute: int = 0):
        return clock.at(datetime.combine(start + timedelta(days=day_offset), datetime.min.time())
                        .replace(hour=hour, minute=minute))

    def daily(day_offset: int) -> None:
        with at(day_offset, 10):
            run_daily(db.engine(), start + timedelta(days=day_offset), config=config, actor="system")

    def apply_online(day: int, share: float, kind: str) -> int:
        """Some residents who got a `kind` notice apply online on `day`: the city's next online_shinsei
        export (every earlier row plus theirs) lands in the drop folder."""
        nonlocal online_rows
        with db.transaction() as s:
            notified = s.execute(select(Notice.rule_id, Delivery.atena_no)
                                 .join(Delivery, Delivery.notice_id == Notice.id)
                                 .where(Delivery.status == "sent", Notice.kind == kind)).all()
            codes = {r: active_pair(s, r)[1].procedure_code for r in {r for r, _ in notified}}
        when = (start + timedelta(days=day)).isoformat()
        new = [{"申請ID": f"D{day:02d}{i:05d}", "申請者宛名番号": atena, "手続きコード": codes[rule],
                "申請日時": f"{when} 20:{i % 60:02d}"}
               for i, (rule, atena) in enumerate(sorted(notified)) if rng.random() < share]
        online_rows = pd.concat([online_rows, pd.DataFrame(new)], ignore_index=True)
        online_rows.to_csv(drop / "online_shinsei.csv", index=False, encoding="utf-8-sig")
        return len(new)

    applied = 0
    with app.app_context():
        with at(0, 9):
            with db.transaction() as s:
                for i, application_id in enumerate(application_ids):
                    user = sim.sim.state.add_user(f"住民{i + 1:02d}", friend=True).user_id
                    ms = int(clock.timestamp() * 1000) + i
                    source = {"type": "user", "userId": user}
                    for event in ({"type": "follow"},
                                  {"type": "message", "message": {"type": "text", "text": application_id}},
                                  {"type": "postback", "postback": {"data": "consent=notify"}}):
                        flows.handle_event(s, {**event, "source": source, "timestamp": ms,
                                               "webhookEventId": f"demo-{i}-{event['type']}"}, None)
        daily(0)
        if start + timedelta(days=1) <= until:
            with db.transaction() as s:
                rows = s.execute(select(Delivery.message).where(Delivery.status == "sent")).scalars().all()
            client = app.test_client()
            with at(1, 19):
                for message in rows:
                    found = re.search(r"/r/([A-Za-z0-9_.\-]+)", message)
                    if found and rng.random() < OPEN_SHARE:
                        client.get(f"/r/{found.group(1)}")
        if start + timedelta(days=3) <= until:
            applied += apply_online(3, APPLY_SHARE, "notice")
        if start + timedelta(days=REMINDER_DAY) <= until:
            daily(REMINDER_DAY)
        if start + timedelta(days=REMINDER_DAY + 3) <= until:
            applied += apply_online(REMINDER_DAY + 3, APPLY_SHARE / 2, "reminder")
        if start + timedelta(days=CASE_DAY) <= until:
            daily(CASE_DAY)
        out = {"linked": len(application_ids), "applied": applied}
        with db.transaction() as s:
            out["sent"] = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent"))
            out["opened"] = s.scalar(select(func.count()).select_from(LinkOpen))
            out["reminders"] = s.scalar(select(func.count()).select_from(Notice).where(Notice.kind == "reminder"))
            out["cases"] = s.scalar(select(func.count()).select_from(OutreachCase))
            first = s.scalar(select(OutreachCase).where(OutreachCase.status == "open", OutreachCase.school_name
                                                        .is_not(None)).order_by(OutreachCase.priority_points.desc()))
            if first is not None:
                from notifier.auth.service import create_user, dao_get_user_by_username
                from notifier.outreach import cases
                coordinator = dao_get_user_by_username(s, "demo-coordinator")
                actor = audit.Actor.staff(coordinator)
                cases.assign(s, first.id, first.school_name, viewer=coordinator, actor=actor)
                visit = min(until, first.as_of + timedelta(days=2))
                cases.log_contact(s, first.id, cases.Contact("school_check", visit, "学校で様子を確認",
                                                             "担任が保護者と話し、申請書を渡した"),
                                  viewer=coordinator, actor=actor, today=until)
                cases.record_outcome(s, first.id, "申請につながった", close=True, viewer=coordinator, actor=actor)
                school = create_user(s, username=DEMO_CASEWORKER, password=DEMO_PASSWORD, roles=["caseworker"],
                                     display_name="デモ学校担当", organisation=first.school_name, actor="demo")
                school.totp_secret, school.totp_enrolled_at = DEMO_TOTP_SECRET, clock.now()
                out["school"] = first.school_name
    return out


def run_demo(port: int = 5000, serve: bool = True, sim_port: int = 8765) -> None:
    from werkzeug.serving import make_server

    from notifier.clock import today_jst
    from notifier.line.sim.app import create_sim_app, serve_in_thread

    url = f"sqlite:///{DEMO_DB}"
    as_of = min(today_jst(), __import__("notifier.synth", fromlist=["AS_OF"]).AS_OF)
    click.echo("デモ用のデータベースを作成しています（合成データ small、SQLite、20秒ほどかかります）…")
    info = prepare(url, as_of)
    app = info["app"]
    app.config.update(LINE_CHANNEL_SECRET=LINE_SECRET, LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN,
                      LINE_LOGIN_CHANNEL_ID=LOGIN_CHANNEL, SESSION_COOKIE_SECURE=False,
                      PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    links = info["links"]
    matches = "、".join(f"{k} {v}" for k, v in info["matches"].items())
    click.echo(f"""
デモの準備ができました（SQLite: {DEMO_DB}）。
  取込 {info['rows']:,} 行、学齢簿 {links.roster} 件中 照合 {links.linked}・要確認 {links.review}・照合なし {links.unlinked}、
  窓口・CSWの同意 {info['consents']} 件、世帯 {info['households']:,}、{as_of} 時点の対象世帯: {matches}

職員用画面: http://127.0.0.1:{port}/login
  ユーザー名: {DEMO_USER}（ほかに demo-author / demo-approver / demo-coordinator / demo-auditor / {DEMO_CASEWORKER}）
  パスワード: {DEMO_PASSWORD}
  二要素認証の秘密鍵（TOTP、全員共通）: {DEMO_TOTP_SECRET}
    認証アプリに登録するか、別の端末で次を実行すると今の確認コードが表示されます:
    {totp_helper_command(url)}

LINEシミュレーター（住民のスマートフォンの代わり）: http://127.0.0.1:{sim_port}/phone/
  利用者を追加して友だち追加し、オンライン申請ID（例: {info['example_id']}）を送ると、同意の手続きに進みます。
  「配信停止」と送ると同意を取り消せます。
""")
    if not serve:
        return
    sim = serve_in_thread(create_sim_app(LINE_SECRET, LINE_TOKEN, f"http://127.0.0.1:{port}/line/webhook",
                                         login_channel_id=LOGIN_CHANNEL), port=sim_port)
    app.config["LINE_API_BASE_URL"] = sim.base_url
    from notifier.server import RedactingRequestHandler
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=RedactingRequestHandler)
    import threading
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ids = residents_to_notify(app, as_of, n=WEEKS_RESIDENTS + DEMO_RESIDENTS)
        weeks = simulate_weeks(app, sim, as_of, ids[:WEEKS_RESIDENTS])
        click.echo(f"{as_of} からの数週間を、本番と同じ処理で再現しました：住民 {weeks['linked']} 人がLINEで同意し、"
                   f"お知らせ・リマインド {weeks['sent']} 通、申請リンクを開いた {weeks['opened']} 件、オンライン申請 "
                   f"{weeks['applied']} 件、リマインド {weeks['reminders']} 件、見守りケース {weeks['cases']} 件"
                   f"（ダッシュボードと「見守りケース」で確かめられます。学校の担当者として {DEMO_CASEWORKER} で"
                   f"サインインすると、{weeks.get('school', '学校')}に割り当てたケースだけが見えます）。")
        sent = send_demo_notices(app, sim, as_of, ids[WEEKS_RESIDENTS:])
        click.echo(f"住民{sent['linked']}人がLINEで連携して「お知らせを希望する」を選び、お知らせ {sent['sent']} 通を送りました"
                   f"（シミュレーターの画面で「デモ住民1」などを開くと届いています。「オンラインで申請する」を押すと、"
                   f"職員用画面の「お知らせの送信」にリンクを開いた日時が出ます）。")
    except Exception as exc:  # the demo stays usable without its sample notices
        click.echo(f"（見本のお知らせを送れませんでした: {type(exc).__name__}: {exc}）")
    click.echo("Ctrl+C で終了します。")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
        sim.shutdown()
