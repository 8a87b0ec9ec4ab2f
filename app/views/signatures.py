"""Staff screens of e-signature: send an entity's PDFs for signature (sign at the end, or place fields
by clicking on page previews first), follow a request, void and resend it.

Who may send, void and resend is asked of app.security.access (may_request_signatures); a request
outside the user's scope is 404 (guard.load).
"""
from flask import abort, flash, make_response, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import ActivityEvent, Contact, Document, Entity, SignatureRequest
from app.models.signatures import FieldKind, SigningOrder
from app.security import access, guard
from app.services import signature_fields, signature_pdf
from app.services import documents as document_service
from app.services import signatures as service
from app.views.signature_forms import FieldForm, NewRequestForm, PlainForm, VoidForm


def _may_send(entity):
    if not access.may_request_signatures(current_user, entity):
        abort(403)


def _picked(prefix, model):
    """The `model` rows whose checkbox `<prefix>-<id>` was ticked, whatever the ids: the service refuses
    rows that are not among the choices (another entity's contact or document is an error, not ignored)."""
    ids = {int(key[len(prefix) + 1:]) for key in request.form
           if key.startswith(f"{prefix}-") and key[len(prefix) + 1:].isascii() and key[len(prefix) + 1:].isdigit()
           and len(key) < len(prefix) + 12}
    if not ids:
        return []
    return db.session.scalars(select(model).where(model.id.in_(sorted(ids)[:51])).order_by(model.id)).all()


def _ordered(contacts):
    """Signers sorted by the order number typed beside each (then as listed)."""
    def number(contact):
        raw = request.form.get(f"order-{contact.id}", "")
        return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 4 else 999
    return sorted(contacts, key=number)


