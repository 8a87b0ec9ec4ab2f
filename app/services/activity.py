"""Recording what happened, for "Recent activity" and the staff audit trail."""
from app.extensions import db
from app.models import ActivityEvent


def record(verb, entity=None, obj=None, summary=None, actor=None, commit=True, address=None):
    """Add an ActivityEvent by `actor` (None: the system) and commit unless told not to.

    The client address is `address`, else the one the web layer attached to the actor for this
    request (`actor.client_address`); jobs and commands have none.
    """
    event = ActivityEvent(
        actor_id=getattr(actor, "id", None),
        entity_id=getattr(entity, "id", None),
        verb=verb,
        object_type=type(obj).__name__ if obj is not None else None,
        object_id=getattr(obj, "id", None),
        summary=(summary or (str(obj) if obj is not None else ""))[:300],
        ip=address or getattr(actor, "client_address", None),
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event
