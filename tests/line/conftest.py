"""Fixtures for LINE tests: the simulator served over real HTTP, a webhook receiver, a client."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from werkzeug.wrappers import Response

from notifier.line.client import LineClient
from notifier.line.sim.app import create_sim_app, serve_in_thread

CHANNEL_SECRET = "test-channel-secret"
ACCESS_TOKEN = "test-access-token"
LOGIN_CHANNEL_ID = "1650000001"


class WebhookReceiver:
    """What the service's webhook would see: raw bodies and headers, answering `status`."""

    def __init__(self, httpserver) -> None:
        self.url = httpserver.url_for("/webhook")
        self.calls: list[tuple[bytes, dict]] = []
        self.status = 200
        self._lock = threading.Lock()
        httpserver.expect_request("/webhook", method="POST").respond_with_handler(self._handle)

    def _handle(self, request):
        with self._lock:
            self.calls.append((request.get_data(), dict(request.headers)))
        return Response("", status=self.status)

    @property
    def last_body(self) -> bytes:
        return self.calls[-1][0]

    @property
    def last_signature(self) -> str:
        return self.calls[-1][1]["X-Line-Signature"]

    def last_payload(self) -> dict:
        return json.loads(self.last_body)


class SimControl:
    """The simulator's /_sim/ API, over HTTP as a test or the demo would use it."""

    def __init__(self, server) -> None:
        self.server = server
        self.base_url = server.base_url
        self.http = requests.Session()

    def _post(self, path: str, payload: dict | None = None) -> dict:
        response = self.http.post(f"{self.base_url}/_sim{path}", json=payload or {}, timeout=15)
        response.raise_for_status()
        return response.json()

    def _get(self, endpoint: str, **params) -> dict:
        response = self.http.get(f"{self.base_url}/_sim{endpoint}", params=params, timeout=15)
        response.raise_for_status()
        return response.json()

    def add_user(self, name: str = "和泉 花子", friend: bool = True) -> str:
        return self._post("/users", {"display_name": name, "friend": friend})["user_id"]

    def follow(self, user_id: str) -> dict:
        return self._post(f"/users/{user_id}/follow")

    def block(self, user_id: str, webhook: bool = True) -> dict:
        return self._post(f"/users/{user_id}/block", {"webhook": webhook})

    def text(self, user_id: str, text: str) -> dict:
        return self._post(f"/users/{user_id}/text", {"text": text})

    def postback(self, user_id: str, data: str, display_text: str | None = None) -> dict:
        return self._post(f"/users/{user_id}/postback", {"data": data, "displayText": display_text})

    def redeliver(self, user_id: str) -> dict:
        return self._post(f"/users/{user_id}/redeliver")

    def messages(self, user_id: str) -> list[dict]:
        return self._get(f"/users/{user_id}/messages")["messages"]

    def faults(self, **faults) -> dict:
        return self._post("/faults", faults)

    def config(self, **config) -> dict:
        return self._post("/config", config)

    def id_token(self, user_id: str, **params) -> str:
        return self._get(f"/users/{user_id}/id_token", **params)["id_token"]

    def request_count(self, path: str, status: int | None = None) -> int:
        params = {"path": path}
        if status is not None:
            params["status"] = status
        return self._get("/requests", **params)["count"]


@pytest.fixture
def webhook(httpserver) -> WebhookReceiver:
    return WebhookReceiver(httpserver)


@pytest.fixture
def sim_server(webhook):
    app = create_sim_app(CHANNEL_SECRET, ACCESS_TOKEN, webhook_url=webhook.url,
                         login_channel_id=LOGIN_CHANNEL_ID)
    server = serve_in_thread(app)
    yield server
    server.shutdown()


@pytest.fixture
def sim(sim_server) -> SimControl:
    return SimControl(sim_server)


@pytest.fixture
def line(sim_server):
    client = LineClient(sim_server.base_url, ACCESS_TOKEN, timeout=(2, 5))
    yield client
    client.close()


@pytest.fixture
def friend(sim) -> str:
    """A simulated resident who has added the account as a friend."""
    return sim.add_user("和泉 花子", friend=True)
