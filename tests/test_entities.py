"""Entity screens: list search/filters, the show page, and a fixed number of queries per page."""
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import Entity
from app.models.entities import EntityKind
from app.security import roles as R
from tests import factories as f


def _make_entities(app, n, accountant_id):
    with app.app_context():
        accountant = app.appbuilder.sm.get_user_by_id(accountant_id)
        others = [f.staff(R.STAFF) for _ in range(3)]
        kinds = list(EntityKind)
        for i in range(n):
            entity = Entity(name=f"Client {i:04d}", kind=kinds[i % len(kinds)], tax_id=f"12-{i:07d}",
                            responsible=others[i % 3])
            db.session.add(entity)
            db.session.flush()
            f.share(entity, R.OWNER, user=accountant)
        db.session.commit()


@pytest.fixture
def accountant(app):
    """A Staff member (entities are shared with them as Owner by _make_entities)."""
    with app.app_context():
        return f.staff(R.STAFF).id


def _list_queries(client, count_queries, path="/entityview/list/"):
    client.get(path)  # warm caches that are per-process, not per-row
    with count_queries() as n:
        response = client.get(path)
    assert response.status_code == 200
    return n()


def test_entity_list_query_count_does_not_grow_with_rows(app, client, login, count_queries, accountant):
    """The Entities list runs the same number of SQL queries with 10 and with 500 entities."""
    login(client, accountant)
    _make_entities(app, 10, accountant)
    small = _list_queries(client, count_queries)
    _make_entities(app, 490, accountant)
    large = _list_queries(client, count_queries)
    assert small == large, (small, large)
    assert small <= 15  # user, roles, permissions (one query), scope, count, page, choices


@pytest.mark.parametrize("path", ["/contactview/list/", "/entityshareview/list/", "/contactgroupview/list/",
                                  "/activityeventview/list/"])
def test_other_lists_have_a_fixed_query_count(app, client, login, count_queries, path):
    """Contacts, shares, groups and activity lists do not run a query per row either."""
    with app.app_context():
        admin = f.staff(R.ADMIN).id
        entity = f.entity("Q Co")
        for _ in range(3):
            f.share(entity, R.ENTITY_ACCESS, contact=f.contact())
        f.group(members=[f.contact() for _ in range(3)])
    login(client, admin)
    small = _list_queries(client, count_queries, path)
    with app.app_context():
        entity = db.session.query(Entity).filter_by(name="Q Co").one()
        for _ in range(30):
            f.share(entity, R.ENTITY_COLLABORATOR, contact=f.contact())
            f.group(members=[f.contact() for _ in range(2)])
    large = _list_queries(client, count_queries, path)
    assert small == large, (small, large)


def test_entity_list_masks_tax_ids_and_filters_by_kind(app, client, login):
    """Lists show only the last four tax-id digits; the kind filter narrows the list."""
    with app.app_context():
        admin = f.staff(R.ENTITIES_ADMIN).id
        f.entity("Alpha Partners", kind=EntityKind.partnership, tax_id="81-3345120")
        f.entity("Beta Trust", kind=EntityKind.trust, tax_id="86-6120394")
    login(client, admin)
    page = client.get("/entityview/list/").get_data(as_text=True)
    assert "81-3345120" not in page and "5120" in page
    filtered = client.get("/entityview/list/?_flt_0_kind=trust").get_data(as_text=True)
    assert "Beta Trust" in filtered and "Alpha Partners" not in filtered


def test_entity_show_page_lists_contacts_shares_and_activity(app, client, login):
    """The show page names the contacts with access (direct and via group), with their role."""
    with app.app_context():
        admin = f.staff(R.ENTITIES_ADMIN).id
        entity = f.entity("Gamma LLC")
        f.share(entity, R.ENTITY_COLLABORATOR, contact=f.contact(first="Direct", last="Person"))
        f.share(entity, R.ENTITY_ACCESS, group=f.group(members=[f.contact(first="Grouped", last="Person")]))
        ids = SimpleNamespace(admin=admin, entity=entity.id)
    login(client, ids.admin)
    page = client.get(f"/entityview/show/{ids.entity}").get_data(as_text=True)
    assert "Direct Person" in page and "Grouped Person" in page
    assert "Entity Collaborator" in page and "Entity Access" in page
    assert "Shares" in page and "Activity" in page


def test_share_grant_and_revocation_are_recorded_as_activity(app, client, login):
    """Granting and revoking a share adds ActivityEvents with actor, entity and address."""
    from app.models import ActivityEvent, EntityShare
    from tests.conftest import csrf_token

    with app.app_context():
        admin = f.staff(R.ENTITIES_ADMIN)
        entity, person = f.entity("Delta LLC"), f.contact(first="Dana", last="Delta")
        ids = SimpleNamespace(admin=admin.id, entity=entity.id, contact=person.id,
                              role=f.role(R.ENTITY_ACCESS).id)
    login(client, ids.admin)
    token = csrf_token(client, "/entityshareview/add")
    data = {"csrf_token": token, "entity": ids.entity, "contact": ids.contact, "role": ids.role}
    assert client.post("/entityshareview/add", data=data).status_code == 302
    with app.app_context():
        share_id = db.session.query(EntityShare).filter_by(contact_id=ids.contact).one().id
    assert client.post(f"/entityshareview/delete/{share_id}", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        events = db.session.query(ActivityEvent).order_by(ActivityEvent.id).all()
        assert [e.verb for e in events] == ["share.granted", "share.revoked"]
        assert all(e.actor_id == ids.admin and e.entity_id == ids.entity and e.ip == "127.0.0.1" for e in events)
        assert "Dana Delta" in events[0].summary
    page = client.get("/activityeventview/list/").get_data(as_text=True)
    assert "Access granted" in page and "Access revoked" in page
