"""The demo's printed TOTP helper works from a shell without the venv on PATH."""
from __future__ import annotations

import os
import re
import subprocess

import pyotp

from notifier import demo
from tests.factories import create_staff


def test_the_printed_totp_helper_runs_outside_an_activated_venv(app, database_url, db_session):
    user = create_staff(db_session, "demo-admin", ["admin"])
    command = demo.totp_helper_command(database_url)
    assert re.search(r"/\.venv/bin/notifier users totp-code demo-admin$|/bin/notifier users totp-code demo-admin$",
                     command), command
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}   # no venv, no activation
    proc = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    code = proc.stdout.strip()
    totp = pyotp.TOTP(user.totp_secret)
    assert re.fullmatch(r"\d{6}", code) and totp.verify(code, valid_window=1)


def _the_weeks_make_a_full_funnel(app, weeks):
    """Every stage of the funnel has households, each within the one before, from the pipeline's own
    rows; open cases carry priority points; the caseworker sees only the school's case."""
    from sqlalchemy import func, select

    from notifier import clock, db
    from notifier.models import OutreachCase
    from notifier.outreach import funnel, worklist
    assert weeks["linked"] == demo.WEEKS_RESIDENTS
    assert weeks["opened"] > 0 and weeks["applied"] > 0 and weeks["reminders"] > 0 and weeks["cases"] > 0
    with app.app_context():
        s = db.session()
        total = funnel.funnel(s, as_of=clock.today_jst()).loc["合計"]
        stages = [name for name, _ in funnel.STAGES]
        assert all(total[name] > 0 for name in stages), total.to_dict()
        for after, before in funnel.RATE_BASE.items():
            assert total[after] <= total[before], (after, before)
        assert s.scalar(select(func.max(OutreachCase.priority_points))) > 0
        from notifier.auth.service import dao_get_user_by_username
        school = dao_get_user_by_username(s, demo.DEMO_CASEWORKER)
        seen = worklist.worklist(s, worklist.Filters(status="all"), viewer=school, today=clock.today_jst())
        assert seen.total == 1 and seen.rows[0]["outcome"] == "申請につながった"


def test_the_demo_sends_real_notices_to_residents_who_linked_and_consented_on_the_simulator():
    """The demo's own steps: a fresh demo database, the simulator and the app over HTTP; a few weeks
    replayed through the real pipeline make a full funnel; then residents link and consent through
    signed webhooks, and enqueue and the dispatcher push a Flex notice to each."""
    import threading

    from werkzeug.serving import make_server

    from notifier.line.sim.app import create_sim_app, serve_in_thread
    from notifier.synth import AS_OF
    info = demo.prepare(f"sqlite:///{demo.DEMO_DB}", AS_OF)
    app = info["app"]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    sim = serve_in_thread(create_sim_app(demo.LINE_SECRET, demo.LINE_TOKEN, f"http://127.0.0.1:{port}/line/webhook",
                                         login_channel_id=demo.LOGIN_CHANNEL))
    app.config.update(LINE_CHANNEL_SECRET=demo.LINE_SECRET, LINE_CHANNEL_ACCESS_TOKEN=demo.LINE_TOKEN,
                      LINE_LOGIN_CHANNEL_ID=demo.LOGIN_CHANNEL, LINE_API_BASE_URL=sim.base_url,
                      PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ids = demo.residents_to_notify(app, AS_OF, n=demo.WEEKS_RESIDENTS + demo.DEMO_RESIDENTS)
        assert len(ids) == demo.WEEKS_RESIDENTS + demo.DEMO_RESIDENTS
        weeks = demo.simulate_weeks(app, sim, AS_OF, ids[:demo.WEEKS_RESIDENTS])
        _the_weeks_make_a_full_funnel(app, weeks)
        _consents_of_the_demo_are_audited(app)
        ids = ids[demo.WEEKS_RESIDENTS:]
        sent = demo.send_demo_notices(app, sim, AS_OF, ids)
        assert sent["linked"] == len(ids) and sent["sent"] >= len(ids)
        with sim.sim.state.lock:
            flex = [c for c in sim.sim.state.chat if c.sender == "bot" and c.via == "push"]
        assert flex and all(c.message["type"] == "flex" for c in flex)
        assert {c.message["altText"] for c in flex} == {"和泉市からのお知らせが届いています"}
    finally:
        server.shutdown()
        sim.shutdown()
        app.extensions["db_engine"].dispose()


def _consents_of_the_demo_are_audited(app):
    """Issue 10 item 14: the demo's counter-consent file and the residents' LINE consents are listed
    under 「同意の変更」."""
    from sqlalchemy import func, select

    from notifier.models import AuditEvent, ConsentEvent
    with app.extensions["db_sessionmaker"]() as s:
        rows = s.execute(select(AuditEvent.actor, AuditEvent.target_type, AuditEvent.detail)
                         .where(AuditEvent.action == "consent_change")).all()
        imported = [d for actor, kind, d in rows if kind == "consent_import"]
        assert [a for a, kind, _ in rows if kind == "consent_import"] == ["demo"]
        by_line = [d for actor, kind, d in rows if actor == "line"]
        assert by_line and all(d["channel"] == "LINE" for d in by_line)
        # every consent event is accounted for by one audit row: the file's, or a statement's own
        statements = sum(len(d["events"]) for _, kind, d in rows if kind == "resident")
        assert statements + imported[0]["events"] == s.scalar(select(func.count()).select_from(ConsentEvent))
