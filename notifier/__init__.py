"""Push-support notification service (プッシュ型支援): the Flask application factory."""
from __future__ import annotations

import logging

from flask import Flask

from notifier import config as config_module
from notifier.config import REPO_ROOT

TEMPLATE_DIR = REPO_ROOT / "templates"


def create_app(config: dict | None = None) -> Flask:
    """Build the app. `config` overrides settings read from the environment (tests use it)."""
    settings = config_module.load(overrides=config)
    app = Flask(__name__, template_folder=str(TEMPLATE_DIR), instance_path=str(config_module.INSTANCE_DIR))
    app.config.update(settings)
    app.json.ensure_ascii = False

    from flask_wtf.csrf import CSRFProtect
    CSRFProtect(app)

    from notifier import db, templating, web
    db.init_app(app)
    templating.init_app(app)
    web.init_app(app)

    from notifier.line import webhook
    webhook.init_app(app)
    from notifier.line import liff_views; liff_views.init_app(app)

    from notifier import cli
    cli.register(app)

    logging.getLogger("notifier").setLevel(logging.INFO)
    return app
