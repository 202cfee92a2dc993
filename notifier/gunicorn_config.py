"""gunicorn settings for running `wsgi:app` directly: `gunicorn -c python:notifier.gunicorn_config wsgi:app`.

The access log without query strings, Referer or personal numbers (notifier/server.py).
"""
from notifier.server import ACCESS_LOG_FORMAT

accesslog = "-"
access_log_format = ACCESS_LOG_FORMAT
logger_class = "notifier.server.RedactingLogger"
