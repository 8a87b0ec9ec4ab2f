"""Webhook delivery against a real HTTPS receiver on 127.0.0.1: signatures, retries with back-off after
500s and a timeout, one POST however often a job runs, auto-disable, SSRF refusals at delivery time,
and the outbox surviving a lost job."""
import json
import time
from datetime import datetime

import pytest
from sqlalchemy import select

from app.extensions import db
from app.jobs import deliver_webhook, queue
from app.models import ActivityEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.models.webhooks import DeliveryState
from app.security import roles as R
from app.services import webhooks, webhooks_send
from app.services.webhooks_http import verify_signature
from tests import factories as f
from tests.webhook_receiver import receiver, run_jobs  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("fresh_redis")


def _endpoint(server, events=webhooks.SUBSCRIBABLE):
    """An endpoint at the receiver, its secret handed to the receiver."""
    admin = f.staff(R.ADMIN)
    endpoint, secret = webhooks.create_endpoint(admin, server.url, "ERP", list(events))
    server.secret = secret
    return admin, endpoint, secret


def _state(delivery_id):
    db.session.expire_all()
    return db.session.get(WebhookDelivery, delivery_id)


def test_a_delivery_is_signed_and_the_receiver_verifies_it(ctx, receiver):
    """The test event reaches the receiver once, signed; its headers carry the event id and a timestamp."""
    admin, endpoint, secret = _endpoint(receiver)
    delivery = webhooks.send_test(admin, endpoint)
    assert run_jobs(lambda: _state(delivery.id).state is DeliveryState.delivered)
    [got] = receiver.requests
    assert got["valid"] and got["headers"]["Portico-Event-Id"] == delivery.event_id
    assert got["headers"]["Portico-Signature"].startswith("v1=") and got["headers"]["Portico-Event"] == "ping"
    body = json.loads(got["body"])
    assert body["id"] == delivery.event_id and body["event"] == "ping" and body["created"].endswith("Z")
    [attempt] = db.session.scalars(select(WebhookAttempt)).all()
    assert attempt.status_code == 200 and attempt.response_excerpt == "ok" and attempt.duration_ms >= 0


def test_a_tampered_body_a_wrong_secret_or_an_old_timestamp_is_refused(ctx, receiver):
    """verify_signature accepts the genuine request only: one changed byte, another secret or a stale
    timestamp fail."""
    admin, endpoint, secret = _endpoint(receiver)
    webhooks.send_test(admin, endpoint)
    run_jobs(lambda: receiver.requests)
    headers, body = receiver.requests[0]["headers"], receiver.requests[0]["body"]
    assert verify_signature(secret, headers, body)
    assert not verify_signature(secret, headers, body.replace(b"ping", b"pong"))
    assert not verify_signature("whsec_other", headers, body)
    assert not verify_signature(secret, headers, body, now=int(headers["Portico-Timestamp"]) + 301)
    assert not verify_signature(secret, dict(headers, **{"Portico-Timestamp": "soon"}), body)


def test_500s_are_retried_with_back_off_until_delivered(ctx, receiver):
    """Two 500s, then 200: three POSTs of the same event, each retry waiting at least its interval."""
    receiver.answers = [(500, 0, None), (500, 0, None), (200, 0, None)]
    admin, endpoint, _secret = _endpoint(receiver)
    delivery = webhooks.send_test(admin, endpoint)
    assert run_jobs(lambda: _state(delivery.id).state is DeliveryState.delivered, seconds=20)
    attempts = db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.number)).all()
    assert [a.status_code for a in attempts] == [500, 500, 200]
    gaps = [(b.started_on - a.started_on).total_seconds() for a, b in zip(attempts, attempts[1:])]
    assert all(gap >= 1 for gap in gaps)
    assert len({r["headers"]["Portico-Event-Id"] for r in receiver.requests}) == 1


def test_a_timeout_is_a_failed_attempt_that_is_retried(ctx, receiver, app):
    """A receiver slower than WEBHOOK_TIMEOUT_SECONDS fails the attempt within the timeout; the retry succeeds."""
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.5
    receiver.answers = [(200, 2, None), (200, 0, None)]
    admin, endpoint, _secret = _endpoint(receiver)
    delivery = webhooks.send_test(admin, endpoint)
    assert run_jobs(lambda: _state(delivery.id).state is DeliveryState.delivered)
    first, second = db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.number)).all()
    assert "timed out" in first.error.lower() and first.duration_ms < 1500 and second.status_code == 200


def test_out_of_attempts_the_delivery_is_failed(ctx, receiver):
    """Always 500: one try and the configured retries (here 2), then failed with the last status."""
    receiver.answers = [(500, 0, None)]
    admin, endpoint, _secret = _endpoint(receiver)
    delivery = webhooks.send_test(admin, endpoint)
    assert run_jobs(lambda: _state(delivery.id).state is DeliveryState.failed, seconds=20)
    row = _state(delivery.id)
    assert row.attempts == 3 and row.last_status == 500 and len(receiver.requests) == 3


def test_a_job_run_twice_posts_once(ctx, receiver):
    """The delivery job run again after success (an rq retry, a duplicate) sends nothing more."""
    admin, endpoint, _secret = _endpoint(receiver)
    delivery = webhooks.send_test(admin, endpoint)
    queue().empty()
    assert deliver_webhook(delivery.id) == "delivered"
    assert deliver_webhook(delivery.id) == "skipped"
    assert len(receiver.requests) == 1 and _state(delivery.id).attempts == 1


