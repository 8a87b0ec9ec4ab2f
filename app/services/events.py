"""Domain events of client work: a small publish/subscribe interface.

Services call `emit(name, ...)` inside the transaction of the change, before committing, so a
subscriber that writes rows (the notification outbox) commits or rolls back with the change.
Today every event is also recorded as an ActivityEvent. Subscribers: `subscribe(name, handler)`;
a handler receives the keyword arguments of `emit` (always `entity`, `obj` and `actor`).
"""
from collections import defaultdict

from app.services import activity

TASK_ASSIGNED = "task_assigned"
TASK_WITHDRAWN = "task_withdrawn"
MESSAGE_POSTED = "message_posted"
CLIENT_COMPLETED = "client_completed"
REQUEST_CREATED = "request_created"
FILE_REQUEST_CREATED = "file_request_created"
DEADLINE_APPROACHING = "deadline_approaching"
CLIENT_UPLOADED = "client_uploaded"
VOUCHER_DUE = "voucher_due"
SIGNATURE_DECLINED = "signature_declined"
SIGNATURE_COMPLETED = "signature_completed"
SIGNATURE_REQUESTED = "signature_requested"  # also each reminder (told apart by the discriminator)
ORGANIZER_SUBMITTED = "organizer_submitted"
ORGANIZER_REOPENED = "organizer_reopened"  # obj: the organizer's task (the portal page its contacts open)
EVENTS = (TASK_ASSIGNED, TASK_WITHDRAWN, MESSAGE_POSTED, CLIENT_COMPLETED, REQUEST_CREATED,
          FILE_REQUEST_CREATED, DEADLINE_APPROACHING, CLIENT_UPLOADED, SIGNATURE_DECLINED, SIGNATURE_COMPLETED)
# Events only clients receive: not on the staff preferences page (which lists EVENTS).
CLIENT_ONLY_EVENTS = (VOUCHER_DUE, SIGNATURE_REQUESTED, ORGANIZER_REOPENED)
DOCUMENT_UPLOADED = "document_uploaded"  # every upload or new version, by a client or staff
# Events only integrations (webhooks) receive: no notification, not on any preferences page.
INTEGRATION_EVENTS = (DOCUMENT_UPLOADED, ORGANIZER_SUBMITTED)
KNOWN = EVENTS + CLIENT_ONLY_EVENTS + INTEGRATION_EVENTS

_handlers = defaultdict(list)


def subscribe(name, handler):
    """Call `handler(**payload)` for every future `emit(name, ...)`."""
    if name not in KNOWN:
        raise ValueError(f"unknown event {name}")
    _handlers[name].append(handler)


def subscribers(name):
    """The handlers subscribed to `name`."""
    return list(_handlers[name])


def unsubscribe(name, handler):
    """Stop calling `handler` for `name` (tests and reloads)."""
    _handlers[name].remove(handler)


def emit(name, entity, obj, actor=None, record=True, **details):
    """Record the event in the activity log (uncommitted, unless the caller logged it already) and
    tell every subscriber."""
    if name not in KNOWN:
        raise ValueError(f"unknown event {name}")
    summary = details.get("summary") or str(obj)
    if record:
        activity.record(f"work.{name}", entity, obj, summary=summary, actor=actor, commit=False)
    for handler in list(_handlers[name]):
        handler(entity=entity, obj=obj, actor=actor, **details)
