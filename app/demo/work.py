"""Demo client work: a recurring bookkeeping series, a file request, a converted client request
and a thread with all three message kinds, for a few demo entities (skipped where tasks exist)."""
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Document, MessageKind, Task
from app.models.contacts import PortalState
from app.security import roles as R
from app.services import file_requests, messages, requests, tasks
from app.models.tasks import Frequency
from app.services.recurrence import Rule
from app.services.tasks import TaskError


def seed_work(entity, accountant):
    """Give `entity` a month of client work, unless it already has tasks."""
    if db.session.scalar(select(Task.id).where(Task.entity_id == entity.id).limit(1)):
        return
    month_end = (date.today().replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    series = tasks.create_series(entity, "Monthly bookkeeping", Rule(Frequency.monthly), month_end, accountant,
                                 checklist=["Import bank feed", "Match receipts", "Reconcile accounts"],
                                 description="Please upload this month's receipts and invoices.")
    tasks.assign(series, accountant)
    collaborators = [c for c, ok, _ in file_requests.recipients(entity) if ok]
    if not collaborators:
        return
    statement = db.session.scalar(select(Document).where(Document.entity_id == entity.id,
                                                         Document.name.like("Statement%")))
    try:
        file_requests.create(entity, accountant, collaborators[:1], "December bank statement",
                             description="Please upload the December statement for all accounts.",
                             update_document=statement)
    except TaskError:
        pass
    client = collaborators[0]
    demo_contact_account(client, current_app.appbuilder.sm)
    request = requests.create_request(entity, client, client.user, "New employee from January",
                                      "We hire our first employee in January. What do you need from us?")
    messages.post(request, accountant, "Thanks! We will set up payroll; a task follows.", MessageKind.portal)
    task = requests.convert(request, accountant)
    tasks.assign(task, accountant)
    messages.post(task, accountant, "Check whether they qualify for the hiring credit.", MessageKind.internal)
    messages.post(task, accountant, "Please send the signed employment contract.", MessageKind.portal)
    messages.post(task, accountant, "Reminder: we need the contract by the 20th.", MessageKind.email)


def demo_contact_account(contact, sm):
    """A portal (Client) account with the demo PIN for a demo contact, so the demo can show client actions."""
    from app.demo import DEMO_PIN
    from app.services.portal.auth import set_pin

    if contact.user is None:
        contact.user = sm.add_user(contact.username, contact.first_name, contact.last_name,
                                   contact.primary_email, sm.find_role(R.CLIENT))
        contact.portal_state = PortalState.active
        set_pin(contact, DEMO_PIN)
        db.session.commit()
    return contact.user
