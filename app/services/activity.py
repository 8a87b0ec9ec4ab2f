"""Recording what happened, for "Recent activity" and the staff audit trail."""
from flask import has_request_context, request
from flask_login import current_user

from app.extensions import db
from app.models import ActivityEvent


def client_ip():
    """The requesting address (ProxyFix puts the client's there when TRUSTED_PROXIES is set)."""
    return request.remote_addr if has_request_context() else None


def record(verb, entity=None, obj=None, summary=None, actor=None, commit=True):
    """Add an ActivityEvent (by default for the signed-in user) and commit unless told not to."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    event = ActivityEvent(
        actor_id=getattr(actor, "id", None),
        entity_id=getattr(entity, "id", None),
        verb=verb,
        object_type=type(obj).__name__ if obj is not None else None,
        object_id=getattr(obj, "id", None),
        summary=(summary or (str(obj) if obj is not None else ""))[:300],
        ip=client_ip(),
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event
