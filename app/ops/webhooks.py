"""Webhook deliveries: each one's state and every attempt's answer; "retry now" through the service."""
from flask import flash
from flask_admin.actions import action
from flask_babel import lazy_gettext as _l, ngettext
from markupsafe import Markup, escape

from app.models.webhooks import WebhookDelivery
from app.ops.base import OpsModelView
from app.services import webhooks as webhook_service

DELIVERY_STATES = {"pending": _l("Waiting"), "sending": _l("Sending"), "delivered": _l("Delivered"),
                   "failed": _l("Failed")}


def _state(view, context, model, name):
    value = getattr(model, name)
    return DELIVERY_STATES.get(value.name, value.name) if value is not None else ""


def _endpoint(view, context, model, name):
    return model.endpoint.url if model.endpoint is not None else ""


def _attempts(view, context, model, name):
    """Every attempt: when, status or error, duration, and the start of the answer (escaped)."""
    rows = "".join(
        f"<tr><td>{a.number}</td><td>{a.started_on:%Y-%m-%d %H:%M:%S}</td><td>{escape(a.status_code or '')}</td>"
        f"<td>{a.duration_ms} ms</td><td>{escape(a.error or '')}</td><td><pre>{escape(a.response_excerpt or '')}</pre></td></tr>"
        for a in model.attempt_rows)
    return Markup(f'<table class="table table-sm"><tbody>{rows}</tbody></table>') if rows else ""


def _body(view, context, model, name):
    return Markup(f"<pre>{escape(model.body)}</pre>")


class WebhookDeliveryView(OpsModelView):
    """Every webhook delivery, newest first; failed or waiting ones can be retried now."""

    list_template = "ops/webhooks_list.html"
    column_list = ["id", "endpoint", "event", "state", "attempts", "last_status", "last_error", "next_attempt_at",
                   "delivered_on", "created_on"]
    column_details_list = ["id", "endpoint", "event", "event_id", "state", "attempts", "last_status", "last_error",
                           "next_attempt_at", "delivered_on", "created_on", "body", "attempt_rows"]
    column_select_related_list = [WebhookDelivery.endpoint]  # no N+1
    column_sortable_list = ["id", "event", "state", "attempts", "next_attempt_at", "delivered_on"]
    column_default_sort = ("id", True)
    column_searchable_list = ["event", "event_id"]
    column_filters = ["state", "event", "endpoint_id", "endpoint.url", "last_status", "created_on"]
    column_labels = {
        "id": _l("Id"), "endpoint": _l("Endpoint"), "endpoint_id": _l("Endpoint id"),
        "endpoint.url": _l("Endpoint address"), "event": _l("Event"), "event_id": _l("Event id"),
        "state": _l("State"), "attempts": _l("Attempts"), "last_status": _l("Last status"),
        "last_error": _l("Last error"), "next_attempt_at": _l("Next attempt"), "delivered_on": _l("Delivered on"),
        "created_on": _l("Created on"), "body": _l("Body"), "attempt_rows": _l("Attempts and answers"),
    }
    column_formatters = {"state": _state, "endpoint": _endpoint}
    column_formatters_detail = {"state": _state, "endpoint": _endpoint, "attempt_rows": _attempts, "body": _body}

    @action("retry", _l("Retry now"), _l("Send the selected deliveries again now?"))
    def action_retry(self, ids):
        """Failed or waiting → due now with one more attempt, handed to a delivery job."""
        moved, skipped = webhook_service.retry(ids)
        if moved:
            flash(ngettext("%(num)d delivery will be sent again.", "%(num)d deliveries will be sent again.",
                           len(moved)), "success")
        if skipped:
            flash(ngettext("%(num)d delivery was delivered or is being sent, and was left as it was.",
                           "%(num)d deliveries were delivered or are being sent, and were left as they were.",
                           skipped), "warning")
