"""Bad input in the screens: a clear form error, nothing saved, never a 500."""
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import Contact, ContactEmail, ContactGroup, Entity, EntityShare
from app.security import roles as R
from tests import factories as f
from tests.conftest import csrf_token


@pytest.fixture
def admins(app):
    """A Staff Admin, an Entities Admin, an existing contact and an entity to collide with."""
    with app.app_context():
        existing = f.contact(first="Existing", email="taken@client.example")
        return SimpleNamespace(
            staff_admin=f.staff(R.STAFF_ADMIN).id,
            entities_admin=f.staff(R.ENTITIES_ADMIN).id,
            existing_username=existing.username,
            entity=f.entity("Share Target Co").id,
            staff=f.staff(R.STAFF, username="grantee.staff").id,
            contact=existing.id,
            group=f.group(name="Existing group").id,
        )


def _counts(app):
    with app.app_context():
        return tuple(db.session.query(m).count() for m in (Contact, ContactEmail, ContactGroup, Entity, EntityShare))


def _contact_form(**overrides):
    data = {
        "first_name": "Ada", "last_name": "Lovelace", "username": "ada.lovelace",
        "primary_email": "ada@client.example", "phone": "+372 5555 1234", "language": "en",
        "portal_state": "not_invited", "notes": "",
    }
    data.update(overrides)
    return data


def _post(client, path, data):
    data = dict(data, csrf_token=csrf_token(client, path))
    return client.post(path, data=data)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"primary_email": "not-an-email"}, "Invalid email address."),
        ({"primary_email": "TAKEN@client.example"}, "This e-mail address already belongs to a contact."),
        ({"primary_email": ""}, "This field is required."),
        ({"first_name": ""}, "This field is required."),
        ({"last_name": "x" * 101}, "Field cannot be longer than 100 characters."),
        ({"username": "has spaces"}, "Use letters, digits and . _ @ + - only."),
        ({"phone": "call me maybe"}, "Enter a phone number"),
    ],
)
def test_bad_contact_input_is_a_form_error(app, client, login, admins, overrides, message):
    """Invalid or duplicate e-mails, empty or over-long names: the form says why, nothing is saved."""
    login(client, admins.staff_admin)
    before = _counts(app)
    response = _post(client, "/contactview/add", _contact_form(**overrides))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _counts(app) == before


def test_the_contact_form_cannot_set_the_portal_state(app, client, login, admins):
    """Portal access changes only through Invite/Disable: a posted portal_state is ignored."""
    login(client, admins.staff_admin)
    _post(client, "/contactview/add", _contact_form(portal_state="active"))
    with app.app_context():
        contact = db.session.query(Contact).filter_by(username="ada.lovelace").one()
        assert contact.portal_state.name == "not_invited"


def test_duplicate_contact_username_is_a_form_error(app, client, login, admins):
    """A username already taken is refused in the form."""
    login(client, admins.staff_admin)
    before = _counts(app)
    response = _post(client, "/contactview/add", _contact_form(username=admins.existing_username))
    assert response.status_code == 200
    assert "Already exists." in response.get_data(as_text=True)
    assert _counts(app) == before


