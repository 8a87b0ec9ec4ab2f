"""The audit trail: read-only, scoped to the entities a user may see."""
from flask_babel import lazy_gettext as _l

from sqlalchemy.orm import joinedload

from app.models import ActivityEvent
from app.views.base import SafeInterface, ScopedModelView


class ActivityEventView(ScopedModelView):
    """Who did what, when and from where."""

    datamodel = SafeInterface(ActivityEvent, eager=[joinedload(ActivityEvent.actor), joinedload(ActivityEvent.entity)])
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Activity")
    show_title = _l("Activity event")
    label_columns = {
        "created_on": _l("When"),
        "actor": _l("Who"),
        "entity": _l("Entity"),
        "verb": _l("What"),
        "verb_label": _l("What"),
        "object_type": _l("Object"),
        "object_id": _l("Object id"),
        "summary": _l("Summary"),
        "ip": _l("IP address"),
    }
    list_columns = ["created_on", "actor", "entity", "verb_label", "summary"]
    show_columns = ["created_on", "actor", "entity", "verb_label", "object_type", "object_id", "summary", "ip"]
    search_columns = ["entity", "created_on", "verb", "summary"]
    order_columns = ["created_on"]
    base_order = ("created_on", "desc")
