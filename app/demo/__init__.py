"""A realistic demo firm for `make run` and manual testing; safe to run again."""
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Contact, ContactGroup, Entity, EntityShare
from app.models.contacts import PortalState
from app.models.entities import EntityKind, EntityStatus
from app.security import roles as R
from app.demo.documents import seed_documents
from app.demo.signatures import seed_signatures
from app.demo.k1 import seed_k1
from app.demo.organizers import seed_organizers
from app.demo.vouchers import seed_vouchers
from app.demo.work import demo_contact_account, seed_work
from app.services.entities import find_share
from app.services.firm import get_settings

DEMO_PASSWORD = "portico-demo-2026"
DEMO_PIN = "135790"  # the portal PIN of the demo contacts that already have an account
# The demo Admin's authenticator key (public on purpose: it is a demo). `flask portico demo-code`
# prints the code it gives now; any authenticator app given this key shows the same.
DEMO_TOTP_SECRET = "PORTICODEMOADMINPORTICODEMOADMIN"

STAFF = [
    ("admin", "Anne", "Admin", R.ADMIN),
    ("sara.staffadmin", "Sara", "Lepik", R.STAFF_ADMIN),
    ("erik.entities", "Erik", "Saar", R.ENTITIES_ADMIN),
    ("maria.tamm", "Maria", "Tamm", R.STAFF),
    ("john.carter", "John", "Carter", R.STAFF),
    ("liis.kask", "Liis", "Kask", R.STAFF),
]
ACCOUNTANTS = ["maria.tamm", "john.carter", "liis.kask"]

# name, kind, tax id, [(contact index, role)]
ENTITIES = [
    ("Robert and Linda Hayes", EntityKind.individual, "412-55-0193", [(0, R.ENTITY_COLLABORATOR), (1, R.ENTITY_ACCESS)]),
    ("Kadri Mets", EntityKind.individual, "48705120222", [(2, R.ENTITY_COLLABORATOR)]),
    ("Daniel Okafor", EntityKind.individual, "533-21-8840", [(3, R.ENTITY_COLLABORATOR)]),
    ("Priya Raman", EntityKind.individual, "601-44-2281", [(4, R.ENTITY_COLLABORATOR), (5, R.ENTITY_ACCESS)]),
    ("Tõnu and Mari Kuusk", EntityKind.individual, "37811030311", [(6, R.ENTITY_COLLABORATOR), (7, R.ENTITY_ACCESS)]),
    ("Grace Whitfield", EntityKind.individual, "219-66-4410", [(8, R.ENTITY_COLLABORATOR)]),
    ("Bluefin Marine Supply LLC", EntityKind.company, "84-2201937", [(9, R.ENTITY_COLLABORATOR), (10, R.ENTITY_ACCESS)]),
    ("Northwind Bakery OÜ", EntityKind.company, "14562207", [(11, R.ENTITY_COLLABORATOR), (2, R.ENTITY_ACCESS)]),
    ("Cedar & Stone Architects Inc.", EntityKind.company, "27-8834120", [(12, R.ENTITY_COLLABORATOR), (13, R.ENTITY_ACCESS)]),
    ("Lumen Dental Studio PC", EntityKind.company, "46-1029384", [(14, R.ENTITY_COLLABORATOR)]),
    ("Harbor Lane Partners LP", EntityKind.partnership, "81-3345120", [(15, R.ENTITY_COLLABORATOR), (0, R.ENTITY_ACCESS)]),
    ("Maple Ridge Rentals LLC", EntityKind.partnership, "82-5512039", [(16, R.ENTITY_COLLABORATOR), (17, R.ENTITY_ACCESS)]),
    ("Tallinn Tech Ventures", EntityKind.partnership, "90-1122334", [(18, R.ENTITY_COLLABORATOR)]),
    ("Summit Physical Therapy Inc.", EntityKind.s_corp, "47-2203948", [(19, R.ENTITY_COLLABORATOR), (20, R.ENTITY_ACCESS)]),
    ("Greenleaf Landscaping Inc.", EntityKind.s_corp, "45-9981230", [(21, R.ENTITY_COLLABORATOR), (22, R.ENTITY_ACCESS)]),
    ("Okafor Consulting Group Inc.", EntityKind.s_corp, "46-7712093", [(23, R.ENTITY_COLLABORATOR), (3, R.ENTITY_ACCESS)]),
    ("Hayes Family Trust", EntityKind.trust, "86-6120394", [(24, R.ENTITY_COLLABORATOR), (1, R.ENTITY_ACCESS)]),
    ("Whitfield Irrevocable Trust", EntityKind.trust, "86-7734012", [(25, R.ENTITY_COLLABORATOR), (8, R.ENTITY_ACCESS)]),
    ("Riverbend Food Pantry", EntityKind.non_profit, "23-7712456", [(26, R.ENTITY_COLLABORATOR), (27, R.ENTITY_ACCESS)]),
    ("Tartu Youth Chess Club MTÜ", EntityKind.non_profit, "80123456", [(28, R.ENTITY_COLLABORATOR), (29, R.ENTITY_ACCESS)]),
]

