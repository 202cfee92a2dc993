"""Enqueue: which matches become notices and deliveries, and which never do."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from notifier import audit
from notifier.models import AuditEvent, Delivery, Notice
from notifier.outbox import links
from notifier.outbox.enqueue import enqueue, enqueue_reminders

from .conftest import AS_OF, BASE


def _enqueue(city, as_of=AS_OF):
    with city.session() as s:
        result = enqueue(s, as_of, actor=audit.Actor.operator(), public_base_url=BASE)
        s.commit()
        return result


def test_it_makes_one_notice_per_household_and_rule_with_one_delivery_per_account(city):
    a1 = city.link("1000011", "U" + "1" * 32)
    a2 = city.link("1000012", "U" + "2" * 32)       # a second member of the same household
    city.link("1000021", "U" + "3" * 32)
    city.run(AS_OF, {"shugaku_enjo": ["600001", "600002", "600003"], "jido_teate": ["600001"]})
    result = _enqueue(city)
    # 600003 has no linked account: no notice.
    assert (result.notices, result.deliveries, result.no_account) == (3, 5, 1)
    with city.session() as s:
        notices = s.execute(select(Notice.rule_id, Notice.setai_no, Notice.kind)).all()
        assert sorted(notices) == [("jido_teate", "600001", "notice"), ("shugaku_enjo", "600001", "notice"),
                                   ("shugaku_enjo", "600002", "notice")]
        deliveries = s.scalars(select(Delivery)).all()
        assert {d.line_account_id for d in deliveries if d.rule_id == "jido_teate"} == {a1, a2}
        assert len({d.retry_key for d in deliveries}) == 5
        assert {d.status for d in deliveries} == {"queued"}
        assert all(d.next_attempt_at is not None and d.attempts == 0 for d in deliveries)
        d = next(d for d in deliveries if d.rule_id == "shugaku_enjo")
        message = json.loads(d.message)
        assert message[0]["altText"] == "和泉市からのお知らせが届いています"
        apply_uri = message[0]["contents"]["footer"]["contents"][0]["action"]["uri"]
        assert apply_uri.startswith(BASE + "/r/")
        assert links.read_token(city.app.config["SECRET_KEY"], apply_uri.rsplit("/", 1)[1], 90) == d.retry_key
        # Nothing personal in the stored message: no household number, no resident number.
        assert "600001" not in d.message and "1000011" not in d.message
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "notice_enqueue")).one()
        assert event.detail["notices"] == 3 and event.detail["deliveries"] == 5


def test_a_second_run_for_the_same_day_adds_nothing(city):
    city.link("1000011", "U" + "1" * 32)
    city.run(AS_OF, {"shugaku_enjo": ["600001"]})
    assert _enqueue(city).notices == 1
    again = _enqueue(city)
    assert (again.notices, again.deliveries, again.already_notified) == (0, 0, 1)
    with city.session() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1


def test_the_cool_down_holds_until_it_has_passed(city):
    city.link("1000011", "U" + "1" * 32)
    city.run(AS_OF, {"shugaku_enjo": ["600001"]})
    assert _enqueue(city).notices == 1
    later = AS_OF + timedelta(days=364)                  # shugaku_enjo: cooldown_days 365
    city.run(later, {"shugaku_enjo": ["600001"]})
    assert _enqueue(city, later).already_notified == 1
    after = AS_OF + timedelta(days=365)
    city.run(after, {"shugaku_enjo": ["600001"]})
    assert _enqueue(city, after).notices == 1


def test_a_rule_skipped_for_missing_data_gets_no_notice(city):
    city.link("1000011", "U" + "1" * 32)
    city.run(AS_OF, {"shugaku_enjo": ["600001"], "jido_teate": ["600001"]}, skipped=("shugaku_enjo",))
    result = _enqueue(city)
    assert result.notices == 1
    assert "skipped" in result.rules["shugaku_enjo"] and result.rules["jido_teate"]["notices"] == 1


def test_no_notice_without_consent_or_when_the_account_is_blocked(city):
    city.link("1000011", "U" + "1" * 32, notify=False)
    city.link("1000021", "U" + "2" * 32, reachable=False)
    city.run(AS_OF, {"shugaku_enjo": ["600001", "600002"]})
    result = _enqueue(city)
    assert (result.notices, result.no_account) == (0, 2)


def test_no_notice_when_the_template_has_no_approved_version(city):
    from notifier.models import MessageTemplateVersion
    city.link("1000011", "U" + "1" * 32)
    with city.session() as s:
        s.execute(MessageTemplateVersion.__table__.update()
                  .where(MessageTemplateVersion.template_id == "shugaku_enjo").values(status="pending"))
        s.commit()
    city.run(AS_OF, {"shugaku_enjo": ["600001"]})
    result = _enqueue(city)
    assert result.notices == 0 and "skipped" in result.rules["shugaku_enjo"]


def test_no_run_for_the_day_is_a_clear_error(city):
    import pytest

    from notifier.outbox.enqueue import NoRun
    with pytest.raises(NoRun, match="no eligibility run"), city.session() as s:
        enqueue(s, AS_OF, actor="test", public_base_url=BASE)


def test_reminders_once_per_notice_with_the_reminder_sentences(city):
    city.link("1000011", "U" + "1" * 32)
    city.link("1000021", "U" + "2" * 32)
    city.run(AS_OF, {"shugaku_enjo": ["600001", "600002"]})
    _enqueue(city)
    with city.session() as s:
        ids = s.scalars(select(Notice.id)).all()
    day = AS_OF + timedelta(days=14)
    city.link("1000022", "U" + "3" * 32)        # linked since: the reminder goes to them too
    with city.session() as s:
        assert enqueue_reminders(s, day, ids, actor="test", public_base_url=BASE) == 2
        s.commit()
    with city.session() as s:
        assert enqueue_reminders(s, day, ids, actor="test", public_base_url=BASE) == 0
        reminders = s.scalars(select(Notice).where(Notice.kind == "reminder")).all()
        assert sorted(r.reminder_of for r in reminders) == sorted(ids)
        assert {r.as_of for r in reminders} == {day}
        rows = s.scalars(select(Delivery).where(Delivery.notice_id.in_([r.id for r in reminders]))).all()
        assert len(rows) == 3
        body = json.loads(rows[0].message)[0]["contents"]["body"]["contents"]
        assert body[1]["text"].startswith("先日お送りしたお知らせ")
        # A reminder of a reminder is never made.
        assert enqueue_reminders(s, day, [r.id for r in reminders], actor="test", public_base_url=BASE) == 0


def test_the_command_reports_counts_and_skipped_rules(city, runner):
    city.link("1000011", "U" + "1" * 32)
    city.run(AS_OF, {"shugaku_enjo": ["600001"], "jido_teate": ["600001"]}, skipped=("jido_teate",))
    result = runner.invoke(args=["notify", "enqueue", "--as-of", str(AS_OF), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert (payload["notices"], payload["deliveries"]) == (1, 1)
    assert "skipped" in payload["rules"]["jido_teate"]
    text = runner.invoke(args=["notify", "enqueue", "--as-of", str(AS_OF)])
    assert text.exit_code == 0 and "0 件" in text.output and "jido_teate: 作成しません" in text.output
    missing = runner.invoke(args=["notify", "enqueue", "--as-of", "2026-12-01"])
    assert missing.exit_code != 0 and "no eligibility run for 2026-12-01" in missing.output