def test_good_contact_is_saved_with_its_primary_email(app, client, login, admins):
    """The control case: the same form with good values saves the contact and its address."""
    login(client, admins.staff_admin)
    response = _post(client, "/contactview/add", _contact_form(primary_email="Ada@Client.example"))
    assert response.status_code == 302
    with app.app_context():
        contact = db.session.query(Contact).filter_by(username="ada.lovelace").one()
        assert contact.primary_email == "ada@client.example"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"tax_id": "12-ABC4567"}, "A tax id is made of digits"),
        ({"name": ""}, "This field is required."),
        ({"name": "n" * 201}, "Field cannot be longer than 200 characters."),
        ({"kind": "pirate"}, "Not a valid choice"),
    ],
)
def test_bad_entity_input_is_a_form_error(app, client, login, admins, overrides, message):
    """A tax id with letters, an empty or over-long name, an unknown kind: form error, nothing saved."""
    login(client, admins.entities_admin)
    before = _counts(app)
    data = {"name": "Valid Name LLC", "kind": "company", "tax_id": "12-3456789", "status": "active", "address": ""}
    data.update(overrides)
    response = _post(client, "/entityview/add", data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _counts(app) == before


def test_good_entity_is_saved(app, client, login, admins):
    """The control case for entities."""
    login(client, admins.entities_admin)
    data = {"name": "Valid Name LLC", "kind": "s_corp", "tax_id": "12-3456789", "status": "active"}
    assert _post(client, "/entityview/add", data).status_code == 302
    with app.app_context():
        assert db.session.query(Entity).filter_by(name="Valid Name LLC").one().tax_id == "12-3456789"


def test_duplicate_group_name_is_a_form_error(app, client, login, admins):
    """Group names are unique."""
    login(client, admins.entities_admin)
    before = _counts(app)
    response = _post(client, "/contactgroupview/add", {"name": "Existing group", "description": ""})
    assert response.status_code == 200
    assert "Already exists." in response.get_data(as_text=True)
    assert _counts(app) == before


@pytest.mark.parametrize(
    "password, message",
    [("short-pw", "at least 12 characters"), ("a" * 20, "one repeated character")],
)
def test_weak_staff_passwords_are_refused(app, client, login, admins, password, message):
    """Staff passwords must have at least 12 characters."""
    login(client, admins.staff_admin)
    with app.app_context():
        staff_role = f.role(R.STAFF).id
    data = {"first_name": "New", "last_name": "Hire", "username": "new.hire", "email": "new@firm.example",
            "active": "y", "roles": staff_role, "password": password, "conf_password": password}
    response = _post(client, "/users/add", data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert app.appbuilder.sm.find_user(username="new.hire") is None



def test_editing_a_staff_member_without_roles_is_a_form_error(app, client, login, admins):
    """The staff edit form has no groups field: leaving the roles empty is a form error, not a 500."""
    login(client, admins.staff_admin)
    data = {"first_name": "Still", "last_name": "Here", "username": "grantee.staff", "email": "g@firm.example",
            "active": "y"}
    response = _post(client, f"/users/edit/{admins.staff}", data)
    assert response.status_code == 200
    assert "Either select a role or a group" in response.get_data(as_text=True)
    with app.app_context():
        assert [r.name for r in app.appbuilder.sm.get_user_by_id(admins.staff).roles] == [R.STAFF]


@pytest.mark.parametrize(
    "grantee, role_name, message",
    [
        ({"user": "staff"}, R.ENTITY_ACCESS, "Staff members can only be given the Owner or Viewer role."),
        ({"contact": "contact"}, R.OWNER, "Contacts and contact groups can only be given"),
        ({"group": "group"}, R.VIEWER, "Contacts and contact groups can only be given"),
        ({}, R.VIEWER, "Choose exactly one of"),
        ({"user": "staff", "contact": "contact"}, R.VIEWER, "Choose exactly one of"),
    ],
)
def test_share_rules_are_form_errors(app, client, login, admins, grantee, role_name, message):
    """Contacts only get contact roles, staff only staff roles, exactly one grantee per share."""
    login(client, admins.entities_admin)
    with app.app_context():
        role_id = f.role(role_name).id
    data = {"entity": admins.entity, "role": role_id}
    data.update({field: getattr(admins, attr) for field, attr in grantee.items()})
    before = _counts(app)
    response = _post(client, "/entityshareview/add", data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _counts(app) == before


def test_valid_and_duplicate_shares(app, client, login, admins):
    """A staff Viewer share saves; the same grantee again is refused with a clear message."""
    login(client, admins.entities_admin)
    with app.app_context():
        role_id = f.role(R.VIEWER).id
    data = {"entity": admins.entity, "role": role_id, "user": admins.staff}
    assert _post(client, "/entityshareview/add", data).status_code == 302
    again = _post(client, "/entityshareview/add", data)
    assert again.status_code == 200
    assert "already shared with them" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(EntityShare).filter_by(user_id=admins.staff).count() == 1