CONTACTS = [
    ("Robert", "Hayes", "en"), ("Linda", "Hayes", "en"), ("Kadri", "Mets", "et"), ("Daniel", "Okafor", "en"),
    ("Priya", "Raman", "en"), ("Arjun", "Raman", "en"), ("Tõnu", "Kuusk", "et"), ("Mari", "Kuusk", "et"),
    ("Grace", "Whitfield", "en"), ("Marcus", "Bell", "en"), ("Sofia", "Alvarez", "en"), ("Jaan", "Kivi", "et"),
    ("Helen", "Park", "en"), ("Tom", "Brennan", "en"), ("Emily", "Chen", "en"), ("Victor", "Lang", "en"),
    ("Nora", "Fitzgerald", "en"), ("Sam", "Fitzgerald", "en"), ("Karl", "Rebane", "et"), ("Olivia", "Grant", "en"),
    ("Ben", "Grant", "en"), ("Miguel", "Santos", "en"), ("Ana", "Santos", "en"), ("Chidi", "Okafor", "en"),
    ("Paul", "Hayes", "en"), ("Eleanor", "Whitfield", "en"), ("Ruth", "Dawson", "en"), ("Kevin", "Moss", "en"),
    ("Piret", "Sepp", "et"), ("Andres", "Sepp", "et"), ("Laura", "Quinn", "en"), ("Mart", "Laur", "et"),
    ("Hannah", "Ito", "en"), ("Oscar", "Lind", "en"), ("Eva", "Rand", "et"), ("Peter", "Novak", "en"),
    ("Julia", "Weiss", "en"), ("Rasmus", "Org", "et"), ("Chloe", "Martin", "en"), ("Isaac", "Young", "en"),
]

GROUPS = [
    ("Harbor Lane limited partners", "Limited partners who receive Harbor Lane K-1s", [30, 31, 32, 33], 10),
    ("Maple Ridge members", "Members of Maple Ridge Rentals", [34, 35], 11),
    ("Tech Ventures investors", "Investors in Tallinn Tech Ventures", [36, 37, 38, 39], 12),
]


