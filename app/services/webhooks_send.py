"""Sending webhook deliveries: claim, sign, POST, record the attempt, back off or give up.

A job claims its delivery (pending and due → sending, with a lease) before the POST and commits
the outcome after it, so a job run again after success finds nothing to do: never a second POST.
A worker killed during a POST leaves a "sending" row whose lease runs out; the sweep makes it due
again (delivery is at least once: receivers drop repeats by the event id).
"""
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models.webhooks import DeliveryState, WebhookAttempt, WebhookDelivery
from app.services import activity
from app.services.webhooks import decrypt_secret
from app.services.webhooks_http import post, signature_headers
from app.services.webhooks_payloads import PING

SKIPPED = "skipped"
OFF = "the endpoint is switched off"


def retry_intervals():
    """Seconds to wait before each retry (WEBHOOK_RETRY_INTERVALS); attempts = retries + 1."""
    text = str(current_app.config.get("WEBHOOK_RETRY_INTERVALS", "60,300,1800,7200,21600"))
    return [float(s) for s in text.split(",") if s.strip()]


def _lease():
    return timedelta(seconds=float(current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 10)) * 3 + 60)


def _claim(delivery_id, now):
    token = secrets.token_hex(8)
    claimed = db.session.execute(update(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.state == DeliveryState.pending,
        WebhookDelivery.next_attempt_at <= now + timedelta(seconds=1),
    ).values(state=DeliveryState.sending, claim_token=token, claimed_until=now + _lease())).rowcount
    db.session.commit()
    return token if claimed == 1 else None


def deliver(delivery_id):
    """POST one due delivery once; "delivered", "retry", "failed" or "skipped" (nothing to do)."""
    now = datetime.now()
    token = _claim(delivery_id, now)
    if token is None:
        return SKIPPED
    delivery = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    endpoint = delivery.endpoint
    if not endpoint.active and delivery.event != PING:
        return _give_up(delivery, OFF)
    secret = decrypt_secret(endpoint)
    if secret is None:
        return _give_up(delivery, "the signing secret cannot be read: rotate it")
    body = delivery.body.encode()
    answer = post(endpoint.url, body, signature_headers(secret, delivery.event_id, delivery.event, body))
    delivery.attempts += 1
    db.session.add(WebhookAttempt(delivery_id=delivery.id, number=delivery.attempts, started_on=now,
                                  duration_ms=answer.duration_ms, status_code=answer.status,
                                  response_excerpt=answer.excerpt, error=answer.error))
    delivery.last_status, delivery.claim_token, delivery.claimed_until = answer.status, None, None
    if answer.ok:
        delivery.state, delivery.delivered_on, delivery.last_error = DeliveryState.delivered, datetime.now(), None
        endpoint.consecutive_failures = 0
        db.session.commit()
        return "delivered"
    delivery.last_error = (answer.error or f"HTTP {answer.status}")[:500]
    _count_failure(endpoint)
    return _back_off(delivery)


def _back_off(delivery):
    intervals = retry_intervals()
    if delivery.attempts > len(intervals) or not delivery.endpoint.active and delivery.event != PING:
        delivery.state = DeliveryState.failed
        db.session.commit()
        return "failed"
    delivery.state = DeliveryState.pending
    delivery.next_attempt_at = datetime.now() + timedelta(seconds=intervals[delivery.attempts - 1])
    db.session.commit()
    from app import jobs

    jobs.enqueue_webhook(delivery.id, delivery.next_attempt_at)
    return "retry"


def _give_up(delivery, reason):
    delivery.state, delivery.last_error, delivery.claim_token, delivery.claimed_until = \
        DeliveryState.failed, reason, None, None
    db.session.commit()
    return "failed"


def _count_failure(endpoint):
    """One more failure in a row; past WEBHOOK_DISABLE_AFTER the endpoint is switched off, its waiting
    deliveries fail, and the audit trail (and its screen) shows why (uncommitted)."""
    endpoint.consecutive_failures += 1
    limit = int(current_app.config.get("WEBHOOK_DISABLE_AFTER", 15))
    if endpoint.active and endpoint.consecutive_failures >= limit:
        endpoint.active, endpoint.auto_disabled_on = False, datetime.now()
        db.session.execute(update(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == DeliveryState.pending,
            WebhookDelivery.event != PING).values(state=DeliveryState.failed, last_error=OFF)
            .execution_options(synchronize_session=False))
        activity.record("webhook.auto_disabled", obj=endpoint,
                        summary=f"{endpoint.url}: {endpoint.consecutive_failures} failures in a row", commit=False)


def sweep(now=None, grace=60):
    """Free the leases killed workers left, and queue again the due deliveries whose job was lost
    (due for `grace` seconds already). Returns the counts."""
    from app import jobs

    now = now or datetime.now()
    overdue = now - timedelta(seconds=grace)
    released = db.session.execute(update(WebhookDelivery).where(
        WebhookDelivery.state == DeliveryState.sending, WebhookDelivery.claimed_until < now).values(
        state=DeliveryState.pending, claim_token=None, claimed_until=None, next_attempt_at=overdue)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    due = db.session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.state == DeliveryState.pending, WebhookDelivery.next_attempt_at <= overdue)
        .order_by(WebhookDelivery.id).limit(1000)).all()
    for delivery_id in due:
        jobs.enqueue_webhook(delivery_id)
    return {"requeued": len(due), "released": released}