def test_repeated_failures_switch_the_endpoint_off(ctx, receiver, app):
    """After WEBHOOK_DISABLE_AFTER failed attempts in a row the endpoint is off, noted in the audit trail,
    and new events write no delivery for it."""
    app.config.update(WEBHOOK_DISABLE_AFTER=2, WEBHOOK_RETRY_INTERVALS="")
    receiver.answers = [(500, 0, None)]
    admin, endpoint, _secret = _endpoint(receiver)
    first, second = webhooks.send_test(admin, endpoint), webhooks.send_test(admin, endpoint)
    queue().empty()
    assert [deliver_webhook(first.id), deliver_webhook(second.id)] == ["failed", "failed"]
    db.session.expire_all()
    row = db.session.get(WebhookEndpoint, endpoint.id)
    assert not row.active and row.auto_disabled_on is not None and row.consecutive_failures == 2
    assert db.session.scalar(select(ActivityEvent.verb).where(ActivityEvent.verb == "webhook.auto_disabled"))
    assert webhooks.subscribed_endpoints("document.uploaded") == []
    assert webhooks.health() == {"failed": 2, "switched_off": 1}


@pytest.mark.parametrize("answer", [(302, 0, "https://127.0.0.1:1/elsewhere"), (307, 0, "/hook2")])
def test_redirects_are_not_followed(ctx, receiver, app, answer):
    """A 3xx answer is a failed attempt: the Location is never requested."""
    app.config["WEBHOOK_RETRY_INTERVALS"] = ""
    receiver.answers = [answer]
    admin, endpoint, _secret = _endpoint(receiver)
    delivery = webhooks.send_test(admin, endpoint)
    queue().empty()
    assert deliver_webhook(delivery.id) == "failed"
    assert len(receiver.requests) == 1 and "not followed" in _state(delivery.id).last_error


def test_an_address_that_turned_private_is_refused_at_delivery(ctx, receiver, app):
    """An endpoint registered while allowed is checked again at each POST: now private, nothing is sent."""
    app.config["WEBHOOK_RETRY_INTERVALS"] = ""
    admin, endpoint, _secret = _endpoint(receiver)
    delivery = webhooks.send_test(admin, endpoint)
    queue().empty()
    app.config["WEBHOOK_ALLOWED_NETWORKS"] = ""
    assert deliver_webhook(delivery.id) == "failed"
    assert receiver.requests == [] and "private" in _state(delivery.id).last_error


def test_an_untrusted_certificate_fails_the_attempt(ctx, receiver, app):
    """Without the test CA bundle the receiver's self-signed certificate is refused: no body sent."""
    app.config["WEBHOOK_RETRY_INTERVALS"] = ""
    admin, endpoint, _secret = _endpoint(receiver)
    delivery = webhooks.send_test(admin, endpoint)
    queue().empty()
    app.config["WEBHOOK_CA_BUNDLE"] = ""
    assert deliver_webhook(delivery.id) == "failed"
    assert receiver.requests == [] and "CERTIFICATE" in _state(delivery.id).last_error.upper()


def test_the_outbox_survives_a_lost_job_and_a_killed_worker(ctx, receiver):
    """Jobs flushed from Redis and a row left "sending" by a dead worker: the sweep queues both again and
    each is delivered once."""
    admin, endpoint, _secret = _endpoint(receiver)
    lost, stuck = webhooks.send_test(admin, endpoint), webhooks.send_test(admin, endpoint)
    queue().empty()
    db.session.execute(WebhookDelivery.__table__.update().where(WebhookDelivery.id == stuck.id).values(
        state=DeliveryState.sending.name, claimed_until=datetime.now()))
    db.session.commit()
    time.sleep(1.1)
    assert webhooks_send.sweep(grace=0) == {"requeued": 2, "released": 1}
    assert run_jobs(lambda: all(_state(d.id).state is DeliveryState.delivered for d in (lost, stuck)))
    assert len(receiver.requests) == 2


def test_a_rolled_back_change_writes_no_delivery(ctx, receiver):
    """Deliveries are written in the change's transaction: a rollback leaves none and queues nothing."""
    admin, endpoint, _secret = _endpoint(receiver)
    webhooks._add_delivery(endpoint, {"id": "x", "event": "ping"})
    db.session.flush()
    db.session.rollback()
    assert db.session.scalars(select(WebhookDelivery)).all() == [] and queue().count == 0


def test_the_readme_verification_example_agrees_with_the_helper(ctx, receiver):
    """The Python example in the README's Webhooks section accepts a real delivery and refuses a tampered one."""
    import pathlib
    import re

    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## Webhooks"):readme.index("## Staff sign-in and sessions")]
    namespace = {}
    exec(re.search(r"```python\n(.*?)```", section, re.S).group(1), namespace)  # noqa: S102 (our own README)
    admin, endpoint, secret = _endpoint(receiver)
    webhooks.send_test(admin, endpoint)
    assert run_jobs(lambda: receiver.requests)
    headers, body = receiver.requests[0]["headers"], receiver.requests[0]["body"]
    assert namespace["verify_signature"](secret, headers, body)
    assert not namespace["verify_signature"](secret, headers, body + b" ")
