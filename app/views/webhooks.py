"""Webhooks screen (Admins): register HTTPS endpoints, see their state, rotate secrets, send a test.

A signing secret appears once, in the answer to the request that made it (never in a redirect,
the session or a log); the deliveries and their answers are listed in the ops console (/ops).
"""
from flask import abort, flash, make_response, redirect, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.extensions import db
from app.models.webhooks import WebhookEndpoint
from app.security.guard import parse_pk
from app.services import events, webhooks
from app.services.webhooks_payloads import EVENT_NAMES

EVENT_LABELS = {
    EVENT_NAMES[events.CLIENT_COMPLETED]: _l("A client completed a task"),
    EVENT_NAMES[events.DOCUMENT_UPLOADED]: _l("A document was uploaded (by a client or staff)"),
    EVENT_NAMES[events.REQUEST_CREATED]: _l("A client created a request"),
    EVENT_NAMES[events.SIGNATURE_COMPLETED]: _l("Everyone signed a signature request"),
    EVENT_NAMES[events.ORGANIZER_SUBMITTED]: _l("A client submitted an organizer"),
}


class EndpointForm(FlaskForm):
    """An endpoint's address, description, events and switch."""

    url = StringField(_l("Address (https://)"), validators=[DataRequired(), Length(max=2000)])
    description = StringField(_l("Description"), validators=[Length(max=500)])
    events = SelectMultipleField(_l("Events"), choices=[(name, label) for name, label in EVENT_LABELS.items()],
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    active = BooleanField(_l("Active"), default=True)


class ButtonForm(FlaskForm):
    """A button's CSRF token."""


def _endpoint(pk):
    row = db.session.get(WebhookEndpoint, parse_pk(pk))
    if row is None:
        abort(404)
    return row


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


class WebhookView(BaseView):
    """Admins: the firm's webhook endpoints."""

    route_base = "/webhooks"
    default_view = "index"
    base_permissions = ["can_list", "can_edit"]
    method_permission_name = {"index": "list", "new": "edit", "edit": "edit", "rotate": "edit", "test": "edit",
                              "delete": "edit"}

    @expose("/")
    @has_access
    def index(self):
        """Every endpoint with its events and state (one query)."""
        rows = db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
        return self.render_template("portico/webhooks/index.html", rows=rows, labels=EVENT_LABELS,
                                    form=ButtonForm(), title=_("Webhooks"))

    def _form_page(self, form, endpoint=None):
        title = _("Edit webhook") if endpoint else _("New webhook")
        return self.render_template("portico/webhooks/form.html", form=form, endpoint=endpoint, title=title)

    def _secret_page(self, endpoint, secret):
        return _no_store(make_response(self.render_template(
            "portico/webhooks/secret.html", endpoint=endpoint, secret=secret, title=_("Signing secret"))))

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        """Register an endpoint; the answer shows its secret, once."""
        form = EndpointForm()
        if form.validate_on_submit():
            try:
                endpoint, secret = webhooks.create_endpoint(current_user, form.url.data, form.description.data,
                                                            form.events.data or [], form.active.data)
            except webhooks.WebhookError as refused:
                flash(str(refused), "danger")
            else:
                return self._secret_page(endpoint, secret)
        return self._form_page(form)

    @expose("/<pk>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        """Change an endpoint's address, events or switch (its secret stays)."""
        endpoint = _endpoint(pk)
        form = EndpointForm(obj=_FormData(endpoint))
        if form.validate_on_submit():
            try:
                webhooks.update_endpoint(current_user, endpoint, form.url.data, form.description.data,
                                         form.events.data or [], form.active.data)
            except webhooks.WebhookError as refused:
                flash(str(refused), "danger")
            else:
                flash(_("The webhook was saved."), "success")
                return redirect(url_for("WebhookView.index"))
        return self._form_page(form, endpoint)

    @expose("/<pk>/rotate", methods=["POST"])
    @has_access
    def rotate(self, pk):
        """A new secret (the old one stops working at once), shown once."""
        endpoint = _endpoint(pk)
        if not ButtonForm().validate_on_submit():
            abort(400)
        return self._secret_page(endpoint, webhooks.rotate_secret(current_user, endpoint))

    @expose("/<pk>/test", methods=["POST"])
    @has_access
    def test(self, pk):
        """Queue a "ping" event to the endpoint; its answer shows in the ops console."""
        endpoint = _endpoint(pk)
        if not ButtonForm().validate_on_submit():
            abort(400)
        webhooks.send_test(current_user, endpoint)
        flash(_("A test event is on its way; its answer shows under Webhook deliveries in the ops console."),
              "success")
        return redirect(url_for("WebhookView.index"))

    @expose("/<pk>/delete", methods=["POST"])
    @has_access
    def delete(self, pk):
        """Remove the endpoint and its deliveries."""
        endpoint = _endpoint(pk)
        if not ButtonForm().validate_on_submit():
            abort(400)
        webhooks.delete_endpoint(current_user, endpoint)
        flash(_("The webhook was deleted."), "success")
        return redirect(url_for("WebhookView.index"))


class _FormData:
    """An endpoint as the form reads it (events as a list)."""

    def __init__(self, endpoint):
        self.url, self.description, self.active = endpoint.url, endpoint.description, endpoint.active
        self.events = endpoint.event_names()
