"""WSGI entry point for gunicorn/waitress: `gunicorn wsgi:app`."""
from notifier import create_app

app = create_app()
