"""The access module: every global and entity role × action × own / foreign / group / revoked."""
import pytest

from app.extensions import db
from app.models import Contact, Entity, EntityShare
from app.security import access
from app.security import roles as R
from tests import factories as f

ACTIONS = (R.VIEW, R.WORK, R.CONTRIBUTE, R.EDIT, R.SHARE, R.DELETE)
ALL_STAFF = {R.VIEW, R.WORK, R.EDIT, R.SHARE, R.DELETE}


def _allowed(user, entity):
    return {a for a in ACTIONS if access.can(user, a, entity)}


@pytest.fixture
def world(ctx):
    """Two entities; `own` is shared with the people under test, `foreign` with nobody."""
    own, foreign = f.entity("Own Co"), f.entity("Foreign Co")
    return {"own": own, "foreign": foreign}


@pytest.mark.parametrize(
    "global_role, own_expected, foreign_expected",
    [
        (R.ADMIN, ALL_STAFF, ALL_STAFF),
        (R.ENTITIES_ADMIN, ALL_STAFF, ALL_STAFF),
        (R.STAFF_ADMIN, {R.VIEW}, {R.VIEW}),
        (R.STAFF, set(), set()),
        (R.CLIENT, set(), set()),
    ],
)
def test_global_roles_without_shares(world, global_role, own_expected, foreign_expected):
    """Global roles alone: admins reach every entity, Staff Admin reads all, Staff and Client nothing."""
    user = f.staff(global_role)
    assert _allowed(user, world["own"]) == own_expected
    assert _allowed(user, world["foreign"]) == foreign_expected


@pytest.mark.parametrize(
    "entity_role, expected",
    [
        (R.OWNER, ALL_STAFF),
        (R.VIEWER, {R.VIEW, R.WORK}),
    ],
)
def test_staff_entity_roles(world, entity_role, expected):
    """A Staff member's entity role decides what they do on that entity and nothing elsewhere."""
    user = f.staff(R.STAFF)
    f.share(world["own"], entity_role, user=user)
    assert _allowed(user, world["own"]) == expected
    assert _allowed(user, world["foreign"]) == set()


def test_responsible_member_counts_as_owner(world):
    """The responsible staff member has Owner rights without a share row."""
    user = f.staff(R.STAFF)
    world["own"].responsible = user
    db.session.commit()
    assert _allowed(user, world["own"]) == ALL_STAFF
    assert _allowed(user, world["foreign"]) == set()


@pytest.mark.parametrize(
    "entity_role, expected",
    [
        (R.ENTITY_ACCESS, {R.VIEW}),
        (R.ENTITY_COLLABORATOR, {R.VIEW, R.CONTRIBUTE}),
    ],
)
@pytest.mark.parametrize("through_group", [False, True])
def test_contact_entity_roles(world, entity_role, expected, through_group):
    """A contact's role, direct or through a group, gives contact actions on that entity only."""
    person = f.contact(with_user=True)
    if through_group:
        f.share(world["own"], entity_role, group=f.group(members=[person]))
    else:
        f.share(world["own"], entity_role, contact=person)
    assert _allowed(person.user, world["own"]) == expected
    assert _allowed(person.user, world["foreign"]) == set()


@pytest.mark.parametrize("entity_role", [R.OWNER, R.VIEWER])
def test_revoked_staff_share_takes_effect_at_once(world, entity_role):
    """Deleting a share removes every right on the next check."""
    user = f.staff(R.STAFF)
    grant = f.share(world["own"], entity_role, user=user)
    assert access.can(user, R.VIEW, world["own"])
    db.session.delete(grant)
    db.session.commit()
    assert _allowed(user, world["own"]) == set()


def test_revoked_group_membership_takes_effect_at_once(world):
    """Leaving a group ends the access it gave."""
    person = f.contact(with_user=True)
    team = f.group(members=[person])
    f.share(world["own"], R.ENTITY_COLLABORATOR, group=team)
    assert access.can(person.user, R.VIEW, world["own"])
    team.members.remove(person)
    db.session.commit()
    assert _allowed(person.user, world["own"]) == set()


