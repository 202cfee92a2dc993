"""In-memory state of the LINE simulator: users, chats, retry keys, reply tokens, faults, logs.

Everything sits behind one re-entrant lock because the simulator serves requests on threads;
callers that need several steps to be atomic (check a retry key, then accept) hold `state.lock`.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from .signing import line_user_id

RETRY_KEY_TTL = 24 * 60 * 60
FAULT_DEFAULTS: dict[str, Any] = {
    # share of message-API requests answered 500 before anything is accepted
    "error_rate": 0.0,
    # share answered 500 *after* the messages were accepted and delivered (LINE may do this)
    "error_after_accept_rate": 0.0,
    # seconds to wait before answering (after accepting), to provoke client timeouts
    "delay": 0.0,
    # share of requests that get the delay (0: all of them, when a delay is set)
    "delay_rate": 0.0,
    # answer 429 "You have reached your monthly limit." to push/multicast
    "quota_exhausted": False,
    # recipients per month before the quota 429 starts; None = unlimited
    "monthly_limit": None,
}


@dataclass
class SimUser:
    user_id: str
    display_name: str
    friend: bool = False
    blocked: bool = False
    ever_followed: bool = False
    language: str = "ja"

    @property
    def status(self) -> str:
        if self.blocked:
            return "blocked"
        return "friend" if self.friend else "not_friend"

    @property
    def reachable(self) -> bool:
        return self.friend and not self.blocked

    def to_dict(self) -> dict:
        out = asdict(self)
        out["status"] = self.status
        return out


@dataclass
class ChatItem:
    seq: int
    user_id: str
    sender: str  # "bot" or "user"
    message: dict
    via: str  # push, multicast, reply, or the user action (text, postback)
    message_id: str
    timestamp: int  # ms
    request_id: str | None = None
    retry_key: str | None = None
    quote_token: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AcceptedRequest:
    request_id: str
    accepted_at: float
    sent_messages: list[dict] = field(default_factory=list)


class SimState:
    def __init__(self, *, seed: int | None = 0, reply_token_ttl: float = 60.0,
                 rate_limit_per_second: float | None = None) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.reply_token_ttl = reply_token_ttl
        self.rate_limit_per_second = rate_limit_per_second
        # Seconds for a Retry-After header on the rate-limit 429; None (the default, as at LINE): none.
        self.rate_limit_retry_after: int | None = None
        self.clock_offset = 0.0
        self.reset()

    # -- whole state ---------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.users: dict[str, SimUser] = {}
            self.chat: list[ChatItem] = []
            self.seq = 0
            self.retry_keys: dict[str, AcceptedRequest] = {}
            self.reply_tokens: dict[str, tuple[str, float]] = {}
            self.faults: dict[str, Any] = dict(FAULT_DEFAULTS)
            self.random = random.Random(self.seed)
            self.requests: deque[dict] = deque(maxlen=50_000)
            self.request_counts: dict[tuple[str, int], int] = {}
            self.webhooks: deque[dict] = deque(maxlen=10_000)
            self.last_event: dict[str, dict] = {}
            self.month_usage = 0
            self.rate_windows: dict[str, deque[float]] = {}
            self.clock_offset = 0.0

    def now(self) -> float:
        """The simulator's clock (wall time plus an offset tests can advance)."""
        return time.time() + self.clock_offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    # -- users --------------------------------------------------------------------------------
    def add_user(self, display_name: str, user_id: str | None = None, friend: bool = False) -> SimUser:
        with self.lock:
            uid = user_id or line_user_id()
            if uid in self.users:
                raise ValueError("user exists")
            user = SimUser(user_id=uid, display_name=display_name, friend=friend, ever_followed=friend)
            self.users[uid] = user
            return user

    def user(self, user_id: str) -> SimUser | None:
        with self.lock:
            return self.users.get(user_id)

    def list_users(self) -> list[SimUser]:
        with self.lock:
            return list(self.users.values())

    # -- chat ---------------------------------------------------------------------------------
    def append_chat(self, user_id: str, sender: str, message: dict, via: str,
                    request_id: str | None = None, retry_key: str | None = None) -> ChatItem:
        with self.lock:
            self.seq += 1
            item = ChatItem(
                seq=self.seq, user_id=user_id, sender=sender, message=message, via=via,
                message_id=str(10**17 + self.random.randrange(10**17)),
                timestamp=self.now_ms(), request_id=request_id, retry_key=retry_key,
                quote_token=secrets.token_urlsafe(24) if sender == "bot" else None,
            )
            self.chat.append(item)
            return item

    def messages_for(self, user_id: str, after: int = 0, sender: str | None = None) -> list[ChatItem]:
        with self.lock:
            return [c for c in self.chat
                    if c.user_id == user_id and c.seq > after and (sender is None or c.sender == sender)]

    def last_seq(self, user_id: str) -> int:
        with self.lock:
            for item in reversed(self.chat):
                if item.user_id == user_id:
                    return item.seq
            return 0

    # -- retry keys & reply tokens ------------------------------------------------------------
    def accepted(self, retry_key: str) -> AcceptedRequest | None:
        with self.lock:
            found = self.retry_keys.get(retry_key.lower())
            if found and self.now() - found.accepted_at > RETRY_KEY_TTL:
                del self.retry_keys[retry_key.lower()]
                return None
            return found

    def accept(self, retry_key: str, request_id: str, sent_messages: list[dict]) -> None:
        with self.lock:
            self.retry_keys[retry_key.lower()] = AcceptedRequest(request_id, self.now(), sent_messages)

    def issue_reply_token(self, user_id: str) -> str:
        with self.lock:
            token = secrets.token_hex(16)
            self.reply_tokens[token] = (user_id, self.now() + self.reply_token_ttl)
            return token

    def use_reply_token(self, token: str) -> str | None:
        """The user the token belongs to, consuming it; None if unknown, used or expired."""
        with self.lock:
            entry = self.reply_tokens.pop(token, None)
            if entry is None:
                return None
            user_id, expires = entry
            return user_id if self.now() <= expires else None

    # -- rate limit & faults --------------------------------------------------------------------
    def rate_ok(self, endpoint: str) -> bool:
        with self.lock:
            limit = self.rate_limit_per_second
            if not limit:
                return True
            now = time.monotonic()
            window = self.rate_windows.setdefault(endpoint, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= max(1, int(limit)):
                return False
            window.append(now)
            return True

    def roll(self, fault: str) -> bool:
        with self.lock:
            rate = float(self.faults.get(fault) or 0.0)
            return rate > 0 and self.random.random() < rate

    def set_faults(self, **changes: Any) -> dict:
        with self.lock:
            unknown = set(changes) - set(FAULT_DEFAULTS)
            if unknown:
                raise KeyError(", ".join(sorted(unknown)))
            self.faults.update(changes)
            return dict(self.faults)

    def quota_left(self, recipients: int) -> bool:
        with self.lock:
            if self.faults.get("quota_exhausted"):
                return False
            limit = self.faults.get("monthly_limit")
            return limit is None or self.month_usage + recipients <= int(limit)

    # -- logs ---------------------------------------------------------------------------------
    def log_request(self, entry: dict) -> None:
        with self.lock:
            self.requests.append(entry)
            key = (entry["path"], entry["status"])
            self.request_counts[key] = self.request_counts.get(key, 0) + 1

    def count_requests(self, path: str | None = None, status: int | None = None) -> int:
        with self.lock:
            return sum(n for (p, s), n in self.request_counts.items()
                       if (path is None or p == path) and (status is None or s == status))

    def log_webhook(self, entry: dict) -> None:
        with self.lock:
            self.webhooks.append(entry)
