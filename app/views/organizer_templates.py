"""The organizer template editor (Staff Admin): sections and questions, their order (drag and drop, or
the up/down buttons from the keyboard) and conditions. Who may edit is asked of app.security
(guard.load, then the "edit" right on the template); every change goes through
app.services.organizer_templates, which makes a new version when the shown one was sent."""
from flask import flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from app.models import OrganizerTemplate
from app.models.organizers import KIND_LABELS, QuestionKind
from app.security import access, guard
from app.services import organizer_templates as service
from app.services import organizers

QUESTION_FIELDS = ("label", "kind", "help", "required", "choices", "max_files", "condition_key", "condition_value")


def _int(name):
    raw = request.form.get(name, "")
    return int(raw) if raw.isascii() and raw.lstrip("-").isdigit() and len(raw) < 12 else None


def _question_data():
    data = {name: request.form.get(name) for name in QUESTION_FIELDS}
    data["max_files"] = _int("max_files") or 1
    return data


class OrganizerTemplateView(BaseView):
    """Organizer templates: list, create, edit (each edit of a sent version makes the next version)."""

    route_base = "/organizer-templates"
    default_view = "index"
    base_permissions = ["can_list", "can_edit"]
    method_permission_name = {"index": "list", "create": "edit", "edit": "edit", "change": "edit"}

    @expose("/")
    @has_access
    def index(self):
        """The current version of every template, with its organizers by status."""
        return self.render_template("portico/organizers/templates.html", rows=service.current_templates(),
                                    counts=organizers.counts_by_status(current_user), form=FlaskForm())

    @expose("/new", methods=["POST"])
    @has_access
    def create(self):
        """A new, empty template."""
        if not FlaskForm().validate_on_submit():
            flash(_("The form expired; try again."), "danger")
            return redirect(url_for("OrganizerTemplateView.index"))
        try:
            row = service.create(current_user, request.form.get("name"), request.form.get("language") or "en",
                                 request.form.get("description"))
        except service.TemplateError as exc:
            flash(str(exc), "danger")
            return redirect(url_for("OrganizerTemplateView.index"))
        return redirect(url_for("OrganizerTemplateView.edit", template_id=row.id))

    @expose("/<int:template_id>")
    @has_access
    def edit(self, template_id):
        """The editor: sections, questions, conditions, order."""
        row = guard.load(current_user, OrganizerTemplate, template_id, "edit")
        editing = _int_arg("question")
        return self.render_template("portico/organizers/template_edit.html", row=row, form=FlaskForm(),
                                    kinds=[(k.name, KIND_LABELS[k]) for k in QuestionKind], editing=editing,
                                    sent=service.is_sent(row), may_send=access.may_send_organizers(current_user),
                                    keys=[(q.key, q.label) for s in row.sections for q in s.questions])

    @expose("/<int:template_id>/change", methods=["POST"])
    @has_access
    def change(self, template_id):
        """One change (`op`): add/edit/delete a section or question, move one up or down, or a new order."""
        row = guard.load(current_user, OrganizerTemplate, template_id, "edit")
        scripted = request.accept_mimetypes.best == "application/json"
        if not FlaskForm().validate_on_submit():
            return (jsonify({"error": _("The form expired; reload the page.")}), 400) if scripted else \
                redirect(url_for("OrganizerTemplateView.edit", template_id=row.id))
        try:
            version = self._apply(row, request.form.get("op"))
        except (service.TemplateError, ValueError) as exc:
            if scripted:
                return jsonify({"error": str(exc)}), 400
            flash(str(exc), "danger")
            return redirect(url_for("OrganizerTemplateView.edit", template_id=row.id))
        if version.id != row.id:
            flash(_("The template had been sent: your change made version %(version)d.", version=version.version),
                  "info")
        target = url_for("OrganizerTemplateView.edit", template_id=version.id)
        return jsonify({"url": target}) if scripted else redirect(target)

    @staticmethod
    def _apply(row, op):
        user = current_user
        if op == "add_section":
            return service.add_section(row, user, request.form.get("title"), request.form.get("help"))
        if op == "edit_section":
            return service.edit_section(row, user, _int("section_id"), request.form.get("title"),
                                        request.form.get("help"))
        if op == "delete_section":
            return service.delete_section(row, user, _int("section_id"))
        if op == "save_question":
            return service.save_question(row, user, _int("section_id"), _question_data(), _int("question_id"))
        if op == "delete_question":
            return service.delete_question(row, user, _int("question_id"))
        if op == "move":
            what = "section" if request.form.get("what") == "section" else "question"
            return service.move(row, user, what, _int("item_id"), _int("delta") or 0)
        if op == "reorder":
            order = [int(x) for x in (request.form.get("order") or "").split(",") if x.isascii() and x.isdigit()]
            return service.reorder(row, user, _int("section_id"), order)
        raise service.TemplateError(_("Unknown change."))


def _int_arg(name):
    raw = request.args.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None
