"""Staff screens of organizers: the list by status per template, send a template to clients, review
answers beside last year's, mark reviewed, reopen with a note, export CSV and PDF.

An organizer outside the user's scope is 404 (guard.load); sending, reviewing and reopening are client
work, decided by app.security.access (may_send_organizers, may_review_organizer): 403 otherwise, so a
Staff Admin builds templates and reads organizers but sends or reviews only with a staff role too.
"""
from datetime import date

from flask import abort, flash, make_response, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Organizer, OrganizerTemplate
from app.models.organizers import STATUS_LABELS, OrganizerStatus
from app.security import access, guard
from app.services import organizer_exports, organizer_sending, organizers, task_batches
from app.views.task_batch_forms import OrganizerBatchForm
from app.web.downloads import content_disposition

LISTED = 200  # organizers per status page; the newest first


class OrganizerView(BaseView):
    """Organizers of the entities a member works on."""

    route_base = "/organizers"
    default_view = "index"
    base_permissions = ["can_list", "can_show", "can_send", "can_review"]
    method_permission_name = {"index": "list", "family": "list", "send": "send", "show": "show",
                              "export_csv": "show", "export_pdf": "show", "review": "review", "reopen": "review"}

    @expose("/")
    @has_access
    def index(self):
        """Every template with its organizers counted by status."""
        from app.services import organizer_templates
        return self.render_template("portico/organizers/index.html", rows=organizer_templates.current_templates(),
                                    counts=organizers.counts_by_status(current_user), statuses=STATUS_LABELS,
                                    may_send=access.may_send_organizers(current_user))

    @expose("/family/<int:family_id>")
    @has_access
    def family(self, family_id):
        """One template's organizers of a status (all statuses when none is asked for)."""
        template = organizers.template_family(family_id)
        if template is None:
            abort(404)
        status = OrganizerStatus.__members__.get(request.args.get("status", ""))
        query = (select(Organizer).where(access.scope(current_user, Organizer, listed=True),
                                         Organizer.family_id == family_id)
                 .options(joinedload(Organizer.entity), joinedload(Organizer.task))
                 .order_by(Organizer.id.desc()).limit(LISTED))
        if status is not None:
            query = query.where(Organizer.status == status)
        return self.render_template("portico/organizers/family.html", tpl=template, status=status,
                                    rows=db.session.scalars(query).all(), statuses=STATUS_LABELS,
                                    counts=organizers.counts_by_status(current_user).get(family_id, {}))

    @expose("/send/<int:template_id>", methods=["GET", "POST"])
    @has_access
    def send(self, template_id):
        """Choose clients by filter or group, preview them, then a background job gives each the organizer
        as an assigned task (the "assign to many" batch, whose progress page this leads to)."""
        if not access.may_send_organizers(current_user):
            abort(403)
        template = guard.load(current_user, OrganizerTemplate, template_id)
        form = OrganizerBatchForm(data={"tax_year": date.today().year - 1} if request.method == "GET" else None)
        preview = None
        if form.validate_on_submit():
            selection = form.selection(current_user)
            if request.form.get("go") == "create":
                try:
                    batch = organizer_sending.start_batch(current_user, template, selection, form.tax_year.data,
                                                          form.deadline.data)
                except ValueError as exc:  # OrganizerError, BatchRefused
                    flash(str(exc), "danger")
                else:
                    return redirect(url_for("TaskBatchView.show", pk=batch.id))
            preview = task_batches.preview(current_user, selection)
        return self.render_template("portico/organizers/send.html", tpl=template, form=form, preview=preview,
                                    limit=task_batches.MAX_ENTITIES)

    @expose("/<int:organizer_id>")
    @has_access
    def show(self, organizer_id):
        """The answers, last year's beside them, changed ones marked."""
        item = guard.load(current_user, Organizer, organizer_id)
        return self.render_template("portico/organizers/show.html", item=item,
                                    rows=organizer_exports.review_rows(item), form=FlaskForm(),
                                    may_review=access.may_review_organizer(current_user, item))

    @expose("/<int:organizer_id>/review", methods=["POST"])
    @has_access
    def review(self, organizer_id):
        """Mark a submitted organizer reviewed."""
        item = self._reviewable(organizer_id)
        if FlaskForm().validate_on_submit():
            self._try(lambda: organizers.mark_reviewed(item, current_user), _("Marked as reviewed."))
        return redirect(url_for("OrganizerView.show", organizer_id=item.id))

    @expose("/<int:organizer_id>/reopen", methods=["POST"])
    @has_access
    def reopen(self, organizer_id):
        """Give the organizer back to the client with a note."""
        item = self._reviewable(organizer_id)
        if FlaskForm().validate_on_submit():
            self._try(lambda: organizers.reopen(item, current_user, request.form.get("note")),
                      _("The organizer was reopened for the client."))
        return redirect(url_for("OrganizerView.show", organizer_id=item.id))

    @expose("/<int:organizer_id>/export.csv")
    @has_access
    def export_csv(self, organizer_id):
        """The answers as CSV."""
        item = guard.load(current_user, Organizer, organizer_id)
        return self._file(organizer_exports.to_csv(item).encode("utf-8-sig"), "text/csv; charset=utf-8", item, "csv")

    @expose("/<int:organizer_id>/export.pdf")
    @has_access
    def export_pdf(self, organizer_id):
        """The answers as PDF."""
        item = guard.load(current_user, Organizer, organizer_id)
        return self._file(organizer_exports.to_pdf(item), "application/pdf", item, "pdf")

    @staticmethod
    def _reviewable(organizer_id):
        """The organizer (404 outside the user's scope) if the user may review it (else 403)."""
        item = guard.load(current_user, Organizer, organizer_id)
        if not access.may_review_organizer(current_user, item):
            abort(403)
        return item

    @staticmethod
    def _file(data, mime, item, ext):
        response = make_response(data)
        response.headers["Content-Type"] = mime
        response.headers["Content-Disposition"] = content_disposition(
            "attachment", f"{item.name} {item.tax_year} {item.entity.name}.{ext}")
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @staticmethod
    def _try(action, done):
        try:
            action()
        except organizers.OrganizerError as exc:
            flash(str(exc), "danger")
        else:
            flash(done, "success")
