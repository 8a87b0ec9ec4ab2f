"""Webhooks: Admins register HTTPS endpoints; domain events become signed deliveries.

Each subscribed event writes one WebhookDelivery per endpoint inside the transaction of the change
(an outbox: a rolled-back change sends nothing); after the commit a job is queued per delivery
(app.services.webhooks_send POSTs it). A job Redis lost is queued again by the periodic sweep.
Secrets are made here, shown once, and kept Fernet-encrypted (WEBHOOK_ENCRYPTION_KEY, else
SECRET_KEY), as two-factor secrets are.
"""
import base64
import hashlib
import json
import logging
import secrets
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint
from app.security import access
from app.services import activity, events
from app.services.webhooks_http import AddressRefused, resolve
from app.services.webhooks_payloads import EVENT_NAMES, PING, data_for, envelope, ping_data

PENDING_KEY = "portico_new_webhook_deliveries"
SUBSCRIBABLE = tuple(EVENT_NAMES.values())
log = logging.getLogger(__name__)


class WebhookError(ValueError):
    """A refused webhook operation; the message is for the user."""


def _fernet():
    key = current_app.config.get("WEBHOOK_ENCRYPTION_KEY") or current_app.config["SECRET_KEY"]
    raw = hashlib.sha256(b"portico-webhook|" + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(raw))


def decrypt_secret(endpoint):
    """The endpoint's signing secret, or None when the key has changed (rotate it then)."""
    try:
        return _fernet().decrypt(endpoint.secret_encrypted.encode()).decode()
    except InvalidToken:
        log.error("webhook endpoint %s: secret unreadable (was the encryption key changed?)", endpoint.id)
        return None


def _new_secret(endpoint):
    """Give `endpoint` a new secret (stored encrypted); the plain one is returned to show once."""
    plain = "whsec_" + secrets.token_urlsafe(32)
    endpoint.secret_encrypted = _fernet().encrypt(plain.encode()).decode()
    endpoint.secret_created_on = datetime.now()
    return plain


def _check(actor):
    if not access.may_manage_webhooks(actor):
        raise WebhookError(_("Only Admins manage webhooks."))


def _clean(url, description, event_names):
    """The validated fields, or WebhookError: a public https:// address, known events."""
    url = (url or "").strip()
    if len(url) > 2000:
        raise WebhookError(_("The address is too long."))
    try:
        resolve(url)
    except AddressRefused as refused:
        raise WebhookError(str(refused)) from None
    unknown = [name for name in event_names if name not in SUBSCRIBABLE]
    if unknown or not event_names:
        raise WebhookError(_("Choose at least one event."))
    return url, (description or "").strip()[:500], "\n".join(n for n in SUBSCRIBABLE if n in event_names)


def create_endpoint(actor, url, description, event_names, active=True):
    """Register an endpoint; (endpoint, plain secret) — the secret is never shown again."""
    _check(actor)
    url, description, names = _clean(url, description, event_names)
    endpoint = WebhookEndpoint(url=url, description=description, events=names, active=bool(active),
                               created_by_id=actor.id)
    plain = _new_secret(endpoint)
    db.session.add(endpoint)
    db.session.flush()
    activity.record("webhook.created", obj=endpoint, summary=url, actor=actor, commit=False)
    db.session.commit()
    return endpoint, plain


def update_endpoint(actor, endpoint, url, description, event_names, active):
    """Change an endpoint; switching it on again clears its failure count."""
    _check(actor)
    endpoint.url, endpoint.description, endpoint.events = _clean(url, description, event_names)
    if active and not endpoint.active:
        endpoint.consecutive_failures, endpoint.auto_disabled_on = 0, None
    endpoint.active = bool(active)
    activity.record("webhook.updated", obj=endpoint, summary=endpoint.url, actor=actor, commit=False)
    db.session.commit()
    return endpoint


