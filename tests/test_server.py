"""Access logs keep no personal numbers or tokens: a real request through gunicorn (as `notifier serve`
and the README's production command run it) and through the demo's werkzeug server."""
from __future__ import annotations

import logging
import threading

import requests

from notifier.server import redact_path
from tests.servers import gunicorn_server

SECRETS = ("0000100001", "1234567890", "202012345", "IZM-7K3P-9QX2", "eyJhbGciOiJIUzI1NiJ9", "id_token", "by=setai")
REQUESTS = ["/consents/?by=setai&q=0000100001", "/consents/?by=atena&q=1234567890",
            "/linkage/review/202012345", "/consent?aid=IZM-7K3P-9QX2&id_token=eyJhbGciOiJIUzI1NiJ9.e30.sig",
            "/r/eyJhbGciOiJIUzI1NiJ9abcdefgh"]


def test_redaction_keeps_the_route_and_drops_numbers_queries_and_tokens():
    assert redact_path("/consents/?by=setai&q=0000100001") == "/consents/"
    assert redact_path("/linkage/review/202012345") == "/linkage/review/*"
    assert redact_path("/rules/shugaku_enjo/v/2/preview?as_of=2026-05-10") == "/rules/shugaku_enjo/v/2/preview"
    assert redact_path("/r/eyJhbGciOiJIUzI1NiJ9abcdefgh") == "/r/*"
    assert redact_path("/imports/12") == "/imports/12"


def test_gunicorn_access_log_has_no_query_strings_numbers_or_tokens(database_url, tmp_path):
    with gunicorn_server(database_url, tmp_path, workers=1, threads=2) as server:
        for path in REQUESTS:
            requests.get(server.url + path, allow_redirects=False, timeout=30,
                         headers={"Referer": f"{server.url}/consents/?by=setai&q=0000100001"})
    log = server.log()
    lines = [line for line in log.splitlines() if '"GET ' in line]
    assert len(lines) >= len(REQUESTS), log
    assert any('"GET /consents/ HTTP/1.1" 302' in line for line in lines), lines
    assert any('"GET /linkage/review/* HTTP/1.1"' in line for line in lines), lines
    for secret in SECRETS:
        assert secret not in log, (secret, lines)


def test_the_demo_server_logs_redacted_request_lines(app, caplog):
    from werkzeug.serving import make_server

    from notifier.server import RedactingRequestHandler
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=RedactingRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for path in REQUESTS:
                requests.get(f"http://127.0.0.1:{server.server_port}{path}", allow_redirects=False, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert '"GET /consents/ HTTP/1.1" 302' in logged, logged
    for secret in SECRETS:
        assert secret not in logged, (secret, logged)


def test_notifier_serve_runs_gunicorn_with_the_redacting_access_log():
    from notifier.server import ACCESS_LOG_FORMAT, RedactingLogger, _Gunicorn, gunicorn_options
    cfg = _Gunicorn(object(), gunicorn_options("127.0.0.1", 5999)).cfg
    assert cfg.logger_class is RedactingLogger and cfg.access_log_format == ACCESS_LOG_FORMAT
    for atom in ("%(r)s", "%(q)s", "%(f)s", "{referer}i"):
        assert atom not in ACCESS_LOG_FORMAT
