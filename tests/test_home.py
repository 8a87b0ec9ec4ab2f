"""Staff home ("My work"): the counts of what the signed-in member can see."""
from app.security import roles as R
from app.services import home
from tests import factories as f


def test_counts_hold_only_the_members_clients_and_their_contacts_once(app):
    """A scoped member counts their 2 entities and the 3 contacts on them (direct, through a group, and
    one shared on both entities counted once), none of a foreign client's; an Admin counts everyone."""
    with app.app_context():
        member, admin = f.staff(R.STAFF), f.staff(R.ADMIN)
        own, viewed, foreign = f.entity("Own", responsible=member), f.entity("Viewed"), f.entity("Foreign")
        f.share(viewed, R.VIEWER, user=member)
        both, grouped = f.contact(last="Both"), f.contact(last="Grouped")
        f.share(own, R.ENTITY_ACCESS, contact=both)
        f.share(viewed, R.ENTITY_ACCESS, contact=both)
        f.share(viewed, R.ENTITY_ACCESS, group=f.group("Family", members=[grouped]))
        f.share(own, R.ENTITY_ACCESS, contact=f.contact(last="Direct"))
        f.share(foreign, R.ENTITY_ACCESS, contact=f.contact(last="Foreign"))
        mine = home.overview(member)
        everyone = home.overview(admin)
    assert (mine["entities"], mine["contacts"]) == (2, 3)
    assert (everyone["entities"], everyone["contacts"]) == (3, 4)


def test_home_page_shows_the_counts(app, client, login):
    """The page itself answers 200 with the member's contact count in it."""
    with app.app_context():
        member = f.staff(R.STAFF)
        entity = f.entity("Own", responsible=member)
        f.share(entity, R.ENTITY_ACCESS, contact=f.contact(last="Direct"))
        member = member.id
    login(client, member)
    body = client.get("/").get_data(as_text=True)
    assert 'Contacts you can reach: <a href="/contactview/list/">1</a>' in " ".join(body.split())


def test_a_client_account_sees_only_itself_among_contacts(app):
    """For a client's own account the visible contact ids are its own, whatever its entities share."""
    from app.extensions import db
    from app.security import access

    with app.app_context():
        entity = f.entity("Shared")
        client = f.contact(last="Client", with_user=True)
        f.share(entity, R.ENTITY_ACCESS, contact=client)
        f.share(entity, R.ENTITY_ACCESS, contact=f.contact(last="Partner"))
        assert db.session.scalars(access.visible_contact_ids(client.user)).all() == [client.id]
