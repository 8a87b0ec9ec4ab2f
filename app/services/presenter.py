"""How a notification reads and where it leads: one presenter for the staff bell, the portal bell
and the mails.

A line names its object only when the reader may still see it (asked of app.security.access). A
client sees no line about what is no longer theirs, except the neutral "A task was withdrawn". Staff links go to
the back-office screens, contacts' links to the portal.
"""
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from app.extensions import db
from app.models import ClientRequest, Document, Message, SignatureRequest, Task, TaxVoucher
from app.security import access
from app.services import events
from app.services.notifications import event_title

MODELS = {"Task": Task, "ClientRequest": ClientRequest, "Document": Document, "TaxVoucher": TaxVoucher,
          "SignatureRequest": SignatureRequest}


def targets(rows):
    """{row id: (model name, object id)} of what each row leads to: a message leads to its thread."""
    message_ids = [r.object_id for r in rows if r.object_type == "Message"]
    parents = {}
    if message_ids:
        for mid, task_id, request_id in db.session.execute(select(Message.id, Message.task_id, Message.request_id)
                                                           .where(Message.id.in_(message_ids))):
            parents[mid] = ("Task", task_id) if task_id else ("ClientRequest", request_id)
    return {r.id: parents.get(r.object_id) if r.object_type == "Message" else (r.object_type, r.object_id)
            for r in rows}


def visible_targets(viewer, wanted):
    """{(model name, id): object} of the targets `viewer` may see: one query per model."""
    by_model = {}
    for target in wanted:
        if target is not None and target[0] in MODELS:
            by_model.setdefault(target[0], set()).add(target[1])
    found = {}
    for name, ids in by_model.items():
        model = MODELS[name]
        for obj in db.session.scalars(access.visible(viewer, model).where(model.id.in_(sorted(ids)))):
            found[(name, obj.id)] = obj
    return found


def name_and_path(obj, portal, base=""):
    """(name, link) of a notification's object: a portal page for contacts, a screen for staff."""
    if isinstance(obj, Task):
        return obj.title, f"{base}/portal/tasks/{obj.id}" if portal else f"{base}/taskview/show/{obj.id}"
    if isinstance(obj, ClientRequest):
        return obj.subject, f"{base}/portal/requests/{obj.id}" if portal else f"{base}/clientrequestview/show/{obj.id}"
    if isinstance(obj, TaxVoucher):  # a reminder names only the due date; amounts stay behind the sign-in
        day = obj.due_date.isoformat()
        path = f"{base}/portal/payments/{day}?entity={obj.entity_id}" if portal else \
            f"{base}/taxvoucherview/show/{obj.id}"
        return format_date(obj.due_date, "medium"), path
    if isinstance(obj, SignatureRequest):
        return obj.title, f"{base}/portal/signatures/{obj.id}" if portal else f"{base}/signatures/{obj.id}"
    return obj.name, f"{base}/portal/documents" if portal else f"{base}/documentview/show/{obj.id}"


def _gone(row, portal):
    if not portal:
        return _("This item no longer exists")
    return _("A task was withdrawn") if row.event == events.TASK_WITHDRAWN else \
        _("This item is no longer shared with you")


def describe(rows, viewer, base=""):
    """[(row, title, link or None)] for `viewer`'s rows, in a fixed number of queries."""
    portal = access.is_contact(viewer)
    leads_to = targets(rows)
    visible = visible_targets(viewer, leads_to.values())
    described = []
    for row in rows:
        obj = visible.get(leads_to[row.id])
        if obj is None and portal and row.event != events.TASK_WITHDRAWN:
            continue  # a client's line about something no longer theirs: nothing to show or follow
        if obj is None:
            described.append((row, _gone(row, portal), None))
        else:
            name, link = name_and_path(obj, portal, base)
            described.append((row, event_title(row.event, name), link))
    return described


def _group_action(event, actor, n):
    """What the actor (or, without one, someone) did n times, as the staff bell's grouped line says it."""
    if event == events.CLIENT_UPLOADED:
        return ngettext("%(actor)s uploaded %(num)d file", "%(actor)s uploaded %(num)d files", n, actor=actor)
    if event == events.MESSAGE_POSTED:
        return ngettext("%(actor)s posted %(num)d message", "%(actor)s posted %(num)d messages", n, actor=actor)
    if event == events.CLIENT_COMPLETED:
        return ngettext("%(actor)s marked %(num)d task done", "%(actor)s marked %(num)d tasks done", n, actor=actor)
    if event == events.REQUEST_CREATED:
        return ngettext("%(actor)s raised %(num)d request", "%(actor)s raised %(num)d requests", n, actor=actor)
    if event == events.DEADLINE_APPROACHING:
        return ngettext("%(num)d deadline coming up", "%(num)d deadlines coming up", n)
    if event == events.TASK_ASSIGNED:
        return ngettext("%(num)d task assigned", "%(num)d tasks assigned", n)
    if event == events.TASK_WITHDRAWN:
        return ngettext("%(num)d task withdrawn", "%(num)d tasks withdrawn", n)
    if event == events.FILE_REQUEST_CREATED:
        return ngettext("%(num)d file request sent", "%(num)d file requests sent", n)
    return ngettext("%(num)d notification", "%(num)d notifications", n)


def group_title(group):
    """A staff bell group in one line: "Olivia Birch uploaded 5 files — Birch & Oak"."""
    action = _group_action(group.event, group.actor or _("A client"), group.count)
    if group.entity_id is None:
        return action
    client = group.entity.name if group.entity is not None else _("a client you no longer see")
    return _("%(action)s — %(client)s", action=action, client=client)
