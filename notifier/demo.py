"""`notifier demo`: a first look on SQLite — a demo admin with a known TOTP secret, then the web app."""
from __future__ import annotations

import os

import click

from notifier.config import INSTANCE_DIR

DEMO_DB = INSTANCE_DIR / "demo.sqlite3"
DEMO_USER = "demo-admin"
DEMO_PASSWORD = "demo-password-2026"
# A fixed secret so the printed code can be reproduced by any authenticator app during the demo.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def run_demo(port: int = 5000, serve: bool = True) -> None:
    from notifier import create_app, db, migrate
    from notifier.auth.service import create_user, dao_get_user_by_username
    from notifier.models import utcnow

    os.environ.setdefault("NOTIFIER_ENV", "development")
    url = f"sqlite:///{DEMO_DB}"
    app = create_app({"ENV": "development", "DATABASE_URL": url, "SESSION_COOKIE_SECURE": False})
    with app.app_context():
        migrate.upgrade(url)
        with db.transaction() as s:
            user = dao_get_user_by_username(s, DEMO_USER)
            if user is None:
                user = create_user(s, username=DEMO_USER, password=DEMO_PASSWORD, roles=["admin"],
                                   display_name="デモ管理者", tax_permission=True,
                                   child_welfare_permission=True, actor="demo")
                user.totp_secret = DEMO_TOTP_SECRET
                user.totp_enrolled_at = utcnow()
    click.echo(f"""
デモの準備ができました（SQLite: {DEMO_DB}）。
  ブラウザで http://127.0.0.1:{port}/login を開いてください。
  ユーザー名: {DEMO_USER}
  パスワード: {DEMO_PASSWORD}
  二要素認証の秘密鍵（TOTP）: {DEMO_TOTP_SECRET}
    認証アプリに登録するか、別の端末で次を実行すると今の確認コードが表示されます:
    NOTIFIER_ENV=development DATABASE_URL={url} notifier users totp-code {DEMO_USER}
""")
    if serve:
        from notifier.server import run_gunicorn
        run_gunicorn(app, host="127.0.0.1", port=port, workers=1, threads=8)