def test_contact_never_gets_staff_actions_even_with_a_staff_role_or_share(world):
    """A client account holding a staff role or an Owner share still gets contact rights only."""
    person = f.contact(with_user=True)
    person.user.roles.append(f.role(R.ADMIN))
    db.session.add(EntityShare(entity=world["own"], role=f.role(R.ENTITY_ACCESS), contact=person))
    db.session.commit()
    assert _allowed(person.user, world["own"]) == {R.VIEW}
    assert _allowed(person.user, world["foreign"]) == set()
    assert access.global_actions(person.user) == frozenset()


def test_disabled_and_anonymous_users_get_nothing(world):
    """Deny by default: inactive accounts and no account see nothing."""
    admin = f.staff(R.ADMIN, active=False)
    assert _allowed(admin, world["own"]) == set()
    assert _allowed(None, world["own"]) == set()
    assert not access.can(f.staff(R.ADMIN), R.VIEW, object())


def test_scope_lists_exactly_the_visible_entities(world):
    """The query filter agrees with can(): staff see shared + responsible, contacts see theirs."""
    user = f.staff(R.STAFF)
    third = f.entity("Third Co", responsible=user)
    f.share(world["own"], R.VIEWER, user=user)
    person = f.contact(with_user=True)
    f.share(world["foreign"], R.ENTITY_ACCESS, group=f.group(members=[person]))

    def names(u):
        return set(db.session.scalars(access.visible(u, Entity).with_only_columns(Entity.name)))

    assert names(user) == {"Own Co", third.name}
    assert names(person.user) == {"Foreign Co"}
    assert names(f.staff(R.STAFF_ADMIN)) == {"Own Co", "Foreign Co", "Third Co"}


def test_contacts_scope_for_staff_follows_their_entities(world):
    """Staff see the contacts of their entities (direct or via group), admins see every contact."""
    user = f.staff(R.STAFF)
    f.share(world["own"], R.OWNER, user=user)
    mine, grouped, other = f.contact(), f.contact(), f.contact()
    f.share(world["own"], R.ENTITY_ACCESS, contact=mine)
    f.share(world["own"], R.ENTITY_ACCESS, group=f.group(members=[grouped]))
    f.share(world["foreign"], R.ENTITY_ACCESS, contact=other)

    def ids(u):
        return set(db.session.scalars(access.visible(u, Contact).with_only_columns(Contact.id)))

    assert ids(user) == {mine.id, grouped.id}
    assert ids(f.staff(R.STAFF_ADMIN)) == {mine.id, grouped.id, other.id}


def test_only_admins_change_admin_accounts(ctx):
    """A Staff Admin may edit staff but not an Admin's account (no privilege escalation)."""
    staff_admin, admin, accountant = f.staff(R.STAFF_ADMIN), f.staff(R.ADMIN), f.staff(R.STAFF)
    assert access.can(staff_admin, R.EDIT, accountant)
    assert not access.can(staff_admin, R.EDIT, admin)
    assert access.can(f.staff(R.ADMIN), R.EDIT, admin)
    assert not access.can(accountant, R.EDIT, staff_admin)


def test_guard_answers_404_outside_scope_and_403_without_the_right(app, ctx):
    """One policy for every page: unknown, malformed or foreign ids are 404; a known row without the right is 403."""
    from werkzeug.exceptions import Forbidden, NotFound

    from app.security import guard

    own, foreign = f.entity("Own Co"), f.entity("Foreign Co")
    viewer = f.staff()
    f.share(own, R.VIEWER, user=viewer)
    with app.test_request_context():
        assert guard.load(viewer, Entity, own.id) is own
        assert guard.load(viewer, Entity, str(own.id), R.WORK) is own
        for bad in (foreign.id, "²", "1e3", str(2**63), "-1", ""):
            with pytest.raises(NotFound):
                guard.load(viewer, Entity, bad)
        with pytest.raises(Forbidden):
            guard.load(viewer, Entity, own.id, R.DELETE)


def test_contact_usability_is_decided_in_one_place(ctx):
    """A contact uses the portal only when active with an enabled account; only a disabled one is never mailed."""
    from app.models.contacts import PortalState

    active = f.contact(with_user=True)
    assert access.may_use_portal(active) and access.may_be_mailed(active)
    active.user.active = False
    assert not access.may_use_portal(active)
    invited = f.contact()
    invited.portal_state = PortalState.invited
    assert not access.may_use_portal(invited) and access.may_be_mailed(invited)
    disabled = f.contact(with_user=True)
    disabled.portal_state = PortalState.disabled
    assert not access.may_use_portal(disabled) and not access.may_be_mailed(disabled)
    assert not access.may_use_portal(None) and not access.may_be_mailed(None)


