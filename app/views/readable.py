"""Generated screens that read like a product: no "Added Row", no raw True/False or None, no "[]" or a
list's Python form where a relation holds several rows or none."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import escape

EMPTY = "—"


def yes_no(value):
    """A boolean as the reader says it."""
    return EMPTY if value is None else (_("Yes") if value else _("No"))


def or_dash(value):
    """Any other column: a dash where it is empty, not "None"."""
    return EMPTY if value is None else value


def names(rows):
    """A to-many relation: its rows' names, comma separated (a dash when none)."""
    rows = list(rows or ())
    return escape(", ".join(str(row) for row in rows)) if rows else EMPTY


class ReadableMixin:
    """Human messages after add/edit/delete, and formatters for booleans and to-many relations that
    the view does not format itself (list and show pages alike)."""

    add_row_message = _l("Saved.")
    edit_row_message = _l("Changes saved.")
    delete_row_message = _l("Deleted.")

    def _init_properties(self):
        super()._init_properties()
        formatters = dict(self.formatters_columns or {})  # a copy: the class's dict may be shared
        for column in set(self.list_columns) | set(self.show_columns):
            if column in formatters:
                continue
            if self.datamodel.is_boolean(column):
                formatters[column] = yes_no
            elif self.datamodel.is_relation_many_to_many(column) or self.datamodel.is_relation_one_to_many(column):
                formatters[column] = names
            elif self.datamodel.is_nullable(column):
                formatters[column] = or_dash
        self.formatters_columns = formatters
