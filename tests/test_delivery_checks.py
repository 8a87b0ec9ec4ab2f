"""The mail re-check asks the access module: for every event kind and situation, a contact gets the
mail exactly when the portal would show them what it is about."""
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import EntityShare, MessageKind, Notification, TaxVoucher
from app.models.notifications import Channel, NotificationState
from app.models.vouchers import VoucherStatus
from app.security import access
from app.security import roles as R
from app.services import delivery_checks, events, invitations, messages, requests, tasks
from tests import factories as f


@pytest.fixture
def world(ctx):
    """An entity with two portal contacts (Ann, Bob), an assigned task, a request of Bob's, a voucher."""
    admin = f.staff(R.ADMIN)
    entity = f.entity("Agree Co", responsible=admin)
    ann, bob = f.portal_contact(entity, first="Ann"), f.portal_contact(entity, first="Bob")
    task = tasks.create_task(entity, "Receipts", admin, assignees=[ann])
    tasks.assign(task, admin)
    request = requests.create_request(entity, bob, bob.user, "Question", "How?")
    voucher = TaxVoucher(entity_id=entity.id, tax_year=2026, authority="IRS", form_period="Q4",
                         amount=Decimal("10.00"), due_date=date.today() + timedelta(days=3))
    db.session.add(voucher)
    db.session.commit()
    return dict(admin=admin, entity=entity, ann=ann, bob=bob, task=task, request=request, voucher=voucher)


def _row(contact, event, obj):
    row = Notification(recipient_contact_id=contact.id, event=event, entity_id=obj_entity(obj),
                       object_type=type(obj).__name__, object_id=obj.id, channel=Channel.email,
                       send_after=datetime.now(), state=NotificationState.pending,
                       idempotency_key=f"agree-{contact.id}-{event}-{type(obj).__name__}-{obj.id}")
    db.session.add(row)
    db.session.commit()
    return row


def obj_entity(obj):
    thread = getattr(obj, "task", None) or getattr(obj, "request", None)
    return getattr(obj, "entity_id", None) or thread.entity_id


def _portal_shows(contact, event, obj):
    """What the portal shows the contact: the object itself; for a withdrawal, the entity (the task is gone)."""
    db.session.refresh(contact)
    seen = obj.entity if event == events.TASK_WITHDRAWN else obj
    return access.can(contact.user, R.VIEW, seen)


def _mail_goes(row):
    objects = delivery_checks.load_objects([row])
    return row.id not in delivery_checks.reasons([row], objects)


def _situations(w):
    """(name, contact, event, object, change before the check, expected) for every event kind."""
    t, ann, bob = w["task"], w["ann"], w["bob"]

    def withdraw():
        tasks.withdraw(t, w["admin"])

    def revoke(contact):
        return lambda: [db.session.delete(s) for s in db.session.query(EntityShare).filter_by(contact_id=contact.id)] \
            and db.session.commit()

    def pay():
        w["voucher"].status, w["voucher"].paid_on = VoucherStatus.paid, date.today()
        db.session.commit()

    def disable(contact):
        return lambda: invitations.disable(contact, w["admin"])

    portal = lambda: messages.post(t, w["admin"], "Hello", MessageKind.portal)  # noqa: E731
    internal = lambda: messages.post(t, w["admin"], "Secret", MessageKind.internal)  # noqa: E731
    on_request = lambda: messages.post(w["request"], w["admin"], "Answer", MessageKind.portal)  # noqa: E731
    return [
        ("assigned task", ann, events.TASK_ASSIGNED, lambda: t, None, True),
        ("task of another contact", bob, events.TASK_ASSIGNED, lambda: t, None, False),
        ("withdrawn task", ann, events.TASK_ASSIGNED, lambda: t, withdraw, False),
        ("disabled contact", ann, events.TASK_ASSIGNED, lambda: t, disable(ann), False),
        ("deadline on an assigned task", ann, events.DEADLINE_APPROACHING, lambda: t, None, True),
        ("file request", ann, events.FILE_REQUEST_CREATED, lambda: t, None, True),
        ("withdrawal, entity still shared", ann, events.TASK_WITHDRAWN, lambda: t, withdraw, True),
        ("withdrawal, share revoked", ann, events.TASK_WITHDRAWN, lambda: t, revoke(ann), False),
        ("portal message", ann, events.MESSAGE_POSTED, portal, None, True),
        ("internal message", ann, events.MESSAGE_POSTED, internal, None, False),
        ("deleted message", ann, events.MESSAGE_POSTED, portal, "delete", False),
        ("message on the contact's own request", bob, events.MESSAGE_POSTED, on_request, None, True),
        ("message on another contact's request", ann, events.MESSAGE_POSTED, on_request, None, False),
        ("voucher due", ann, events.VOUCHER_DUE, lambda: w["voucher"], None, True),
        ("voucher, share revoked", ann, events.VOUCHER_DUE, lambda: w["voucher"], revoke(ann), False),
    ]


@pytest.mark.parametrize("index", range(15))
def test_mail_recheck_and_portal_scope_agree(world, index):
    """For this situation the mail goes out exactly when the portal shows the object (and as expected)."""
    name, contact, event, make, change, expected = _situations(world)[index]
    obj = make()
    row = _row(contact, event, obj)
    if change == "delete":
        messages.delete(obj, world["admin"])
    elif change is not None:
        change()
    assert _mail_goes(row) == _portal_shows(contact, event, obj) == expected, name


def test_a_paid_voucher_is_still_shown_but_no_longer_mailed(world):
    """A paid voucher stays in the portal; its reminder is cancelled as "paid" (relevance, not access)."""
    row = _row(world["ann"], events.VOUCHER_DUE, world["voucher"])
    world["voucher"].status, world["voucher"].paid_on = VoucherStatus.paid, date.today()
    db.session.commit()
    assert _portal_shows(world["ann"], events.VOUCHER_DUE, world["voucher"])
    assert delivery_checks.reasons([row], delivery_checks.load_objects([row])) == {row.id: "paid"}


def test_the_batch_check_matches_the_single_checks(world):
    """contacts_visible over many contacts at once gives what can_contact_see gives one by one."""
    t, ann, bob = world["task"], world["ann"], world["bob"]
    wanted = {(ann.id, type(t)): {t.id}, (bob.id, type(t)): {t.id}, (bob.id, type(world["request"])): {world["request"].id},
              (ann.id, type(world["request"])): {world["request"].id}}
    found = access.contacts_visible(wanted)
    assert found == {(ann.id, type(t), t.id), (bob.id, type(world["request"]), world["request"].id)}
    assert access.can_contact_see(ann, t) and not access.can_contact_see(bob, t)
    assert access.can_contact_see(bob, world["request"]) and not access.can_contact_see(ann, world["request"])
