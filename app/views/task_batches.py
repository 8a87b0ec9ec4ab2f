"""Work for many clients: task templates, and "assign to many" (one task or file request per chosen
client, created by a background job whose progress the page polls)."""
from flask import abort, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.extensions import db
from app.models import TaskBatch, TaskTemplate
from app.models.tasks import KIND_LABELS, Frequency, TaskKind
from app.security import access, guard
from app.services import task_batches
from app.views.base import BulkDeleteMixin, EnumSelectField, SafeInterface, ScopedModelView
from app.views.task_batch_forms import BatchForm
from app.views.task_forms import FREQUENCY_LABELS

FAILURES_SHOWN = 100


class TaskTemplateView(BulkDeleteMixin, ScopedModelView):
    """The firm's task templates: what a task repeated for many clients says."""

    datamodel = SafeInterface(TaskTemplate)
    list_title = _l("Task templates")
    show_title = _l("Task template")
    add_title = _l("Add task template")
    edit_title = _l("Edit task template")
    show_template = "portico/task_batches/template_show.html"
    label_columns = {
        "title": _l("Title"), "kind": _l("What to create"), "description": _l("Description"),
        "checklist": _l("Checklist (one item per line)"), "deadline_days": _l("Deadline (days after assigning)"),
        "frequency": _l("Repeat"), "interval": _l("N (for every N days, weeks or months)"),
        "created_on": _l("Created on"),
    }
    list_columns = ["title", "kind", "deadline_days", "frequency"]
    show_columns = ["title", "kind", "description", "checklist", "deadline_days", "frequency", "interval"]
    add_columns = ["title", "kind", "description", "checklist", "deadline_days", "frequency", "interval"]
    edit_columns = add_columns
    search_columns = ["title"]
    order_columns = ["title", "created_on"]
    base_order = ("title", "asc")
    formatters_columns = {"kind": lambda kind: KIND_LABELS.get(kind, ""),
                          "frequency": lambda frequency: FREQUENCY_LABELS.get(frequency, "")}
    description_columns = {"deadline_days": _l("Leave empty for no deadline; 0 is the day the tasks are created."),
                           "description": _l("Markdown: **bold**, _italic_, lists and links.")}
    validators_columns = {
        "title": [DataRequired(), Length(max=200)], "description": [Optional(), Length(max=20000)],
        "checklist": [Optional(), Length(max=10000)], "deadline_days": [Optional(), NumberRange(min=0, max=3660)],
        "interval": [Optional(), NumberRange(min=1, max=366)],
    }
    add_form_extra_fields = {
        "kind": EnumSelectField(_l("What to create"), TaskKind, KIND_LABELS, widget=Select2Widget(),
                                default=TaskKind.task),
        "frequency": EnumSelectField(_l("Repeat"), Frequency, FREQUENCY_LABELS, widget=Select2Widget(),
                                     default=Frequency.once),
    }
    edit_form_extra_fields = add_form_extra_fields

    def pre_add(self, item):
        """Remember who wrote the template; a fixed frequency repeats every 1."""
        item.created_by_id = current_user.id
        self.pre_update(item)

    def pre_update(self, item):
        """Only every-N rules take an interval (as on the one-entity form)."""
        if item.frequency is None or not item.frequency.name.startswith("every_n"):
            item.interval = 1
        item.interval = item.interval or 1


class TaskBatchView(BaseView):
    """Assign to many: choose clients by filter or group, preview, create in the background."""

    route_base = "/task-batches"
    default_view = "new"
    base_permissions = ["can_new", "can_show"]
    method_permission_name = {"new": "new", "show": "show", "status": "show", "restart": "new"}

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        """The form; "Preview" counts the matching clients, "Create" starts the batch."""
        template = self._template()
        defaults = task_batches.template_defaults(template) if template is not None and request.method == "GET" \
            else None
        form = BatchForm(data=defaults)
        preview = None
        if form.validate_on_submit():
            selection = form.selection(current_user)
            if request.form.get("go") == "create":
                try:
                    batch = task_batches.start(current_user, selection, template=template, **form.task_fields())
                except task_batches.BatchRefused as exc:
                    flash(str(exc), "danger")
                else:
                    return redirect(url_for(".show", pk=batch.id))
            preview = task_batches.preview(current_user, selection)
        return self.render_template("portico/task_batches/new.html", form=form, preview=preview, chosen_template=template,
                                    templates=task_batches.templates(), limit=task_batches.MAX_ENTITIES,
                                    recent=task_batches.recent(current_user), title=_("Assign to many clients"))

    @expose("/<pk>")
    @has_access
    def show(self, pk):
        """The batch's progress, and the clients that got no task (with why)."""
        batch = guard.load(current_user, TaskBatch, pk)
        return self.render_template("portico/task_batches/show.html", batch=batch, figures=task_batches.progress(batch),
                                    form=FlaskForm(),
                                    failures=task_batches.failures(batch, FAILURES_SHOWN),
                                    title=_("Assign to many clients"))

    @expose("/<pk>/restart", methods=["POST"])
    @has_access
    def restart(self, pk):
        """Queue a batch that is not done again (idempotent: only the missing tasks are created)."""
        batch = guard.load(current_user, TaskBatch, pk)
        if not FlaskForm().validate_on_submit():
            abort(400)
        try:
            queued = task_batches.restart(batch, current_user)
        except task_batches.BatchRefused as exc:
            flash(str(exc), "warning")
        else:
            flash(_("The batch is queued again.") if queued else
                  _("The background queue cannot be reached; try again in a moment."), "info" if queued else "danger")
        return redirect(url_for(".show", pk=batch.id))

    @expose("/<pk>/status")
    @has_access
    def status(self, pk):
        """JSON for the progress display."""
        return jsonify(task_batches.progress(guard.load(current_user, TaskBatch, pk)))

    def _template(self):
        raw = request.args.get("template")
        if not raw:
            return None
        template = db.session.scalar(access.visible(current_user, TaskTemplate).where(
            TaskTemplate.id == guard.parse_pk(raw)))
        if template is None:
            abort(404)
        return template
