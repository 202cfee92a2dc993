"""The reach preview's 「通知する見込み」 subtracts households notified within the cool-down."""
from __future__ import annotations

from datetime import timedelta

from notifier import audit
from notifier.outbox.enqueue import enqueue, notified_recently

from .conftest import AS_OF, BASE


def test_it_counts_matched_households_notified_within_the_cool_down(city):
    city.link("1000011", "U" + "1" * 32)
    city.link("1000021", "U" + "2" * 32)
    city.run(AS_OF, {"shugaku_enjo": ["600001", "600002"], "jido_teate": ["600003"]})
    with city.session() as s:
        enqueue(s, AS_OF, actor=audit.Actor.operator(), public_base_url=BASE)
        s.commit()
        later = AS_OF + timedelta(days=30)
        assert notified_recently(s, "shugaku_enjo", ["600001", "600002", "600003"], later, 365) == 2
        assert notified_recently(s, "shugaku_enjo", ["600001"], later, 365) == 1
        assert notified_recently(s, "shugaku_enjo", ["600001", "600002"], later, 30) == 0   # cool-down over
        assert notified_recently(s, "jido_teate", ["600001", "600002"], later, 365) == 0     # another rule


def test_the_web_app_supplies_the_hook_to_the_reach_preview(city):
    city.link("1000011", "U" + "1" * 32)
    city.run(AS_OF, {"shugaku_enjo": ["600001"]})
    with city.session() as s:
        enqueue(s, AS_OF, actor=audit.Actor.operator(), public_base_url=BASE)
        s.commit()
    hook = city.app.extensions["notified_recently"]
    with city.app.test_request_context():
        assert hook("shugaku_enjo", frozenset({"600001", "600002"}), AS_OF + timedelta(days=1), 365) == 1
