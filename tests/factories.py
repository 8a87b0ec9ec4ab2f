"""Plain factory functions for tests: each commits and returns the new object."""
import itertools

from flask import current_app

from app.extensions import db
from app.models import Contact, ContactGroup, Entity, EntityShare
from app.models.contacts import PortalState
from app.models.entities import EntityKind
from app.security import roles as R

_seq = itertools.count(1)
PASSWORD = "correct horse battery"
PIN = "246810"


def role(name):
    """The FAB role called `name`."""
    return current_app.appbuilder.sm.find_role(name)


def staff(role_name=R.STAFF, username=None, password=PASSWORD, active=True):
    """A staff user holding one global role."""
    n = next(_seq)
    username = username or f"staff{n}"
    user = current_app.appbuilder.sm.add_user(
        username, "Staff", f"Member{n}", f"{username}@firm.example", role(role_name), password=password
    )
    if not active:
        user.active = False
        db.session.commit()
    return user


def entity(name=None, kind=EntityKind.company, responsible=None, tax_id=None):
    """A client entity."""
    item = Entity(name=name or f"Entity {next(_seq)}", kind=kind, responsible=responsible, tax_id=tax_id)
    db.session.add(item)
    db.session.commit()
    return item


def contact(first="Casey", last=None, email=None, with_user=False):
    """A contact with a primary e-mail; with_user=True also gives it a portal (Client) account."""
    n = next(_seq)
    item = Contact(first_name=first, last_name=last or f"Client{n}", username=f"contact{n}")
    item.primary_email = email or f"contact{n}@client.example"
    if with_user:
        item.user = current_app.appbuilder.sm.add_user(
            f"portal{n}", first, item.last_name, item.primary_email, role(R.CLIENT), password=PASSWORD
        )
        item.portal_state = PortalState.active
    db.session.add(item)
    db.session.commit()
    return item


def portal_contact(entity_obj=None, role_name=R.ENTITY_COLLABORATOR, pin=PIN, **kwargs):
    """An active portal contact with a PIN, sharing `entity_obj` with `role_name` (if given)."""
    from app.services.portal import auth as portal_auth

    item = contact(with_user=True, **kwargs)
    portal_auth.set_pin(item, pin)
    db.session.commit()
    if entity_obj is not None:
        share(entity_obj, role_name, contact=item)
    return item


def group(name=None, members=()):
    """A contact group."""
    item = ContactGroup(name=name or f"Group {next(_seq)}", members=list(members))
    db.session.add(item)
    db.session.commit()
    return item


def share(entity_obj, role_name, user=None, contact=None, group=None):
    """Grant `role_name` on `entity_obj` to one grantee."""
    item = EntityShare(entity=entity_obj, role=role(role_name), user=user, contact=contact, group=group)
    db.session.add(item)
    db.session.commit()
    return item


def no_second_factor_policy():
    """Turn off the firm's two-step sign-in requirement (for tests about something else)."""
    from app.services.firm import get_settings

    get_settings().second_factor_roles = ""
    db.session.commit()


def enrolled_totp(user):
    """Give `user` a confirmed authenticator secret; returns (secret, recovery codes)."""
    import pyotp

    from app.models import StaffTotp
    from app.services import two_factor

    secret = pyotp.random_base32()
    db.session.add(StaffTotp(user_id=user.id, secret_encrypted=two_factor.encrypt(secret), last_step=0,
                             confirmed_on=db.func.now()))
    db.session.commit()
    return secret, two_factor.new_recovery_codes(user)


