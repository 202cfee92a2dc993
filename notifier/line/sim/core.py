"""The simulator's behaviour shared by its JSON control API and its phone pages.

`LineSim` holds the configuration and state and performs what simulated users do (follow, block,
send text, tap buttons) and what the bot's sends do to their chats.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from . import events
from .signing import encode_id_token, line_user_id
from .state import SimState, SimUser


class SimUserError(Exception):
    """A simulated user cannot do that (unknown user, or not a friend)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class SimConfig:
    channel_secret: str
    access_token: str
    webhook_url: str | None
    login_channel_id: str
    bot_user_id: str = field(default_factory=line_user_id)
    bot_display_name: str = "和泉市"
    id_token_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    id_token_issuer: str = "https://access.line.me"


class LineSim:
    def __init__(self, config: SimConfig, state: SimState) -> None:
        self.config = config
        self.state = state

    # -- users ----------------------------------------------------------------------------------
    def require_user(self, user_id: str) -> SimUser:
        user = self.state.user(user_id)
        if user is None:
            raise SimUserError("unknown user", status=404)
        return user

    # -- what users do --------------------------------------------------------------------------
    def follow(self, user_id: str) -> dict:
        with self.state.lock:
            user = self.require_user(user_id)
            unblocked = user.blocked
            user.friend, user.blocked, user.ever_followed = True, False, True
            event = events.follow_event(self.state, user_id, is_unblocked=unblocked)
            self.state.last_event[user_id] = event
        return self._deliver(event)

    def block(self, user_id: str, webhook: bool = True) -> dict:
        with self.state.lock:
            user = self.require_user(user_id)
            if not user.friend or user.blocked:
                raise SimUserError("user is not following the account")
            user.blocked = True
            event = events.unfollow_event(self.state, user_id)
            self.state.last_event[user_id] = event
        if not webhook:
            return {"webhook_status": None, "event": event, "error": "webhook skipped"}
        return self._deliver(event)

    def send_text(self, user_id: str, text: str) -> dict:
        if not text:
            raise SimUserError("empty text", status=400)
        with self.state.lock:
            user = self.require_user(user_id)
            if not user.reachable:
                raise SimUserError("user is not a friend of the account (follow first)")
            item = self.state.append_chat(user_id, "user", {"type": "text", "text": text}, via="text")
            event = events.text_event(self.state, user_id, text, item.message_id)
            self.state.last_event[user_id] = event
        return self._deliver(event)

    def postback(self, user_id: str, data: str, display_text: str | None = None,
                 params: dict | None = None) -> dict:
        with self.state.lock:
            user = self.require_user(user_id)
            if not user.reachable:
                raise SimUserError("user is not a friend of the account (follow first)")
            shown = {"type": "postback", "data": data}
            if display_text:
                shown["displayText"] = display_text
            self.state.append_chat(user_id, "user", shown, via="postback")
            event = events.postback_event(self.state, user_id, data, params)
            self.state.last_event[user_id] = event
        return self._deliver(event)

    def redeliver(self, user_id: str) -> dict:
        with self.state.lock:
            self.require_user(user_id)
            last = self.state.last_event.get(user_id)
            if last is None:
                raise SimUserError("no event to redeliver", status=404)
            event = events.as_redelivery(last)
        return self._deliver(event)

    def _deliver(self, event: dict) -> dict:
        result = events.deliver(self.state, self.config.webhook_url, self.config.channel_secret,
                                self.config.bot_user_id, [event])
        return {"webhook_status": result["status"], "elapsed_ms": result["elapsed_ms"],
                "error": result["error"], "event": event}

    # -- what the bot's sends do ----------------------------------------------------------------
    def deliver_messages(self, user_ids: list[str], messages: list[dict], via: str,
                         request_id: str, retry_key: str | None) -> tuple[list[dict], int]:
        """Put messages into the chats of reachable users (call with the lock held).

        Returns LINE's sentMessages for the first recipient and how many users were reached;
        blocked and non-friend users get nothing, as with LINE (which still answers 200).
        """
        sent: list[dict] = []
        reached = 0
        for n, user_id in enumerate(user_ids):
            user = self.state.user(user_id)
            if user is None or not user.reachable:
                if n == 0:
                    sent = [{"id": str(10**17 + self.state.random.randrange(10**17))} for _ in messages]
                continue
            reached += 1
            items = [self.state.append_chat(user_id, "bot", m, via=via, request_id=request_id,
                                            retry_key=retry_key) for m in messages]
            if n == 0:
                sent = [{"id": i.message_id, "quoteToken": i.quote_token} for i in items]
        return sent, reached

    # -- LIFF -----------------------------------------------------------------------------------
    def issue_id_token(self, user_id: str, aud: str | None = None, expires_in: int = 3600) -> tuple[str, dict]:
        user = self.require_user(user_id)
        now = int(self.state.now())
        claims = {
            "iss": self.config.id_token_issuer,
            "sub": user.user_id,
            "aud": aud or self.config.login_channel_id,
            "exp": now + int(expires_in),
            "iat": now,
            "amr": ["linesso"],
            "name": user.display_name,
        }
        return encode_id_token(self.config.id_token_key, claims), claims
