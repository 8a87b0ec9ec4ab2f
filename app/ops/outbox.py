"""The notification outbox: where each row stands in delivery; retry failed rows, cancel pending ones."""

from flask import flash
from flask_admin.actions import action
from flask_babel import gettext, lazy_gettext as _l, ngettext

from app.models import Notification
from app.services import notifications as notification_service
from app.ops.base import CHANNEL_LABELS, STATE_LABELS, OpsModelView

def _recipient(view, context, model, name):
    """The contact or staff user a notification goes to, with its kind."""
    if model.recipient_contact_id is not None:
        contact = model.recipient_contact
        label = contact.full_name if contact is not None else f"#{model.recipient_contact_id}"
        return gettext("Contact: %(name)s", name=label)
    user = model.recipient_user
    if user is None:
        return gettext("Staff: %(name)s", name=f"#{model.recipient_user_id}")
    label = f"{user.first_name} {user.last_name} ({user.username})"
    return gettext("Staff: %(name)s", name=label)


def _short(limit):
    def formatter(view, context, model, name):
        value = getattr(model, name) or ""
        return value if len(value) <= limit else value[: limit - 1] + "…"

    return formatter


def _state(view, context, model, name):
    value = getattr(model, name)
    return STATE_LABELS.get(value.name, value.name) if value is not None else ""


def _channel(view, context, model, name):
    value = getattr(model, name)
    return CHANNEL_LABELS.get(value, value.name if value is not None else "")


class OutboxView(OpsModelView):
    """Every notification row: where it stands in delivery; failed ones can be retried."""

    list_template = "ops/outbox_list.html"
    column_list = ["id", "event", "recipient", "channel", "state", "attempts", "send_after", "sent_on", "last_error"]
    column_details_list = [
        "id", "event", "recipient", "channel", "state", "attempts", "send_after", "sent_on", "read_at",
        "last_error", "object_type", "object_id", "entity", "idempotency_key", "actor_user_id", "created_on",
    ]
    column_select_related_list = [Notification.recipient_contact, Notification.recipient_user]  # no N+1
    column_sortable_list = ["id", "event", "channel", "state", "attempts", "send_after", "sent_on"]
    column_default_sort = ("id", True)
    column_searchable_list = ["event", "idempotency_key"]
    column_filters = [
        "state", "event", "channel",
        "recipient_contact_id", "recipient_contact.last_name", "recipient_contact.first_name",
        "recipient_user_id", "recipient_user.username", "recipient_user.email",
        "entity.name", "created_on", "send_after",
    ]
    column_labels = {
        "id": _l("Id"),
        "event": _l("Event"),
        "recipient": _l("Recipient"),
        "channel": _l("Channel"),
        "state": _l("State"),
        "attempts": _l("Attempts"),
        "send_after": _l("Send after"),
        "sent_on": _l("Sent on"),
        "read_at": _l("Read at"),
        "last_error": _l("Last error"),
        "object_type": _l("Object"),
        "object_id": _l("Object id"),
        "entity": _l("Entity"),
        "entity.name": _l("Entity"),
        "idempotency_key": _l("Idempotency key"),
        "actor_user_id": _l("Actor (user id)"),
        "created_on": _l("Created on"),
        "recipient_contact_id": _l("Recipient contact id"),
        "recipient_contact.last_name": _l("Recipient contact: last name"),
        "recipient_contact.first_name": _l("Recipient contact: first name"),
        "recipient_user_id": _l("Recipient user id"),
        "recipient_user.username": _l("Recipient user: username"),
        "recipient_user.email": _l("Recipient user: e-mail"),
    }
    column_formatters = {
        "recipient": _recipient,
        "state": _state,
        "channel": _channel,
        "last_error": _short(120),
    }
    column_formatters_detail = {"recipient": _recipient, "state": _state, "channel": _channel}

    @action("retry", _l("Retry"), _l("Send the selected failed notifications again?"))
    def action_retry(self, ids):
        """failed → pending, due now, attempts kept; then hand each one to a delivery job."""
        moved, skipped = notification_service.retry(ids)
        if moved:
            flash(ngettext("%(num)d notification will be sent again.",
                           "%(num)d notifications will be sent again.", len(moved)), "success")
        if skipped:
            flash(ngettext("%(num)d notification was not failed and was left as it was.",
                           "%(num)d notifications were not failed and were left as they were.", skipped), "warning")

    @action("cancel", _l("Cancel"), _l("Cancel the selected pending notifications?"))
    def action_cancel(self, ids):
        """pending → cancelled (a worker re-reads the state before sending, so it sends nothing)."""
        moved, skipped = notification_service.cancel(ids)
        if moved:
            flash(ngettext("%(num)d notification was cancelled.", "%(num)d notifications were cancelled.",
                           len(moved)), "success")
        if skipped:
            flash(ngettext("%(num)d notification was not pending and was left as it was.",
                           "%(num)d notifications were not pending and were left as they were.", skipped), "warning")
