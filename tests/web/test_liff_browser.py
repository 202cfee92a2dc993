"""The LIFF page in chromium: the ID token never comes from (or goes into) a URL."""
from __future__ import annotations

import pytest

from tests.web.test_rule_approval_browser import new_page

pytestmark = pytest.mark.browser


def test_the_liff_page_takes_no_id_token_from_the_address(live_app, chromium):
    errors: list[str] = []
    ctx, page = new_page(chromium, errors)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{live_app.url}/consent?aid=IZM-7K3P-9QX2&id_token=eyJhbGciOiJIUzI1NiJ9.e30.sig")
    page.locator("#liff-no-token").wait_for(state="visible")     # no LIFF SDK here: no token at all
    assert page.input_value("#id_token") == ""
    assert page.input_value("#aid") == "IZM-7K3P-9QX2"
    # The form posts its body; nothing the page asks for carries a token in its URL.
    assert page.get_attribute("#consent-form", "method") == "post"
    page.check("#notify")
    page.get_by_role("button", name="この内容で送信する").click()
    page.wait_for_load_state()
    assert not [u for u in requested[1:] if "id_token" in u], requested
    ctx.close()
    assert not [e for e in errors if not e.startswith("400 ")], errors   # the refused token is a 400 page