def pdf_file(name="file.pdf"):
    """A small valid PDF upload."""
    import io

    from werkzeug.datastructures import FileStorage

    return FileStorage(io.BytesIO(b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"),
                       name, content_type="application/pdf")


def bell(entity_obj, obj, user=None, contact=None):
    """An unread in-app notification about `obj` for one staff user or contact."""
    from datetime import datetime

    from app.models import Notification
    from app.models.notifications import Channel

    n = next(_seq)
    item = Notification(recipient_user_id=getattr(user, "id", None), recipient_contact_id=getattr(contact, "id", None),
                        event="task_assigned", entity_id=entity_obj.id, object_type="task", object_id=obj.id,
                        channel=Channel.in_app, send_after=datetime.now(), idempotency_key=f"bell-{n}")
    db.session.add(item)
    db.session.commit()
    return item


def trusted_device(contact_obj):
    """A browser the contact trusts (for the PIN step)."""
    from datetime import datetime, timedelta

    from app.models import TrustedDevice

    item = TrustedDevice(contact_id=contact_obj.id, key_hash=f"{next(_seq):064d}", label="Browser",
                         expires_on=datetime.now() + timedelta(days=30))
    db.session.add(item)
    db.session.commit()
    return item


def merged_email(contact_obj, address=None):
    """A verified, non-primary (merged) e-mail of a contact."""
    from datetime import datetime

    from app.models import ContactEmail

    item = ContactEmail(contact_id=contact_obj.id, email=address or f"merged{next(_seq)}@client.example",
                        is_primary=False, verified_on=datetime.now())
    db.session.add(item)
    db.session.commit()
    return item


def _entity_objects(entity_obj, worker, collaborator, everyone):
    """One object of every entity-scoped model in `entity_obj`; {name: row}."""
    from datetime import date, datetime, timedelta

    from app.models import ActivityEvent, K1Recipient, MessageKind, TaxVoucher
    from app.models.documents import Visibility
    from app.models.k1 import K1Status
    from app.services import documents, file_requests, k1, messages, requests, tasks
    from app.services.recurrence import Frequency, Rule

    folder = documents.create_folder(entity_obj, "Returns")
    shared = documents.upload(entity_obj, pdf_file("shared.pdf"), worker, folder, visibility=Visibility.portal)
    staff_only = documents.upload(entity_obj, pdf_file("staff-only.pdf"), worker, visibility=Visibility.staff_only)
    task = tasks.create_task(entity_obj, f"Task of {entity_obj.name}", worker, checklist=["Sign"], assignees=everyone)
    tasks.assign(task, worker)
    portal_message = messages.post(task, worker, "A portal message", MessageKind.portal)
    internal = messages.post(task, worker, f"INTERNAL-NOTE {entity_obj.name}", MessageKind.internal)
    file_request = file_requests.create(entity_obj, worker, [collaborator], "Bank statements")
    series = tasks.create_series(entity_obj, "Monthly close", Rule(Frequency.monthly), date.today(), worker).series
    request = requests.create_request(entity_obj, collaborator, collaborator.user, "A question", "Please answer")
    voucher = TaxVoucher(entity=entity_obj, tax_year=2026, authority="IRS", form_period="1040-ES Q1",
                         amount=100, due_date=date.today() + timedelta(days=30))
    token = f"k1-token-{entity_obj.id}-{next(_seq)}"
    partner = K1Recipient(entity=entity_obj, name="Pat Partner", email=f"partner{next(_seq)}@partners.example",
                          document=shared, status=K1Status.sent, link_hash=k1.token_hash(token),
                          link_expires_on=datetime.now() + timedelta(days=30), sent_on=datetime.now())
    db.session.add_all([voucher, partner])
    db.session.commit()
    event = db.session.query(ActivityEvent).filter_by(entity_id=entity_obj.id).order_by(ActivityEvent.id).first()
    return dict(entity=entity_obj, folder=folder, document=shared, staff_document=staff_only,
                version=shared.versions[0], task=task, checklist_item=task.checklist[0], portal_message=portal_message,
                internal_message=internal, file_request=file_request, series=series, request=request,
                voucher=voucher, k1=partner, k1_token=token, activity=event)


def cast():
    """The shared cast of the access tests: entities A and B, staff of each global role, an Owner and a
    Viewer of A, contacts of A with Entity Access and Entity Collaborator (a merged e-mail too), a
    disabled contact, a collaborator of B, and one object of every entity-scoped model in A and in B.

    Returns {name: id} (plain ids outlive the session); entity objects are named "<name>_a"/"<name>_b".
    """
    from app.models.entities import EntityKind
    from app.services import invitations

    a, b = entity("Alpha LLP", kind=EntityKind.partnership), entity("Beta LLP", kind=EntityKind.partnership)
    people = {name: staff(role_name, username=name) for name, role_name in (
        ("admin", R.ADMIN), ("staff_admin", R.STAFF_ADMIN), ("entities_admin", R.ENTITIES_ADMIN),
        ("staff", R.STAFF), ("owner", R.STAFF), ("viewer", R.STAFF))}
    owner_share = share(a, R.OWNER, user=people["owner"])
    share(a, R.VIEWER, user=people["viewer"])
    access_contact = portal_contact(a, R.ENTITY_ACCESS, first="Ada")
    collaborator = portal_contact(a, R.ENTITY_COLLABORATOR, first="Cole")
    disabled = portal_contact(a, R.ENTITY_COLLABORATOR, first="Dis")
    other = portal_contact(b, R.ENTITY_COLLABORATOR, first="Bea")
    merged = merged_email(collaborator)
    group_a, group_b = group(members=[access_contact]), group(members=[other])
    share(a, R.ENTITY_ACCESS, group=group_a)
    share(b, R.ENTITY_ACCESS, group=group_b)
    objects_a = _entity_objects(a, people["admin"], collaborator, [access_contact, collaborator])
    objects_b = _entity_objects(b, people["admin"], other, [other])
    invitations.disable(disabled, people["admin"])
    ids = {name: user.id for name, user in people.items()}
    ids.update(access=access_contact.id, collaborator=collaborator.id, disabled=disabled.id, other=other.id,
               merged_email=merged.id, merged_address=merged.email, group_a=group_a.id, group_b=group_b.id,
               share_a=owner_share.id, share_b=other_share_id(b, other))
    for suffix, objects in (("a", objects_a), ("b", objects_b)):
        ids.update({f"{name}_{suffix}": getattr(row, "id", row) for name, row in objects.items()})
    for name in ("access", "collaborator", "disabled", "other"):
        person = db.session.get(Contact, ids[name])
        ids[f"device_{name}"] = trusted_device(person).id
        ids[f"bell_{name}"] = bell(a if name != "other" else b, objects_a["task"] if name != "other"
                                   else objects_b["task"], contact=person).id
        ids[f"email_{name}"] = merged_email(person).id
    for name, user in people.items():
        ids[f"bell_{name}"] = bell(a, objects_a["task"], user=user).id
    return ids


def other_share_id(entity_obj, contact_obj):
    """The id of the share that gives `contact_obj` its role on `entity_obj`."""
    return db.session.query(EntityShare.id).filter_by(entity_id=entity_obj.id, contact_id=contact_obj.id).scalar()
