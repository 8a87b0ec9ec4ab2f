"""A staff "Send e-mail" on a thread, mailed at once (not a digest line minutes later): from the
firm's sender address with Reply-To the author, the text and the attachments (or portal links past
MAIL_ATTACH_MAX_BYTES), in each client's language; the message records whom it reached and any
refusal. Exactly once: the job claims the message (pending → sending) before the first hand-off."""
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import update

from app import mailer
from app.extensions import db
from app.models import Message, Task
from app.models.tasks import PortalState
from app.security import access
from app.services.firm import get_settings
from app.services.portal.mail import base_url
from app.storage import backend

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


def recipients(message):
    """The contacts the e-mail goes to: a task's assignees while it is assigned, a request's
    requester — each only if they may see the message in the portal."""
    thread = message.task or message.request
    if isinstance(thread, Task):
        people = list(thread.assignees) if thread.portal_state is PortalState.assigned else []
    else:
        people = [thread.contact] if thread.contact is not None else []
    people.sort(key=lambda c: (c.primary_email or "").lower())  # a stable record whatever order the DB returns
    return [c for c in people if c.primary_email and access.can_contact_see(c, message)]


def mail_message(message_id):
    """Send a staff e-mail message to its recipients over one connection; safe to re-run."""
    claimed = db.session.execute(update(Message).where(Message.id == message_id, Message.mail_state == PENDING)
                                 .values(mail_state=SENDING)).rowcount
    db.session.commit()
    if not claimed:
        return "skipped"
    message = db.session.get(Message, message_id)
    accepted, refused = [], []
    files, links = _attachments(message)
    with mailer.Outgoing() as outgoing:
        for contact in recipients(message):
            built = _build(message, contact, files, links)
            try:
                outgoing.send(built)
                accepted.append(contact.primary_email)
            except mailer.MailRefused as exc:
                refused.append(f"{contact.primary_email}: {exc}")
            except mailer.NotConnected as exc:
                if not accepted:  # nothing went out: back to pending, and the job's retry tries again
                    message.mail_state, message.mail_error = PENDING, str(exc)[:2000]
                    db.session.commit()
                    raise
                refused.append(str(exc))
                break
    message.mail_state = SENT if accepted else FAILED
    message.mailed_to, message.mailed_on = ", ".join(accepted) or None, datetime.now()
    message.mail_error = "; ".join(refused)[:2000] or (None if accepted else "no recipient can see this thread")
    db.session.commit()
    return message.mail_state


def _attachments(message):
    """(files to attach as (name, type, bytes), documents to link instead) within the size limit."""
    limit, used, files, links = current_app.config["MAIL_ATTACH_MAX_BYTES"], 0, [], []
    for doc in message.attachments:
        version = doc.versions[0] if doc.versions else None
        if version is None or used + doc.size > limit:
            links.append(doc)
            continue
        with backend().open(version.storage_key) as handle:
            files.append((doc.name, doc.mime, handle.read()))
        used += doc.size
    return files, links


def _build(message, contact, files, links):
    firm, base = get_settings(), base_url()
    thread = message.task or message.request
    name = getattr(thread, "title", None) or getattr(thread, "subject", "")
    kind = "tasks" if isinstance(thread, Task) else "requests"
    author = message.author_user
    with mailer.in_language(contact.language):
        context = dict(firm=firm, person=contact, message=message, thread_name=name, author=author,
                       thread_url=f"{base}/portal/{kind}/{thread.id}",
                       links=[(d.name, f"{base}/portal/documents/{d.id}") for d in links])
        about = _("Message about %(name)s", name=name)
        subject = f"{firm.firm_name}: {about}"
        text = mailer.render_mail("email/thread_message.txt", **context)
        html = mailer.render_mail("email/thread_message.html", **context)
    reply_to = author.email if author is not None and author.email else None
    return mailer.message(contact.primary_email, subject, text, html, reply_to=reply_to, attachments=files)
