"""Flask sessions kept on the server (auth/sessions.py): the cookie is an opaque random id and nothing else.

Nothing about the user, the sign-in stage, the TOTP enrolment secret, the CSRF token or a flashed
message travels in the cookie. The cookie is set when a session is created or renewed (sign-in,
sign-out), never re-issued on every response, so it cannot keep a session alive by itself: the row's
idle and absolute limits decide. `session.regenerate()` gives the session a new id (and ends the old
one) — after the password and after the second factor, so an id seen before sign-in is worthless after.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, Request, Response
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from notifier import clock
from notifier.auth import sessions

_serializer = TaggedJSONSerializer()


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, *, token: str | None = None, session_id: int | None = None,
                 last_seen_at=None) -> None:
        def on_update(self) -> None:
            self.modified = True
            self.accessed = True
        super().__init__(initial, on_update)
        self.token = token
        self.session_id = session_id
        self.last_seen_at = last_seen_at
        self.renew = False
        self.modified = False
        self.accessed = False

    def regenerate(self) -> None:
        """Give this session a new id when the response is sent; the old id stops working."""
        self.renew = True
        self.modified = True

    # Reading counts as access (Vary: Cookie), as in Flask's own session.
    def __getitem__(self, key):
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.accessed = True
        return super().get(key, default)


class ServerSessionInterface(SessionInterface):
    def _limits(self, app: Flask) -> tuple[timedelta, timedelta]:
        return (timedelta(minutes=app.config["SESSION_IDLE_MINUTES"]),
                timedelta(hours=app.config["SESSION_MAX_HOURS"]))

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        static = app.static_url_path or "/static"
        token = request.cookies.get(self.get_cookie_name(app))
        if not token or request.path.startswith(static + "/"):
            return ServerSession()
        idle, _max_age = self._limits(app)
        with app.extensions["db_engine"].connect() as conn:
            stored = sessions.load(conn, token, now=clock.now(), idle=idle)
        if stored is None:
            return ServerSession()       # unknown, ended or expired: a fresh, anonymous session
        return ServerSession(_serializer.loads(stored.data), token=token, session_id=stored.id,
                             last_seen_at=stored.last_seen_at)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:
        if session.accessed:
            response.vary.add("Cookie")
        idle, max_age = self._limits(app)
        now = clock.now()
        name = self.get_cookie_name(app)
        engine = app.extensions["db_engine"]
        data = dict(session)
        user_id = data.get("user_id") if isinstance(data.get("user_id"), int) else None

        if session.session_id is not None and (session.renew or (session.modified and not data)):
            with engine.begin() as conn:
                sessions.end(conn, session.session_id)
            session.session_id = None
            if not data:
                response.delete_cookie(name, domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                                       secure=self.get_cookie_secure(app), httponly=True,
                                       samesite=self.get_cookie_samesite(app))
                return

        if session.session_id is None:
            if not data or not session.modified:
                return                     # nothing to keep: no row, no cookie
            token = sessions.new_token()
            with engine.begin() as conn:
                sessions.purge_expired(conn, now=now, idle=idle)
                sessions.create(conn, token, _serializer.dumps(data), user_id=user_id, now=now, max_age=max_age)
            response.set_cookie(name, token, domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                                secure=self.get_cookie_secure(app), httponly=True,
                                samesite=self.get_cookie_samesite(app))
            return

        if session.modified:
            with engine.begin() as conn:
                sessions.save(conn, session.session_id, _serializer.dumps(data), user_id=user_id, now=now)
        elif session.last_seen_at is None or now - session.last_seen_at >= sessions.TOUCH_EVERY:
            with engine.begin() as conn:
                sessions.touch(conn, session.session_id, now)


def init_app(app: Flask) -> None:
    app.session_interface = ServerSessionInterface()
