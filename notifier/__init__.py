"""Push-support notification service (プッシュ型支援): the Flask application factory."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from notifier.config import REPO_ROOT

if TYPE_CHECKING:
    from flask import Flask

TEMPLATE_DIR = REPO_ROOT / "templates"


def create_app(config: dict | None = None, *, web: bool = True) -> Flask:
    """Build the app. `config` overrides settings read from the environment (tests use it).

    `web=False` builds the application context batch commands run in: configuration, the database
    and the template filters, without the staff pages, the webhook or sessions (so no SECRET_KEY).
    """
    from flask import Flask

    from notifier import config as config_module
    settings = config_module.load(overrides=config, web=web)
    app = Flask(__name__, template_folder=str(TEMPLATE_DIR), instance_path=str(config_module.INSTANCE_DIR))
    app.config.update(settings)
    app.json.ensure_ascii = False

    from notifier import db, templating
    db.init_app(app)
    templating.init_app(app)

    if web:
        from flask_wtf.csrf import CSRFProtect
        CSRFProtect(app)

        from notifier import web as web_module
        web_module.init_app(app)

    logging.getLogger("notifier").setLevel(logging.INFO)
    return app