def test_screen_permissions_are_remembered_per_request_only(app, client, login):
    """A role taken away between two requests counts at once (FAB's answers are memoised per request)."""
    with app.app_context():
        user = f.staff(R.STAFF)
        uid = user.id
    login(client, uid)
    assert client.get("/entityview/list/").status_code == 200
    with app.app_context():
        user = app.appbuilder.sm.get_user_by_id(uid)
        user.roles = [f.role(R.CLIENT)]
        db.session.commit()
    assert client.get("/entityview/list/").status_code in (302, 403)


def test_listed_scope_finds_the_same_rows_as_the_subquery(world):
    """scope(..., listed=True) (entity ids spelt out) and the subquery scope select the same messages and
    events, for a scoped staff member, an Admin and a contact."""
    from sqlalchemy import select

    from app.models import ActivityEvent, Message, MessageKind
    from app.services import messages, requests, tasks

    staff, admin = f.staff(R.STAFF), f.staff(R.ADMIN)
    f.share(world["own"], R.VIEWER, user=staff)
    person = f.portal_contact(world["own"])
    f.share(world["foreign"], R.ENTITY_COLLABORATOR, contact=f.contact(with_user=True))
    for entity in (world["own"], world["foreign"]):
        task = tasks.create_task(entity, f"Task of {entity.name}", admin)
        tasks.assign(task, admin)
        messages.post(task, admin, "To the client")
        messages.post(task, admin, "Internal note", kind=MessageKind.internal)
    requests.create_request(world["own"], person, person.user, "Question", "Body")
    for user in (staff, admin, person.user):
        for model in (Message, ActivityEvent):
            plain = set(db.session.scalars(select(model.id).where(access.scope(user, model))))
            listed = set(db.session.scalars(select(model.id).where(access.scope(user, model, listed=True))))
            assert plain == listed, (user, model)
    assert len(set(db.session.scalars(select(Message.id).where(access.scope(staff, Message, listed=True))))) == 2


@pytest.mark.parametrize("action", [R.VIEW, R.WORK])
@pytest.mark.parametrize("per_row_min", [1, 1_000])
def test_per_row_scope_finds_the_same_rows_as_the_set(world, action, per_row_min, monkeypatch):
    """scope(..., per_row=True) — EXISTS per row, or listed ids below PER_ROW_MIN entities — and the set
    scope select the same rows of every PER_ROW model, for a member sharing as Viewer, one owning an entity,
    one seeing it through nothing, an Admin and a contact (who keeps the set scope)."""
    from sqlalchemy import select

    from app.models import ClientRequest, Message
    from app.services import messages, requests

    from app.models import Task
    from app.security.scopes import PER_ROW
    from app.services import tasks

    viewer, owner, stranger, admin = f.staff(R.STAFF), f.staff(R.STAFF), f.staff(R.STAFF), f.staff(R.ADMIN)
    f.share(world["own"], R.VIEWER, user=viewer)
    world["foreign"].responsible = owner
    db.session.commit()
    person = f.portal_contact(world["own"])
    monkeypatch.setattr(access, "PER_ROW_MIN", per_row_min)
    for entity in (world["own"], world["foreign"]):
        messages.post(tasks.create_task(entity, f"Task of {entity.name}", admin, responsible=viewer), admin, "Hi")
    requests.create_request(world["own"], person, person.user, "Question", "Body")
    assert db.session.query(Message).count() >= 2 and db.session.query(ClientRequest).count() == 1
    for user in (viewer, owner, stranger, admin, person.user):
        for model in PER_ROW:
            plain = set(db.session.scalars(select(model.id).where(access.scope(user, model, action))))
            per_row = set(db.session.scalars(select(model.id).where(access.scope(user, model, action, per_row=True))))
            assert plain == per_row, (user, model, action)
    seen = set(db.session.scalars(select(Task.title).where(access.scope(viewer, Task, per_row=True))))
    assert seen == {"Task of " + world["own"].name}