class SignatureRequestView(BaseView):
    """Signature requests of the entities a member works on."""

    route_base = "/signatures"
    default_view = "index"
    base_permissions = ["can_show", "can_send"]
    method_permission_name = {"index": "show", "show": "show", "page": "show", "new": "send", "fields": "send",
                              "send": "send", "void": "send", "resend": "send", "delete_field": "send"}

    @expose("/")
    @has_access
    def index(self):
        """The latest requests in the user's scope."""
        rows = db.session.scalars(select(SignatureRequest).where(access.scope(current_user, SignatureRequest, listed=True))
                                  .options(joinedload(SignatureRequest.entity))
                                  .order_by(SignatureRequest.id.desc()).limit(200)).all()
        return self.render_template("portico/signatures/index.html", rows=rows)

    @expose("/new/<int:entity_id>", methods=["GET", "POST"])
    @has_access
    def new(self, entity_id):
        """Choose PDFs and signers; send at once (sign at the end) or place fields first."""
        entity = guard.load(current_user, Entity, entity_id)
        _may_send(entity)
        documents = service.pdf_documents(current_user, entity)
        contacts = service.eligible_contacts(entity)
        form = NewRequestForm()
        if request.method == "GET":
            form.consent_text.data = service.firm_consent_text()
            form.title.data = documents[0].name if len(documents) == 1 else ""
        elif form.validate_on_submit():
            try:
                item = service.create(entity, current_user, form.title.data, _picked("doc", Document),
                                      _ordered(_picked("signer", Contact)), SigningOrder[form.signing_order.data],
                                      form.message.data, form.deadline.data, form.consent_text.data)
            except (service.SignatureError, signature_pdf.PdfError) as exc:
                flash(str(exc), "danger")
            else:
                if request.form.get("then") == "fields":
                    return redirect(url_for("SignatureRequestView.fields", signature_id=item.id))
                return self._send(item)
        return self.render_template("portico/signatures/new.html", entity=entity, form=form, documents=documents,
                                    contacts=contacts, ticked=request.form)

    def _send(self, item):
        try:
            service.send(item, current_user)
        except service.SignatureError as exc:
            flash(str(exc), "danger")
        else:
            flash(_("Sent for signature."), "success")
        return redirect(url_for("SignatureRequestView.show", signature_id=item.id))

    @expose("/<int:signature_id>")
    @has_access
    def show(self, signature_id):
        """A request: its documents, signers with their evidence, and its audit trail."""
        item = guard.load(current_user, SignatureRequest, signature_id)
        trail = db.session.scalars(select(ActivityEvent).where(
            ActivityEvent.object_type == "SignatureRequest", ActivityEvent.object_id == item.id)
            .order_by(ActivityEvent.id)).all()
        return self.render_template("portico/signatures/show.html", item=item, trail=trail,
                                    may_send=access.may_request_signatures(current_user, item.entity),
                                    void_form=VoidForm(), plain=PlainForm())

    @expose("/<int:signature_id>/fields", methods=["GET", "POST"])
    @has_access
    def fields(self, signature_id):
        """Place fields by clicking on the page previews (or typing where), then send."""
        item = guard.load(current_user, SignatureRequest, signature_id)
        _may_send(item.entity)
        form = FieldForm()
        if request.method == "POST" and form.validate_on_submit():
            try:
                signature_fields.add(item, current_user, form.number.data, form.page.data - 1,
                                     FieldKind[form.kind.data], form.signer_id.data, float(form.left.data) / 100,
                                     float(form.top.data) / 100, form.label.data)
            except service.SignatureError as exc:
                flash(str(exc), "danger")
            return redirect(url_for("SignatureRequestView.fields", signature_id=item.id, kind=form.kind.data,
                                    signer=form.signer_id.data))
        if request.args.get("kind") in FieldKind.__members__:
            form.kind.data = request.args["kind"]
        boxes = {number: signature_fields.boxes(item, doc) for number, doc in enumerate(item.documents)}
        return self.render_template("portico/signatures/fields.html", item=item, form=form, boxes=boxes,
                                    plain=PlainForm())

    @expose("/<int:signature_id>/fields/<int:field_id>/delete", methods=["POST"])
    @has_access
    def delete_field(self, signature_id, field_id):
        """Take a field off a draft."""
        item = guard.load(current_user, SignatureRequest, signature_id)
        _may_send(item.entity)
        if PlainForm().validate_on_submit():
            try:
                signature_fields.remove(item, current_user, field_id)
            except service.SignatureError as exc:
                flash(str(exc), "danger")
        return redirect(url_for("SignatureRequestView.fields", signature_id=item.id))

    @expose("/<int:signature_id>/documents/<int:number>/pages/<int:page>.png")
    @has_access
    def page(self, signature_id, number, page):
        """One page of a document of the request, as an image."""
        item = guard.load(current_user, SignatureRequest, signature_id)
        if number >= len(item.documents) or page >= item.documents[number].page_count:
            abort(404)
        response = make_response(signature_pdf.render_page(
            document_service.read_version(item.documents[number].version), page))
        response.headers["Content-Type"] = "image/png"
        return response

    @expose("/<int:signature_id>/send", methods=["POST"])
    @has_access
    def send(self, signature_id):
        """Send a draft."""
        item = guard.load(current_user, SignatureRequest, signature_id)
        _may_send(item.entity)
        if not PlainForm().validate_on_submit():
            abort(400)
        return self._send(item)

    @expose("/<int:signature_id>/void", methods=["POST"])
    @has_access
    def void(self, signature_id):
        """Withdraw a request: nobody can sign it any more."""
        item = guard.load(current_user, SignatureRequest, signature_id)
        _may_send(item.entity)
        form = VoidForm()
        if form.validate_on_submit():
            self._try(lambda: service.void(item, current_user, form.reason.data), _("The request was voided."))
        return redirect(url_for("SignatureRequestView.show", signature_id=item.id))

    @expose("/<int:signature_id>/resend", methods=["POST"])
    @has_access
    def resend(self, signature_id):
        """Mail the signers whose turn it is again."""
        item = guard.load(current_user, SignatureRequest, signature_id)
        _may_send(item.entity)
        if PlainForm().validate_on_submit():
            self._try(lambda: service.resend(item, current_user), _("The signers were reminded."))
        return redirect(url_for("SignatureRequestView.show", signature_id=item.id))

    @staticmethod
    def _try(action, done):
        try:
            action()
        except service.SignatureError as exc:
            flash(str(exc), "danger")
        else:
            flash(done, "success")
