"""The staff inbox of client requests: list, a request's page with its thread, and the work routes."""
from flask import flash, redirect, request, url_for
from flask_appbuilder.baseviews import expose
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload
from werkzeug.routing import BuildError

from app.extensions import db
from app.models import ClientRequest, MessageKind, RequestStatus
from app.models.messages import KIND_LABELS
from app.models.requests import STATUS_LABELS
from app.security import access
from app.security import roles as R
from app.services import messages as message_service
from app.services import requests as request_service
from app.views.tasks import THREAD_OPTIONS
from app.views.base import EnumSelectField, SafeInterface, ScopedModelView, in_scope, older_than
from app.views.threads import COMPOSER_KINDS

# Statuses offered as quick filters above the list, in inbox order.
QUICK_FILTERS = (RequestStatus.new, RequestStatus.open, RequestStatus.converted, RequestStatus.closed)
# The composer's buttons, one per kind, so the kind is chosen by the button pressed:
# kind, label, Bootstrap button class, Font Awesome icon.
POSTED = {
    MessageKind.internal: _l("Internal comment added; only staff see it."),
    MessageKind.portal: _l("Portal message posted; the client sees it."),
    MessageKind.email: _l("E-mail posted; it goes to the client and stays on this thread."),
}


def _when(value):
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


class ClientRequestView(ScopedModelView):
    """Requests raised by clients in the portal: read, answer, convert to a task, close or reopen."""

    datamodel = SafeInterface(
        ClientRequest,
        eager=[joinedload(ClientRequest.entity), joinedload(ClientRequest.contact), joinedload(ClientRequest.task)],
    )
    # Requests come from the portal: no add, edit or delete routes at all.
    include_route_methods = {"list", "show", "convert", "close", "reopen", "post_message"}
    method_permission_name = {"close": "set_status", "reopen": "set_status"}
    list_title = _l("Client requests")
    show_title = _l("Client request")
    list_template = "portico/requests/list.html"
    show_template = "portico/requests/show.html"
    edit_right = R.WORK
    label_columns = {
        "subject": _l("Subject"),
        "entity": _l("Entity"),
        "contact": _l("From"),
        "status": _l("Status"),
        "status_label": _l("Status"),
        "created_on": _l("Received on"),
        "task": _l("Task"),
    }
    list_columns = ["subject", "entity", "contact", "status_label", "created_on"]
    show_columns = ["subject", "entity", "contact", "status_label", "created_on"]
    search_columns = ["subject", "entity", "status", "created_on"]
    order_columns = ["subject", "created_on"]
    base_order = ("created_on", "desc")
    page_size = 25
    search_form_extra_fields = {
        "status": EnumSelectField(_l("Status"), RequestStatus, STATUS_LABELS, widget=Select2Widget()),
    }
    search_form_query_rel_fields = {"entity": in_scope(R.VIEW)}
    formatters_columns = {"created_on": _when}

    # ---- pages -------------------------------------------------------------------------------

    def _list(self, **kwargs):
        """FAB's list plus the quick status filters shown above it."""
        widgets = super()._list(**kwargs)
        active = request.args.get("_flt_0_status")
        widgets["quick_filters"] = [
            (status.name, STATUS_LABELS[status], url_for(f"{self.endpoint}.list", _flt_0_status=status.name),
             status.name == active)
            for status in QUICK_FILTERS
        ]
        widgets["quick_all"] = (url_for(f"{self.endpoint}.list"), active is None)
        return widgets

    def _get_show_widget(self, pk, item, **kwargs):
        """The request, its files, its thread (authors loaded in the same query) and what the user may do."""
        widgets = super()._get_show_widget(pk, item, **kwargs)
        can_work = access.can(current_user, R.WORK, item)
        sm = self.appbuilder.sm
        widgets["request"] = item
        widgets["thread"], widgets["older"] = message_service.thread_page(
            item, current_user, older_than(), options=THREAD_OPTIONS)
        widgets["paged"] = older_than() is not None
        widgets["task_url"] = _task_url(item.task) if item.task is not None else None
        widgets["can_post"] = can_work and sm.has_access("can_post_message", self.class_permission_name)
        widgets["can_convert"] = can_work and sm.has_access("can_convert", self.class_permission_name)
        widgets["can_set_status"] = can_work and sm.has_access("can_set_status", self.class_permission_name)
        widgets["composer_kinds"] = COMPOSER_KINDS
        widgets["kind_labels"] = KIND_LABELS
        return widgets

    # ---- work routes (POST; the row is re-checked: 404 outside the scope, 403 without WORK) ------

    @expose("/convert/<int:pk>", methods=["POST"])
    @has_access
    def convert(self, pk):
        """Turn the request into a task of its entity; its thread and files move with it."""
        item = self._workable(pk)
        try:
            task = request_service.convert(item, current_user)
        except request_service.RequestError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return self._back(item)
        flash(_("The request was converted to a task."), "success")
        return redirect(_task_url(task) or self._show_url(item))

    @expose("/close/<int:pk>", methods=["POST"])
    @has_access
    def close(self, pk):
        """Mark the request closed."""
        return self._change(pk, request_service.close, _("The request was closed."))

    @expose("/reopen/<int:pk>", methods=["POST"])
    @has_access
    def reopen(self, pk):
        """Open a closed request again."""
        return self._change(pk, request_service.reopen, _("The request was reopened."))

    @expose("/post/<int:pk>", methods=["POST"])
    @has_access
    def post_message(self, pk):
        """Add an internal comment, a portal message or an e-mail to the request's thread."""
        item = self._workable(pk)
        kind = MessageKind.__members__.get(request.form.get("kind", ""))
        if kind is None:
            flash(_("Choose who the message is for."), "danger")
            return self._back(item)
        try:
            request_service.answer(item, current_user, request.form.get("body", ""), kind,
                                   request.files.getlist("files"))
        except (request_service.RequestError, message_service.MessageError) as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return self._back(item)
        flash(str(POSTED[kind]), "success")
        return self._back(item)

    # ---- helpers -----------------------------------------------------------------------------

    def _workable(self, pk):
        """The request if the user sees it (else 404) and may work on it (else 403)."""
        item = self._item_or_404(pk)
        self._require(R.WORK, item)
        return item

    def _change(self, pk, change, done):
        item = self._workable(pk)
        try:
            change(item, current_user)
            flash(done, "success")
        except request_service.RequestError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return self._back(item)

    def _show_url(self, item):
        return url_for(f"{self.endpoint}.show", pk=item.id)

    def _back(self, item):
        return redirect(self._show_url(item))


def _task_url(task):
    """The task's page when the Tasks screen is installed, else None."""
    try:
        return url_for("TaskView.show", pk=task.id)
    except BuildError:
        return None
