"""Clients → Import: upload a list of clients and contacts, check it (dry run), then import it."""
import json

from flask import Response, abort, flash, jsonify, redirect, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms.validators import DataRequired

from app.models import ImportRun
from app.security import guard
from app.services import imports as service


class UploadForm(FlaskForm):
    """The file to check."""

    file = FileField(_l("CSV or XLSX file"), validators=[DataRequired()])


class ImportView(BaseView):
    """Upload → preview with errors by line → import in the background with a progress bar."""

    route_base = "/imports"
    default_view = "index"
    base_permissions = ["can_import"]
    method_permission_name = {name: "import" for name in ("index", "preview", "show", "run", "status", "template")}

    @expose("/")
    @has_access
    def index(self):
        """The upload form, the file's columns and the user's latest imports."""
        return self.render_template("portico/imports/index.html", form=UploadForm(), spec=service.SPEC,
                                    runs=service.recent(current_user), title=_("Import clients"))

    @expose("/preview", methods=["POST"])
    @has_access
    def preview(self):
        """Check the uploaded file and show what it would do."""
        form = UploadForm()
        if not form.validate_on_submit():
            flash(_("Choose a CSV or XLSX file."), "danger")
            return redirect(url_for(".index"))
        try:
            run = service.preview(current_user, form.file.data.filename, form.file.data)
        except service.ImportRefused as exc:
            abort(403, str(exc))
        return redirect(url_for(".show", pk=run.id))

    @expose("/<pk>")
    @has_access
    def show(self, pk):
        """The preview (or, once started, the progress and the result) of one import."""
        run = self._own(pk)
        return self.render_template("portico/imports/show.html", run=run, summary=json.loads(run.summary),
                                    errors=json.loads(run.errors), progress=service.progress(run),
                                    form=FlaskForm(), title=_("Import clients"))

    @expose("/<pk>/run", methods=["POST"])
    @has_access
    def run(self, pk):
        """Start a previewed import without errors."""
        run = self._own(pk)
        if not FlaskForm().validate_on_submit():
            abort(400)
        try:
            service.start(run, current_user)
        except service.ImportRefused as exc:
            flash(str(exc), "danger")
        return redirect(url_for(".show", pk=run.id))

    @expose("/<pk>/status")
    @has_access
    def status(self, pk):
        """JSON for the progress bar: state, done and total."""
        run = self._own(pk)
        done, total = service.progress(run) or (0, 0)
        return jsonify({"state": run.state.name, "label": str(run.state_label()), "done": done, "total": total})

    @expose("/template.<ext>")
    @has_access
    def template(self, ext):
        """The template file with the columns and example rows (CSV or XLSX)."""
        if ext == "csv":
            return _attachment(service.template_csv(), "text/csv; charset=utf-8", "portico-clients.csv")
        if ext == "xlsx":
            return _attachment(service.template_xlsx(),
                               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                               "portico-clients.xlsx")
        abort(404)

    def _own(self, pk):
        """One of the user's own imports (anyone else's is 404)."""
        return guard.load(current_user, ImportRun, pk)


def _attachment(data, mimetype, filename):
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"})
