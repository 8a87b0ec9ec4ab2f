"""The text and HTML of a notification mail (one item, or a digest), in the recipient's language,
with links to the portal address the firm configured."""
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale, format_date
from flask_babel import gettext as _

from app.models import ClientRequest, Contact, Document, Message, MessageKind, TaxVoucher
from app.services import events
from app.services.firm import get_settings
from app.services.notifications import event_title
from app.services.portal_mail import base_url as portal_base  # the one definition of the portal address


def render(person, rows, objects=None, firm=None, base=None):
    """Subject, text and HTML of the mail, in the recipient's language; `objects` maps
    (object_type, id) to the loaded objects (loaded here when not given); a batch passes the firm
    settings and portal address it read once."""
    if objects is None:
        from app.services.delivery_checks import load_objects

        objects = load_objects(rows)
    language = person.language if isinstance(person, Contact) else current_app.config["BABEL_DEFAULT_LOCALE"]
    firm, base = firm or get_settings(), base or portal_base()
    with force_locale(language):
        items = [_item(n, objects[(n.object_type, n.object_id)], base, isinstance(person, Contact)) for n in rows]
        subject = items[0]["title"] if len(items) == 1 else _("%(n)d updates from %(firm)s", n=len(items),
                                                               firm=firm.firm_name)
        settings_url = f"{base}/portal/settings" if isinstance(person, Contact) else f"{base}/notifications/preferences"
        context = dict(firm=firm, person=person, items=items, logo_url=f"{base}/firm-logo", settings_url=settings_url)
        return (f"{firm.firm_name}: {subject}", render_template("email/notification.txt", **context),
                render_template("email/notification.html", **context))


def _item(row, obj, base, to_contact):
    if isinstance(obj, TaxVoucher):  # only the date and a link: amounts stay behind the portal sign-in
        url = f"{base}/portal/payments/{obj.due_date.isoformat()}?entity={obj.entity_id}"
        return {"title": event_title(row.event, format_date(obj.due_date, "medium")), "url": url, "body": "",
                "extra": None, "deadline": obj.due_date}
    if isinstance(obj, Document):  # staff only: a client's upload
        return {"title": event_title(row.event, obj.name), "url": f"{base}/documentview/show/{obj.id}", "body": "",
                "extra": None, "deadline": None}
    task = (obj.task or obj.request) if isinstance(obj, Message) else obj
    name = getattr(task, "title", None) or getattr(task, "subject", "")
    kind = "requests" if isinstance(task, ClientRequest) else "tasks"
    url = f"{base}/portal/{kind}/{task.id}" if to_contact else (
        f"{base}/clientrequestview/show/{task.id}" if kind == "requests" else f"{base}/taskview/show/{task.id}")
    body = obj.body if isinstance(obj, Message) and obj.kind is not MessageKind.internal else ""
    extra = getattr(task, "additional_message", None) if row.event == events.FILE_REQUEST_CREATED else None
    return {"title": event_title(row.event, name), "url": url, "body": body, "extra": extra,
            "deadline": getattr(task, "deadline", None)}


def portal_address_warning(host_url):
    """The configured portal address when it is not the one serving this page (`host_url`, e.g.
    "http://127.0.0.1:5001/"): links in mails would lead elsewhere. None when they match."""
    configured, serving = urlsplit(portal_base()), urlsplit(host_url)
    same = (configured.scheme, configured.netloc.lower()) == (serving.scheme, serving.netloc.lower())
    return None if same else portal_base()
