"""Staff screens for tasks: the list (overdue in red), the task page with its checklist and thread,
a new-task form (one-time or recurring) and the lifecycle actions."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.extensions import db
from app.models import ChecklistItem, Document, Entity, Message, MessageKind, Task, TaskSeries
from app.models.tasks import CLIENT_STATUS_LABELS, PORTAL_STATE_LABELS, STAFF_STATUS_LABELS, TaskKind
from app.security import access
from app.security import roles as R
from app.services import file_requests as file_request_service
from app.services import messages as message_service
from app.services import tasks as task_service
from app.models.tasks import Frequency
from app.services.recurrence import describe
from app.views.base import EnumSelectField, SafeInterface, ScopedModelView, in_scope, older_than, parse_pk
from app.views.task_forms import FREQUENCY_LABELS, NewTaskForm, new_task_from_form
from app.views.threads import COMPOSER_KINDS

# A thread page loads its authors and attachments with the messages (a fixed number of queries).
THREAD_OPTIONS = (joinedload(Message.author_user), joinedload(Message.author_contact),
                  selectinload(Message.attachments))
ACTIONS = {
    "assign": task_service.assign,
    "withdraw": task_service.withdraw,
    "complete": task_service.complete,
    "reopen": task_service.reopen,
}


class TaskView(ScopedModelView):
    """Client work of the firm, per entity."""

    datamodel = SafeInterface(Task, eager=[joinedload(Task.entity), joinedload(Task.responsible)])
    base_permissions = ["can_list", "can_show", "can_edit", "can_delete", "can_work"]
    method_permission_name = {"new": "work", "act": "work", "post_message": "work", "tick": "work",
                              "attach": "work"}
    extra_choice_forms = {"new": ("can_work", {"entity": (Entity, R.WORK)})}
    list_title = _l("Tasks")
    show_title = _l("Task")
    edit_title = _l("Edit task")
    show_template = "portico/tasks/show.html"
    list_template = "portico/tasks/list.html"
    edit_right = R.WORK
    delete_right = R.WORK
    label_columns = {
        "title": _l("Title"), "entity": _l("Entity"), "deadline": _l("Deadline"), "deadline_html": _l("Deadline"),
        "responsible": _l("Responsible"), "status_html": _l("Status"), "staff_status": _l("Status"),
        "portal_state": _l("Portal"), "portal_label": _l("Portal"), "kind": _l("Kind"),
        "description": _l("Description"), "auto_complete": _l("Close when the client is done"),
    }
    list_columns = ["title", "entity", "deadline_html", "responsible", "status_html", "portal_label"]
    edit_columns = ["title", "description", "deadline", "responsible", "assignees", "auto_complete"]
    search_columns = ["title", "entity", "deadline", "responsible", "staff_status", "portal_state", "kind"]
    order_columns = ["title", "deadline"]
    base_order = ("deadline", "asc")
    validators_columns = {"title": [DataRequired(), Length(max=200)], "description": [Optional(), Length(max=20000)]}
    edit_form_query_rel_fields = {"responsible": in_scope(R.VIEW), "assignees": in_scope(R.VIEW)}
    description_columns = {"description": _l("Markdown: **bold**, _italic_, lists and links."),
                           "assignees": _l("Contacts who can see the entity; they see the task once it is assigned.")}
    search_form_query_rel_fields = {"entity": in_scope(R.VIEW), "responsible": in_scope(R.VIEW)}

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        """A new one-time or recurring task for an entity the user works on (?entity= preselects one,
        if in the user's work scope)."""
        form = NewTaskForm()
        if request.method == "GET" and request.args.get("entity"):
            form.entity.process_formdata([request.args["entity"]])
        if form.validate_on_submit():
            try:
                task = new_task_from_form(form, current_user)
            except (task_service.TaskError, ValueError) as exc:
                flash(str(exc), "danger")
            else:
                flash(_("Task created."), "success")
                return redirect(url_for(".show", pk=task.id))
        return self.render_template("portico/tasks/new.html", form=form, title=_("New task"))

    @expose("/<pk>/act/<string:name>", methods=["POST"])
    @has_access
    def act(self, pk, name):
        """Assign, withdraw, complete or reopen a task."""
        task = self._task_for_work(pk)
        if name not in ACTIONS:
            abort(404)
        try:
            ACTIONS[name](task, current_user)
            flash(_("Saved."), "success")
        except task_service.TaskError as exc:
            flash(str(exc), "danger")
        return redirect(url_for(".show", pk=task.id))

    @expose("/<pk>/message", methods=["POST"])
    @has_access
    def post_message(self, pk):
        """Post an internal comment, a portal message or an e-mail on the task's thread."""
        task = self._task_for_work(pk)
        kind = request.form.get("kind", "")
        if kind not in MessageKind.__members__:
            flash(_("Choose who the message is for."), "danger")
        else:
            try:
                message_service.post_with_files(task, current_user, request.form.get("body", ""), MessageKind[kind],
                                                request.files.getlist("files"))
                flash(_("Message posted."), "success")
            except message_service.MessageError as exc:
                flash(str(exc), "danger")
        return redirect(url_for(".show", pk=task.id) + "#thread")

    @expose("/<pk>/attach", methods=["POST"])
    @has_access
    def attach(self, pk):
        """Attach one of the entity's documents to the task."""
        task = self._task_for_work(pk)
        doc = db.session.scalar(access.visible(current_user, Document).where(
            Document.id == parse_pk(request.form.get("document_id", "")), Document.entity_id == task.entity_id))
        if doc is None:
            abort(404)
        task_service.attach(task, doc, current_user)
        return redirect(url_for(".show", pk=task.id))

    @expose("/checklist/<pk>", methods=["POST"])
    @has_access
    def tick(self, pk):
        """Tick or untick one checklist line."""
        item = db.session.scalar(access.visible(current_user, ChecklistItem).where(ChecklistItem.id == parse_pk(pk)))
        if item is None:
            abort(404)
        try:
            task_service.tick(item, current_user, request.form.get("done") == "1")
        except task_service.TaskError:
            abort(403)
        return redirect(url_for(".show", pk=item.task_id))

    def pre_update(self, item):
        """Assignees must be able to see the task's entity."""
        task_service.check_assignees(item.entity, item.assignees)

    def _task_for_work(self, pk):
        task = self._item_or_404(pk)
        self._require(R.WORK, task)
        return task

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["task"] = item
        widgets["messages"], widgets["older"] = message_service.thread_page(
            item, current_user, older_than(), options=THREAD_OPTIONS)
        widgets["paged"] = older_than() is not None
        widgets["can_work"] = access.can(current_user, R.WORK, item)
        widgets["documents"] = db.session.scalars(
            access.visible(current_user, Document).where(Document.entity_id == item.entity_id)
            .order_by(Document.name).limit(500)).all() if widgets["can_work"] else []
        widgets["labels"] = {"portal": PORTAL_STATE_LABELS, "client": CLIENT_STATUS_LABELS,
                             "staff": STAFF_STATUS_LABELS}
        widgets["kinds"] = MessageKind
        widgets["composer_kinds"] = COMPOSER_KINDS
        widgets["outstanding"] = file_request_service.outstanding(item) if item.kind is TaskKind.file_request else []
        widgets["series_tasks"] = db.session.scalars(
            access.visible(current_user, Task).where(Task.series_id == item.series_id)
            .order_by(Task.occurrence).limit(24)).all() if item.series_id else []
        widgets["series_text"] = describe(task_service.series_rule(item.series)) if item.series else ""
        return widgets



class TaskSeriesView(ScopedModelView):
    """A recurring series: changing it affects the occurrences created from now on."""

    datamodel = SafeInterface(TaskSeries)
    base_permissions = ["can_show", "can_edit"]
    show_title = _l("Recurring series")
    edit_title = _l("Edit the recurring series")
    edit_right = R.WORK
    label_columns = {"title": _l("Title"), "description": _l("Description"), "start": _l("First deadline"),
                     "frequency": _l("Repeat"), "interval": _l("N (for every N days, weeks or months)"),
                     "until": _l("Repeat until"), "count": _l("Number of occurrences")}
    show_columns = ["title", "description", "start", "frequency", "interval", "until", "count"]
    edit_columns = ["title", "description", "frequency", "interval", "until", "count"]
    description_columns = {"title": _l("Occurrences already created keep their title and description.")}
    validators_columns = {"title": [DataRequired(), Length(max=200)], "interval": [NumberRange(min=1, max=366)],
                          "count": [Optional(), NumberRange(min=1, max=1000)]}
    edit_form_extra_fields = {
        "frequency": EnumSelectField(_l("Repeat"), Frequency, FREQUENCY_LABELS, widget=Select2Widget()),
    }

    def pre_update(self, item):
        """The changed rule must still be a valid rule."""
        task_service.check_rule(task_service.series_rule(item))
