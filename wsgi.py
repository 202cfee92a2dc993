"""WSGI entry point for gunicorn/waitress (`gunicorn wsgi:app`), and for `flask --app wsgi <command>`,
which finds every `notifier` command on this app."""
from notifier import create_app
from notifier.cli import register

app = create_app()
register(app)
