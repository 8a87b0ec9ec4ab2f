"""Portal signing: the contact's signature requests; for each, read every page, agree to sign
electronically, confirm who you are again (PIN or a fresh code by mail), adopt a signature (typed or
drawn), fill the fields and sign — or decline with a reason.

A request is loaded through the access scope (the contact must be one of its signers and still see
its entity), else 404; the steps need the signer's turn (else back to the request's page).
"""
import time

from flask import abort, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.models import CodePurpose, SignatureRequest
from app.models.signatures import FieldKind
from app.security import access, guard
from app.services import access_codes, signature_pdf, signature_signing
from app.services import documents as document_service
from app.services import signatures as service
from app.services.portal import auth as portal_auth
from app.views.portal import bp, code_wait_message, use_entity
from app.views.portal.signature_forms import CodeForm, ConsentForm, DeclineForm, PinForm, SendCodeForm, SignForm
from app.web import page_cache
from app.web.downloads import send_version

AUTH_WINDOW = 900  # seconds a confirmed identity is good for signing
_AUTH_KEY = "signing_auth"


def _load(signature_id):
    """The request and the contact's signer row, or 404."""
    item = guard.load(current_user, SignatureRequest, signature_id)
    signer = access.signer_of(current_user, item)
    if signer is None:
        abort(404)
    use_entity(item.entity_id)
    return item, signer


def _my_turn(item, signer):
    """None when the signer may go on, else a redirect to the request's page with why not."""
    if signature_signing.may_sign(signer):
        return None
    flash(_("This request cannot be signed now."), "info")
    return redirect(url_for("portal.signature", signature_id=item.id))


def _confirmed(signer):
    state = (session.get(_AUTH_KEY) or {}).get(str(signer.id)) or {}
    return state.get("method") if state.get("until", 0) > time.time() else None


def _remember(signer, method):
    state = {k: v for k, v in (session.get(_AUTH_KEY) or {}).items() if v.get("until", 0) > time.time()}
    state[str(signer.id)] = {"method": method, "until": int(time.time()) + AUTH_WINDOW}
    session[_AUTH_KEY] = state


@bp.route("/signatures")
@page_cache.cacheable
def signatures():
    """The requests the contact is asked to sign: open ones first."""
    rows = service.for_contact(current_user)  # in scope: the contact is one of each row's signers
    mine = {r.id: next((s for s in r.signers if s.contact_id == g.contact.id), None) for r in rows}
    return render_template("portal/signatures/index.html", rows=rows, mine=mine, title=_("Documents to sign"))


@bp.route("/signatures/<int:signature_id>", methods=["GET", "POST"])
def signature(signature_id):
    """Read every page of every document; agree to sign electronically (the request's consent text)."""
    item, signer = _load(signature_id)
    form = ConsentForm()
    if request.method == "POST" and _my_turn(item, signer) is None and form.validate_on_submit():
        signature_signing.consent(signer, current_user, request.remote_addr, request.user_agent.string)
        return redirect(url_for("portal.signature_verify", signature_id=item.id))
    if request.method == "GET":
        signature_signing.viewed(signer, current_user, request.remote_addr)
    return render_template("portal/signatures/show.html", item=item, signer=signer, form=form,
                           may_sign=signature_signing.may_sign(signer), title=item.title)


@bp.route("/signatures/<int:signature_id>/documents/<int:number>/pages/<int:page>.png")
def signature_page(signature_id, number, page):
    """One page of a document to sign, as an image."""
    item, _signer = _load(signature_id)
    if number >= len(item.documents) or page >= item.documents[number].page_count:
        abort(404)
    data = document_service.read_version(item.documents[number].version)
    response = make_response(signature_pdf.render_page(data, page))
    response.headers["Content-Type"] = "image/png"
    return response


@bp.route("/signatures/<int:signature_id>/documents/<int:number>.pdf")
def signature_pdf_file(signature_id, number):
    """A document to sign as the PDF sent (to read it in a PDF reader or with a screen reader)."""
    item, _signer = _load(signature_id)
    if number >= len(item.documents):
        abort(404)
    doc = item.documents[number]
    return send_version(doc.version, doc.document.name, inline=False)


