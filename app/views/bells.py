"""The staff notification list behind the navbar bell, and the e-mail preferences page."""
from flask import abort, flash, has_request_context, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField

from app.services import bells, events, presenter
from app.views.base import MAX_PK, parse_pk

MAX_PAGE = 100  # grouped pages offered (50 groups each); older: narrow by client or event

EVENT_LABELS = {
    events.TASK_ASSIGNED: _l("A task is assigned"),
    events.TASK_WITHDRAWN: _l("A task is withdrawn"),
    events.MESSAGE_POSTED: _l("A portal message is posted"),
    events.CLIENT_COMPLETED: _l("A client completes a task"),
    events.REQUEST_CREATED: _l("A client creates a request"),
    events.FILE_REQUEST_CREATED: _l("Files are requested"),
    events.DEADLINE_APPROACHING: _l("A deadline is coming up"),
    events.CLIENT_UPLOADED: _l("A client uploads files"),
    events.SIGNATURE_DECLINED: _l("A client declines to sign"),
    events.SIGNATURE_COMPLETED: _l("Everyone has signed a request"),
}


def unread_for_current_user():
    """The bell's number for the signed-in user (a Jinja global); 0 outside a request."""
    if not has_request_context():
        return 0
    return bells.unread_count(current_user)


def _optional_id(raw):
    """An id from a query or form field, or None when it is empty or not a plain id."""
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) <= MAX_PK else None


class PreferencesForm(FlaskForm):
    """One "send me an e-mail" checkbox per event (fields are added below, one per event)."""


for _event in events.EVENTS:
    setattr(PreferencesForm, _event, BooleanField(EVENT_LABELS[_event]))
del _event


class ReadAllForm(FlaskForm):
    """Only the CSRF token: "mark all as read", "open" (which marks one read)."""


class NotificationsView(BaseView):
    """The signed-in staff user's own notifications; nobody sees anyone else's."""

    route_base = "/notifications"
    default_view = "list"
    base_permissions = ["can_list", "can_edit"]
    method_permission_name = {"list": "list", "open": "list", "read_all": "edit", "preferences": "edit",
                              "read_group": "edit"}

    @expose("/")
    @has_access
    def list(self):
        """Grouped by client and event (filter by event, client, unread); ?view=each: one by one."""
        event = request.args.get("event", "")
        event = event if event in events.KNOWN else ""
        if request.args.get("view") == "each":
            entity_id = _optional_id(request.args.get("entity", ""))
            items = presenter.describe(bells.latest(current_user, limit=50 if (event or entity_id) else 20,
                                                    event=event or None, entity_id=entity_id), current_user)
            return self.render_template("portico/bells/list.html", items=items, form=ReadAllForm(), event=event,
                                        title=_("Notifications"))
        raw_page = request.args.get("page", "0")
        page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and int(raw_page) < MAX_PAGE else 0
        client, unread = request.args.get("client", "")[:100], request.args.get("unread") == "1"
        found, more = bells.groups(current_user, event=event or None, client=client, unread_only=unread, page=page)
        return self.render_template(
            "portico/bells/groups.html", groups=[(g, presenter.group_title(g)) for g in found], more=more, page=page,
            event=event, client=client, unread=unread, event_labels=EVENT_LABELS, form=ReadAllForm(),
            days=bells.GROUP_DAYS, title=_("Notifications"))

    @expose("/read-group", methods=["POST"])
    @has_access
    def read_group(self):
        """Mark one group (client, event, actor) of the user's notifications read."""
        if not ReadAllForm().validate_on_submit() or request.form.get("event") not in events.KNOWN:
            abort(400)
        bells.mark_group_read(current_user, _optional_id(request.form.get("entity", "")), request.form["event"],
                              _optional_id(request.form.get("actor", "")))
        return redirect(url_for("NotificationsView.list", **{k: v for k, v in request.args.items()
                                                           if k in ("event", "client", "unread", "page")}))

    @expose("/open/<pk>", methods=["POST"])
    @has_access
    def open(self, pk):
        """Mark the notification read and go to what it is about (someone else's: 404). POST with the
        CSRF token only: a link from anywhere must not change what is read."""
        if not ReadAllForm().validate_on_submit():
            abort(400)
        row = bells.mark_read(current_user, parse_pk(pk))
        if row is None:
            abort(404)
        _row, _title, url = presenter.describe([row], current_user)[0]
        if url is None:
            flash(_("This item no longer exists"), "warning")
            return redirect(url_for("NotificationsView.list"))
        return redirect(url)

    @expose("/read-all", methods=["POST"])
    @has_access
    def read_all(self):
        """Mark every notification of the user read."""
        if ReadAllForm().validate_on_submit():
            bells.mark_all_read(current_user)
            flash(_("All notifications are marked as read."), "success")
        return redirect(url_for("NotificationsView.list"))

    @expose("/preferences", methods=["GET", "POST"])
    @has_access
    def preferences(self):
        """Which events the user also wants by e-mail."""
        form = PreferencesForm(data=bells.preferences(current_user))
        if form.validate_on_submit():
            bells.set_preferences(current_user, {event: form[event].data for event in events.EVENTS})
            flash(_("Your notification preferences are saved."), "success")
            return redirect(url_for("NotificationsView.preferences"))
        return self.render_template("portico/bells/preferences.html", form=form, event_names=events.EVENTS,
                                    title=_("Notification preferences"))
