"""The text and HTML of a notification mail (one item, or a digest), in the recipient's language,
with links to the portal address the firm configured."""
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

from app import mailer
from app.models import Contact, Message, MessageKind, TaxVoucher
from app.services import events, organizers, presenter
from app.services.firm import get_settings
from app.services.notifications import event_title
from app.services.portal.mail import base_url as portal_base  # the one definition of the portal address


def render(person, rows, objects=None, firm=None, base=None):
    """Subject, text and HTML of the mail, in the recipient's language; `objects` maps
    (object_type, id) to the loaded objects (loaded here when not given); a batch passes the firm
    settings and portal address it read once."""
    if objects is None:
        from app.services.delivery_checks import load_objects

        objects = load_objects(rows)
    language = person.language if isinstance(person, Contact) else current_app.config["BABEL_DEFAULT_LOCALE"]
    firm, base = firm or get_settings(), base or portal_base()
    with mailer.in_language(language):
        items = [_item(n, objects[(n.object_type, n.object_id)], base, isinstance(person, Contact)) for n in rows]
        subject = items[0]["title"] if len(items) == 1 else _("%(n)d updates from %(firm)s", n=len(items),
                                                               firm=firm.firm_name)
        settings_url = f"{base}/portal/settings" if isinstance(person, Contact) else f"{base}/notifications/preferences"
        context = dict(firm=firm, person=person, items=items, logo_url=f"{base}/firm-logo", settings_url=settings_url)
        return (f"{firm.firm_name}: {subject}", mailer.render_mail("email/notification.txt", **context),
                mailer.render_mail("email/notification.html", **context))


def _item(row, obj, base, to_contact):
    """One mail line: title and link from the presenter (as in the bells), plus what only mails carry."""
    thread = (obj.task or obj.request) if isinstance(obj, Message) else obj
    name, url = presenter.name_and_path(thread, to_contact, base)
    body = obj.body if isinstance(obj, Message) and obj.kind is not MessageKind.internal else ""
    extra = getattr(thread, "additional_message", None) if row.event == events.FILE_REQUEST_CREATED else None
    if row.event == events.ORGANIZER_REOPENED:
        extra = _reopen_note(thread)
    deadline = thread.due_date if isinstance(thread, TaxVoucher) else getattr(thread, "deadline", None)
    return {"title": event_title(row.event, name), "url": url, "body": body, "extra": extra, "deadline": deadline}


def _reopen_note(task):
    """The note staff wrote when reopening the task's organizer (what the client should change)."""
    organizer = organizers.for_task(task)
    return organizer.reopened_note if organizer is not None else None


def portal_address_warning(host_url):
    """The configured portal address when it is not the one serving this page (`host_url`, e.g.
    "http://127.0.0.1:5001/"): links in mails would lead elsewhere. None when they match."""
    configured, serving = urlsplit(portal_base()), urlsplit(host_url)
    same = (configured.scheme, configured.netloc.lower()) == (serving.scheme, serving.netloc.lower())
    return None if same else portal_base()