@bp.route("/signatures/<int:signature_id>/verify", methods=["GET", "POST"])
def signature_verify(signature_id):
    """Confirm who you are again: the portal PIN, or a code mailed now."""
    item, signer = _load(signature_id)
    refused = _my_turn(item, signer)
    if refused is not None:
        return refused
    if signer.consented_on is None:
        return redirect(url_for("portal.signature", signature_id=item.id))
    contact = g.contact
    pin_form, code_form, send_form = PinForm(), CodeForm(), SendCodeForm()
    action = request.form.get("action") if request.method == "POST" else None
    method = None
    if action == "pin" and contact.pin_hash and pin_form.validate_on_submit():
        method = _check_pin(contact, pin_form)
    elif action == "send" and send_form.validate_on_submit():
        _send_code(contact, signer)
    elif action == "code" and code_form.validate_on_submit():
        row = access_codes.verify(CodePurpose.sign_document, contact.primary_email, code_form.code.data,
                                  subject_id=signer.id)
        if row is None:
            code_form.code.errors = [_("That code is wrong or has expired. Ask for a new one.")]
        else:
            method = "email_code"
    if method:
        _remember(signer, method)
        signature_signing.identity_confirmed(signer, current_user, method, request.remote_addr)
        return redirect(url_for("portal.signature_sign", signature_id=item.id))
    return render_template("portal/signatures/verify.html", item=item, signer=signer, pin_form=pin_form,
                           code_form=code_form, send_form=send_form, has_pin=bool(contact.pin_hash),
                           code_sent=session.get("signing_code_for") == signer.id, title=_("Confirm it is you"))


def _check_pin(contact, form):
    email, ip = contact.primary_email, request.remote_addr
    if portal_auth.check_pin(email, contact, form.pin.data, ip):
        return "pin"
    locked = portal_auth.pin_lock_seconds(email, ip)
    form.pin.errors = [portal_auth.lock_message(locked) if locked else _("That PIN is not right.")]
    return None


def _send_code(contact, signer):
    try:
        access_codes.issue(CodePurpose.sign_document, contact.primary_email, contact, subject_id=signer.id,
                           ip=request.remote_addr)
    except access_codes.TooSoon as error:
        flash(code_wait_message(error), "warning")
    else:
        flash(_("We sent a code to %(email)s. It works once, for 10 minutes.", email=contact.primary_email), "info")
    session["signing_code_for"] = signer.id


@bp.route("/signatures/<int:signature_id>/sign", methods=["GET", "POST"])
def signature_sign(signature_id):
    """Adopt a signature, fill the fields and sign."""
    item, signer = _load(signature_id)
    refused = _my_turn(item, signer)
    if refused is not None:
        return refused
    method = _confirmed(signer)
    if signer.consented_on is None or method is None:
        return redirect(url_for("portal.signature_verify" if signer.consented_on else "portal.signature",
                                signature_id=item.id))
    form = SignForm()
    fields = [f for f in item.fields if f.signer_id == signer.id and f.kind in (FieldKind.text, FieldKind.checkbox)]
    if request.method == "GET":
        form.signature_text.data = g.contact.full_name
    elif form.validate_on_submit():
        values = {f.id: request.form.get(f"field-{f.id}", "") for f in fields}
        adoption = {"text": form.signature_text.data, "initials": form.initials.data,
                    "image": getattr(form.drawing, "image", None)}
        try:
            signature_signing.sign(signer, current_user, adoption, values, method, request.remote_addr,
                                   request.user_agent.string)
        except service.SignatureError as exc:
            flash(str(exc), "danger")
        else:
            session[_AUTH_KEY] = {k: v for k, v in (session.get(_AUTH_KEY) or {}).items() if k != str(signer.id)}
            flash(_("Thank you: you have signed %(title)s.", title=item.title), "success")
            return redirect(url_for("portal.signature", signature_id=item.id))
    return render_template("portal/signatures/sign.html", item=item, signer=signer, form=form, fields=fields,
                           values=request.form, title=_("Sign %(title)s", title=item.title))


@bp.route("/signatures/<int:signature_id>/decline", methods=["GET", "POST"])
def signature_decline(signature_id):
    """Decline to sign, with a reason: the request stops."""
    item, signer = _load(signature_id)
    refused = _my_turn(item, signer)
    if refused is not None:
        return refused
    form = DeclineForm()
    if form.validate_on_submit():
        signature_signing.decline(signer, current_user, form.reason.data, request.remote_addr,
                                  request.user_agent.string)
        flash(_("You declined to sign. The firm has been told."), "info")
        return redirect(url_for("portal.signature", signature_id=item.id))
    return render_template("portal/signatures/decline.html", item=item, form=form, title=_("Decline to sign"))