def rotate_secret(actor, endpoint):
    """A new secret for the endpoint (the old one stops at once); the plain one, to show once."""
    _check(actor)
    plain = _new_secret(endpoint)
    activity.record("webhook.secret_rotated", obj=endpoint, summary=endpoint.url, actor=actor, commit=False)
    db.session.commit()
    return plain


def delete_endpoint(actor, endpoint):
    """Remove an endpoint with its deliveries."""
    _check(actor)
    activity.record("webhook.deleted", summary=endpoint.url, actor=actor, commit=False)
    db.session.delete(endpoint)
    db.session.commit()


def send_test(actor, endpoint):
    """Queue a "ping" event to the endpoint (sent even while it is off, to try it out)."""
    _check(actor)
    delivery = _add_delivery(endpoint, envelope(PING, ping_data(endpoint.id)))
    db.session.commit()
    return delivery


def _add_delivery(endpoint, document):
    delivery = WebhookDelivery(endpoint=endpoint, event=document["event"], event_id=document["id"],
                               body=json.dumps(document, separators=(",", ":"), sort_keys=True),
                               state=DeliveryState.pending, next_attempt_at=datetime.now())
    db.session.add(delivery)
    return delivery


def subscribed_endpoints(name):
    """The active endpoints that receive webhook event `name` (one query)."""
    rows = db.session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.active.is_(True), WebhookEndpoint.events.contains(name))).all()
    return [row for row in rows if name in row.event_names()]


def _handler(domain_event):
    def on_event(entity, obj, actor=None, **details):
        """Write one delivery per subscribed endpoint, in the transaction of the change."""
        name = EVENT_NAMES[domain_event]
        endpoints = subscribed_endpoints(name)
        if endpoints:
            document = envelope(name, data_for(domain_event, entity, obj, details))
            for endpoint in endpoints:
                _add_delivery(endpoint, document)

    on_event.__name__ = f"webhooks_on_{domain_event}"
    return on_event


HANDLERS = {name: _handler(name) for name in EVENT_NAMES}


def register():
    """Subscribe to the domain events and queue deliveries after commits (once per process)."""
    for name, handler in HANDLERS.items():
        if handler not in events.subscribers(name):
            events.subscribe(name, handler)
    if not event.contains(Session, "after_flush", _remember_new):
        event.listen(Session, "after_flush", _remember_new)
        event.listen(Session, "after_commit", _enqueue_new)
        event.listen(Session, "after_rollback", _forget_new)


def _remember_new(session, flush_context):
    new = [d.id for d in session.new if isinstance(d, WebhookDelivery)]
    if new:
        session.info.setdefault(PENDING_KEY, []).extend(new)


def _enqueue_new(session):
    """After the commit: one delivery job per new row (Redis trouble is logged: the sweep catches up)."""
    from app import jobs

    for delivery_id in session.info.pop(PENDING_KEY, []):
        jobs.enqueue_webhook(delivery_id)


def _forget_new(session):
    session.info.pop(PENDING_KEY, None)


def retry(ids):
    """Failed or waiting deliveries → due now with one more attempt, each handed to a job;
    (moved ids, skipped count)."""
    from app import jobs

    wanted = sorted({int(i) for i in ids if str(i).isdigit()})
    moved = []
    for delivery_id in wanted:
        result = db.session.execute(update(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.state.in_((DeliveryState.failed, DeliveryState.pending))).values(
            state=DeliveryState.pending, next_attempt_at=datetime.now(), last_error=None))
        if result.rowcount == 1:
            moved.append(delivery_id)
    db.session.commit()
    for delivery_id in moved:
        jobs.enqueue_webhook(delivery_id)
    return moved, len(wanted) - len(moved)


def health():
    """For the ops console's front page: failed deliveries, and endpoints switched off automatically."""
    failed = db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.state == DeliveryState.failed))
    switched_off = db.session.scalar(select(func.count()).select_from(WebhookEndpoint).where(
        WebhookEndpoint.active.is_(False), WebhookEndpoint.auto_disabled_on.is_not(None)))
    return {"failed": failed, "switched_off": switched_off}
