"""The audit log: every activity event, filterable and exportable as CSV (formula cells neutralised)."""
import time

from flask_babel import lazy_gettext as _l

from app.ops.base import OpsModelView


AUDIT_EXPORT_MAX_ROWS = 100_000  # bounds the memory one CSV export may take; filter by date for more


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection): prefix a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class AuditLogView(OpsModelView):
    """The activity log, newest first, read-only, with a CSV export."""

    can_export = True
    export_types = ["csv"]
    export_max_rows = AUDIT_EXPORT_MAX_ROWS
    column_list = ["created_on", "actor", "entity", "verb", "object_type", "object_id", "summary", "ip"]
    column_details_list = ["id"] + column_list
    column_export_list = ["id"] + column_list
    column_sortable_list = ["created_on", "verb"]
    column_default_sort = [("created_on", True), ("id", True)]
    column_searchable_list = ["summary", "verb"]
    column_filters = ["verb", "entity.name", "entity_id", "actor.username", "actor_id", "object_type", "created_on"]
    column_labels = {
        "id": _l("Id"),
        "created_on": _l("When"),
        "actor": _l("Who"),
        "actor.username": _l("Who: username"),
        "actor_id": _l("Who: user id"),
        "entity": _l("Entity"),
        "entity.name": _l("Entity: name"),
        "entity_id": _l("Entity: id"),
        "verb": _l("What"),
        "object_type": _l("Object"),
        "object_id": _l("Object id"),
        "summary": _l("Summary"),
        "ip": _l("IP address"),
    }

    def get_export_value(self, model, name):
        value = super().get_export_value(model, name)  # may be a User or Entity: its str() is what is written
        return csv_safe(value if value is None or isinstance(value, str) else str(value))

    def get_export_name(self, export_type="csv"):
        return f"portico-audit-log_{time.strftime('%Y-%m-%d_%H-%M-%S')}.{export_type}"
