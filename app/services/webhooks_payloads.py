"""What each webhook event says: ids, links and a few plain fields of the object and its entity.

Never message bodies, internal notes, file contents, e-mail addresses or anything a staff screen
keeps to staff: a receiver that needs more reads it through the API with its own rights.
"""
import uuid
from datetime import datetime, timezone

from app.services import events
from app.services.portal.mail import base_url
from app.services.presenter import name_and_path

# Domain event → webhook event name (what Admins subscribe to, and what receivers see).
EVENT_NAMES = {
    events.CLIENT_COMPLETED: "task.client_completed",
    events.DOCUMENT_UPLOADED: "document.uploaded",
    events.REQUEST_CREATED: "client_request.created",
    events.SIGNATURE_COMPLETED: "signature_request.completed",
    events.ORGANIZER_SUBMITTED: "organizer.submitted",
}
PING = "ping"  # the "send a test event" button's event


def _when(value):
    """A date as ISO 8601; a time in UTC with a Z (the database keeps local naive times)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.astimezone()
        return aware.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def envelope(event, data):
    """The JSON document of one event: its id (receivers' idempotency key), name, time and data."""
    return {"id": str(uuid.uuid4()), "event": event, "created": _when(datetime.now(timezone.utc)), "data": data}


def _entity(entity):
    return {"id": entity.id, "name": entity.name, "url": f"{base_url()}/entityview/show/{entity.id}"}


def _link(obj):
    return name_and_path(obj, portal=False, base=base_url())[1]


def _task(task, details):
    return {"type": "task", "id": task.id, "title": task.title, "url": _link(task),
            "deadline": _when(task.deadline), "client_done_on": _when(task.client_done_on),
            "client_done_by_contact_id": task.client_done_by_id,
            "auto_completed": bool(details.get("auto_completed"))}


def _document(doc, details):
    return {"type": "document", "id": doc.id, "name": doc.name, "url": _link(doc), "version": doc.version_count,
            "file_type": doc.file_type, "size": doc.size, "folder_id": doc.folder_id,
            "direction": doc.direction.name, "visibility": doc.visibility.name,
            "uploaded_by": "client" if details.get("by_client") else "staff"}


def _request(request, details):
    return {"type": "client_request", "id": request.id, "subject": request.subject, "url": _link(request),
            "contact_id": request.contact_id, "document_ids": sorted(d.id for d in request.attachments)}


def _signature(request, details):
    return {"type": "signature_request", "id": request.id, "title": request.title, "url": _link(request),
            "completed_on": _when(request.completed_on),
            "document_ids": sorted(item.document_id for item in request.documents)}


def _organizer(organizer, details):
    """Ready for organizers (they do not exist yet): id, name, year, submitted_on and contact."""
    return {"type": "organizer", "id": organizer.id, "name": getattr(organizer, "name", ""),
            "url": details.get("url"), "tax_year": getattr(organizer, "tax_year", None),
            "submitted_on": _when(getattr(organizer, "submitted_on", None)),
            "submitted_by_contact_id": getattr(organizer, "submitted_by_id", None)}


_OBJECTS = {
    events.CLIENT_COMPLETED: _task,
    events.DOCUMENT_UPLOADED: _document,
    events.REQUEST_CREATED: _request,
    events.SIGNATURE_COMPLETED: _signature,
    events.ORGANIZER_SUBMITTED: _organizer,
}


def data_for(domain_event, entity, obj, details):
    """The "data" member of a domain event's webhook: the object and its entity."""
    return {"object": _OBJECTS[domain_event](obj, details), "entity": _entity(entity)}


def ping_data(endpoint_id):
    """The test event's data: nothing but which endpoint it was sent to."""
    return {"object": {"type": "webhook_endpoint", "id": endpoint_id}, "entity": None}
