"""Security mails of the portal (invitations, access codes): sent at once, in the recipient's
language, whatever their notification preferences say."""
from flask import current_app
from flask_babel import gettext as _

from app import mailer
from app.extensions import db
from app.models import AccessCode, CodePurpose, Contact
from app.models.contacts import PortalState
from app.security import access
from app.services import access_codes
from app.services.firm import get_settings


def base_url():
    """The portal's public address (firm setting, else PORTAL_BASE_URL), without a trailing slash."""
    firm = get_settings()
    return (firm.portal_base_url or current_app.config["PORTAL_BASE_URL"]).rstrip("/")


def _send(to, language, subject, paragraphs, code=None, link=None, link_label=None):
    firm = get_settings()
    base = base_url()
    with mailer.in_language(language):
        subject = subject()
        context = dict(firm=firm, language=language, subject=subject, paragraphs=paragraphs(), code=code,
                       link=link, link_label=link_label() if link_label else None, logo_url=f"{base}/firm-logo")
        text = mailer.render_mail("email/security.txt", **context)
        html = mailer.render_mail("email/security.html", **context)
    mailer.send(to, f"{firm.firm_name}: {subject}", text, html)


def send_invitation(contact_id):
    """Mail a contact their invitation (or the news that their access is back)."""
    contact = db.session.get(Contact, contact_id)
    # Re-checked at send time: a contact disabled (or signed up) since the invitation gets nothing.
    active = access.may_use_portal(contact)
    invited = contact is not None and contact.user is None and contact.portal_state is PortalState.invited
    if not (active or invited) or not contact.primary_email:
        return False
    firm = get_settings().firm_name
    link = f"{base_url()}/portal/sign-in" if active else f"{base_url()}/portal/sign-up"
    _send(contact.primary_email, contact.language,
          lambda: _("Your access to %(firm)s's portal is back", firm=firm) if active
          else _("%(firm)s invites you to its client portal", firm=firm),
          lambda: [_("Hello %(name)s,", name=contact.first_name),
                   _("You can sign in again with your e-mail address and PIN.") if active else
                   _("%(firm)s shares tasks, documents and messages with you in its secure client portal. "
                     "Sign up with this e-mail address: %(email)s", firm=firm, email=contact.primary_email)],
          link=link, link_label=(lambda: _("Sign in")) if active else (lambda: _("Sign up")))
    return True


_CODE_SUBJECTS = {
    CodePurpose.sign_in: lambda: _("Your sign-in code"),
    CodePurpose.sign_up: lambda: _("Confirm your e-mail address"),
    CodePurpose.add_email: lambda: _("Confirm your e-mail address"),
    CodePurpose.change_email: lambda: _("Confirm your new e-mail address"),
    CodePurpose.k1: lambda: _("Your access code for your K-1"),
    CodePurpose.sign_document: lambda: _("Your code to sign documents"),
}


def send_code(code_id):
    """Mail an access code (its plain code waits in Redis until mailed); False when nothing to send."""
    code = access_codes.code_for_mail(code_id) if code_id else None
    row = db.session.get(AccessCode, code_id) if code is not None else None
    if row is None or row.mailed_on is not None:
        return False
    if row.contact_id is None and not row.subject_id:  # an unknown address: written for timing, never mailed
        access_codes.mailed(code_id)
        return False
    language = row.contact.language if row.contact is not None else None
    _send(row.email, language, _CODE_SUBJECTS[row.purpose],
          lambda: [_("Your access code is below. It works once, for 10 minutes."),
                   _("If you did not ask for it, ignore this mail: nobody can sign in without the code.")],
          code=code)
    row.mailed_on = access_codes._now()
    db.session.commit()
    access_codes.mailed(code_id)
    return True