def seed_demo():
    """Create the demo firm where it is missing; return the lines to print (logins)."""
    sm = current_app.appbuilder.sm
    staff = {username: _staff_user(sm, username, first, last, role) for username, first, last, role in STAFF}
    settings = get_settings()
    settings.firm_name = settings.firm_name if settings.firm_name != "Portico" else "Lepik & Carter CPAs"
    settings.contact_person = settings.contact_person or "Sara Lepik"
    settings.contact_phone = settings.contact_phone or "+1 555 0100"
    settings.contact_email = settings.contact_email or "office@lepikcarter.example"
    settings.address = settings.address or "12 Harbor Street, Suite 300\nPortland, ME 04101"
    settings.owner = settings.owner or staff["admin"]
    contacts = [_contact(i, first, last, lang) for i, (first, last, lang) in enumerate(CONTACTS)]
    groups = [_group(name, description, [contacts[i] for i in members]) for name, description, members, _ in GROUPS]
    roles = {name: sm.find_role(name) for name in R.ENTITY_ROLES}
    for index, (name, kind, tax_id, grants) in enumerate(ENTITIES):
        owner = staff[ACCOUNTANTS[index % 3]]
        entity = _entity(name, kind, tax_id, owner)
        _share(entity, roles[R.OWNER], user=owner)
        _share(entity, roles[R.VIEWER], user=staff[ACCOUNTANTS[(index + 1) % 3]])
        for contact_index, role_name in grants:
            _share(entity, roles[role_name], contact=contacts[contact_index])
    entities = db.session.scalars(select(Entity).order_by(Entity.id)).all()
    for (_, _, _, entity_index), group in zip(GROUPS, groups):
        _share(_by_name(entities, ENTITIES[entity_index][0]), roles[R.ENTITY_ACCESS], group=group)
    db.session.commit()
    for entity in entities[:4]:
        seed_documents(entity, entity.responsible)
    for entity in entities[:3]:
        seed_work(entity, entity.responsible)
    seed_signatures(entities[0], entities[0].responsible)  # Robert Hayes signs the engagement letter
    # Robert answered last year's organizer; Kadri Mets gets the Estonian one.
    seed_organizers(entities[0], entities[0].responsible, contacts[0], _by_name(entities, "Kadri Mets"))
    for entity in (entities[0], entities[6]):  # Robert and Linda Hayes; Bluefin Marine Supply LLC
        seed_vouchers(entity)
    harbor = _by_name(entities, "Harbor Lane Partners LP")
    seed_k1(harbor, harbor.responsible)
    demo_contact_account(contacts[15], sm)  # Victor Lang, the Collaborator who distributes Harbor Lane's K-1s
    _demo_second_factor(staff["admin"])
    lines = [f"Staff logins (password: {DEMO_PASSWORD}):"]
    lines += [f"  {username:<18} {role}" for username, _, _, role in STAFF]
    lines.append(f"  admin then gives a code: authenticator key {DEMO_TOTP_SECRET}, or run `flask portico demo-code`;")
    lines.append("  sara.staffadmin sets up her authenticator at her first sign-in (the firm requires it of Admin and")
    lines.append("  Staff Admin); the others sign in with the password alone.")
    active = [c for c in contacts if c.portal_state is PortalState.active]
    lines.append(f"Portal /portal/ — contacts with an account (PIN {DEMO_PIN}, then the code from the mail):")
    lines += [f"  {c.primary_email:<34} {c.full_name}" for c in active]
    lines.append("Other contacts: invite them in People > Contacts, then sign up at /portal/sign-up; mails (codes")
    lines.append("included) land in instance/mail/ and in /ops/mail/ while MAIL_SERVER is unset.")
    return lines


def _demo_second_factor(admin):
    """Give the demo Admin the published demo authenticator key (once)."""
    from datetime import datetime

    from app.models import StaffTotp
    from app.services.two_factor import encrypt, totp_of

    if totp_of(admin.id) is None:
        db.session.add(StaffTotp(user_id=admin.id, secret_encrypted=encrypt(DEMO_TOTP_SECRET),
                                 confirmed_on=datetime.now(), last_step=0))
        db.session.commit()


def _staff_user(sm, username, first, last, role_name):
    user = sm.find_user(username=username)
    if user is None:
        user = sm.add_user(username, first, last, f"{username}@lepikcarter.example",
                           sm.find_role(role_name), password=DEMO_PASSWORD)
    return user


def _contact(index, first, last, language):
    username = f"{first}.{last}".lower().replace("õ", "o").replace("ü", "u")
    contact = db.session.scalar(select(Contact).where(Contact.username == username))
    if contact is None:
        contact = Contact(first_name=first, last_name=last, username=username, language=language,
                          portal_state=PortalState.not_invited, phone=f"+1 555 01{index:02d}")
        contact.primary_email = f"{username}@client.example"
        db.session.add(contact)
        db.session.flush()
    return contact


def _group(name, description, members):
    group = db.session.scalar(select(ContactGroup).where(ContactGroup.name == name))
    if group is None:
        group = ContactGroup(name=name, description=description, members=members)
        db.session.add(group)
        db.session.flush()
    return group


def _entity(name, kind, tax_id, responsible):
    entity = db.session.scalar(select(Entity).where(Entity.name == name))
    if entity is None:
        entity = Entity(name=name, kind=kind, tax_id=tax_id, status=EntityStatus.active,
                        responsible=responsible, address="")
        db.session.add(entity)
        db.session.flush()
    return entity


def _share(entity, role, user=None, contact=None, group=None):
    if find_share(entity, user, contact, group) is None:
        db.session.add(EntityShare(entity=entity, role=role, user=user, contact=contact, group=group))
        db.session.flush()


def _by_name(entities, name):
    return next(e for e in entities if e.name == name)
