"""The client page (the entity's staff page): every section, its limits and "see all" links, the actions
prefilled with the entity, a fixed number of queries whatever the rows, and scope (404 outside it)."""
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import (ActivityEvent, ClientRequest, Document, EntityShare, K1Recipient, Message, MessageKind, Task,
                        TaxVoucher)
from app.models.tasks import StaffStatus
from app.security import roles as R
from app.services import entities as entity_service
from tests import factories as f
from tests.conftest import csrf_token


def _fill(entity, staff, n):
    """n rows of every kind the page shows on `entity`."""
    today = date.today()
    contact = f.contact(first="Olivia", last=f"Birch{n}")
    f.share(entity, R.ENTITY_COLLABORATOR, contact=contact)
    f.share(entity, R.ENTITY_ACCESS, group=f.group(members=[f.contact(first="Member", last=f"{n}-{i:02d}")
                                                             for i in range(n)]))
    for i in range(n):
        late = Task(entity=entity, title=f"Late {i}", deadline=today - timedelta(days=i + 1))
        soon = Task(entity=entity, title=f"Soon {i}", deadline=today + timedelta(days=i + 1))
        done = Task(entity=entity, title=f"Done {i}", staff_status=StaffStatus.done, staff_done_on=datetime.now())
        request = ClientRequest(entity=entity, contact=contact, subject=f"Question {i}", body="?")
        db.session.add_all([late, soon, done, request])
        db.session.flush()
        db.session.add_all([
            Message(task_id=late.id, kind=MessageKind.portal, body=f"task msg {i}", author_contact_id=contact.id),
            Message(request_id=request.id, kind=MessageKind.internal, body=f"req msg {i}", author_user_id=staff.id),
            Document(entity=entity, name=f"doc{i}.pdf", file_type="pdf", mime="application/pdf", size=1, sha256="0" * 64),
            TaxVoucher(entity=entity, tax_year=2026, authority="IRS", form_period=f"Q{i}", amount=Decimal("10.00"),
                       due_date=today + timedelta(days=i)),
            K1Recipient(entity=entity, name=f"Partner {i}", email=f"p{i}@x.example"),
            ActivityEvent(entity_id=entity.id, verb="entity.updated", summary=f"event {i}"),
        ])
    db.session.commit()


@pytest.fixture
def firm(app):
    """A scoped accountant (Owner of one entity, Viewer of another), an Admin, and a foreign entity."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        admin = f.staff(R.ADMIN)
        own = f.entity("Birch & Oak LLC", responsible=accountant)
        viewed = f.entity("Viewed Co")
        f.share(viewed, R.VIEWER, user=accountant)
        foreign = f.entity("Foreign Ltd")
        return SimpleNamespace(accountant=accountant.id, admin=admin.id, own=own.id, viewed=viewed.id,
                               foreign=foreign.id, staff_admin=f.staff(R.STAFF_ADMIN).id)


def test_the_page_shows_every_section(app, client, login, firm):
    """Contacts with role and portal state, staff, dates, tasks by state, requests, documents, messages
    across threads, payments, partners and activity are on the page."""
    with app.app_context():
        from app.models import Entity

        _fill(db.session.get(Entity, firm.own), _user(firm.accountant), 2)
    login(client, firm.accountant)
    page = client.get(f"/entityview/show/{firm.own}").get_data(as_text=True)
    for text in ("Birch &amp; Oak LLC", "Olivia Birch2", "Entity Collaborator", "Not invited", "Late 0", "Soon 1",
                 "Done 0", "Question 1", "doc1.pdf", "task msg 1", "req msg 0", "IRS Q1", "Partner 0", "event 1",
                 "Next deadline", "Client since"):
        assert text in page, text


def _user(user_id):
    from flask_appbuilder.security.sqla.models import User

    return db.session.get(User, user_id)


def test_sections_stop_at_ten_with_a_see_all_link(app, client, login, firm):
    """With 12 rows of each kind a section shows 10 and links to the list filtered on the entity."""
    with app.app_context():
        from app.models import Entity

        _fill(db.session.get(Entity, firm.own), _user(firm.accountant), 12)
    login(client, firm.accountant)
    page = client.get(f"/entityview/show/{firm.own}").get_data(as_text=True)
    assert ">Late 11<" in page and ">Late 1<" not in page  # overdue: the oldest deadlines first
    assert ">Partner 11<" in page and ">Partner 9<" not in page  # by name: 0, 1, 10, 11, 2 … 7
    assert "Member 12-11" in page and "Olivia Birch12" in page  # 13 contacts: all of them


def test_contacts_stop_at_twenty(app, client, login, firm):
    """A group of 30 members sharing the entity shows 20 contacts and a "See all" link to its shares."""
    with app.app_context():
        from app.models import Entity

        _fill(db.session.get(Entity, firm.own), _user(firm.accountant), 30)
    login(client, firm.accountant)
    page = client.get(f"/entityview/show/{firm.own}").get_data(as_text=True)
    assert "Member 30-19" in page and "Member 30-20" not in page
    assert f'href="/entityshareview/list/?_flt_0_entity={firm.own}">See all' in page
    for link in (f"/taskview/list/?_flt_0_entity={firm.own}", f"/clientrequestview/list/?_flt_0_entity={firm.own}",
                 f"/taxvoucherview/list/?_flt_0_entity={firm.own}", f"/k1recipientview/list/?_flt_0_entity={firm.own}",
                 f"/activityeventview/list/?_flt_0_entity={firm.own}"):
        assert link in page, link
        listed = client.get(link)
        assert listed.status_code == 200, link
    tasks = client.get(f"/taskview/list/?_flt_0_entity={firm.own}").get_data(as_text=True)
    assert len(re.findall(r">(?:Late|Soon|Done) [0-9]+<", tasks)) == 25  # a full page of this client's 36 tasks


def test_workspace_runs_a_fixed_number_of_queries(app, firm):
    """workspace() runs the same number of statements with 2 or 30 rows of every kind."""
    from sqlalchemy import event

    from app.models import Entity

    counts = []
    with app.test_request_context():
        user = _user(firm.accountant)
        for entity_id, n in ((firm.own, 2), (firm.viewed, 30)):
            _fill(db.session.get(Entity, entity_id), user, n)
        entity_service.workspace(firm.own, user)  # warm-up: role grants are cached across requests
        for entity_id in (firm.own, firm.viewed):
            db.session.expire_all()
            assert user.active  # reloaded outside the count (the page's request has its user loaded)
            statements = []
            listener = lambda *args: statements.append(args[2])  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            page = entity_service.workspace(entity_id, user)
            event.remove(db.engine, "before_cursor_execute", listener)
            assert page is not None
            counts.append(len(statements))
    assert counts[0] == counts[1], statements


def test_the_page_answers_with_the_same_statements_at_any_size(app, client, login, firm, count_queries):
    """The whole page (sign-in check, layout, sections) runs the same number of statements at 2 and 30 rows."""
    with app.app_context():
        from app.models import Entity

        _fill(db.session.get(Entity, firm.own), _user(firm.accountant), 2)
        _fill(db.session.get(Entity, firm.viewed), _user(firm.accountant), 30)
    login(client, firm.admin)
    client.get(f"/entityview/show/{firm.own}")  # warm-up (role grants, settings)
    counts = []
    for entity_id in (firm.own, firm.viewed):
        with count_queries() as statements:
            assert client.get(f"/entityview/show/{entity_id}").status_code == 200
        counts.append(statements())
    assert counts[0] == counts[1]


def test_scoped_staff_get_404_outside_their_scope(app, client, login, firm):
    """A scoped accountant sees their entities' pages; a foreign or unknown entity is 404, like a bad id."""
    login(client, firm.accountant)
    assert client.get(f"/entityview/show/{firm.own}").status_code == 200
    assert client.get(f"/entityview/show/{firm.viewed}").status_code == 200
    assert client.get(f"/entityview/show/{firm.foreign}").status_code == 404
    assert client.get("/entityview/show/999999").status_code == 404
    assert client.get("/entityview/show/abc").status_code == 404
    with app.app_context():
        assert entity_service.workspace(firm.foreign, _user(firm.accountant)) is None


def test_actions_follow_the_rights(app, client, login, firm):
    """An Owner gets new task, file request, share and edit; a Viewer no share or edit; a Staff Admin
    (read only) none of the work actions but the invitation."""
    login(client, firm.accountant)
    own = client.get(f"/entityview/show/{firm.own}").get_data(as_text=True)
    assert f"/taskview/new?entity={firm.own}" in own and f"/file-requests/new?entity={firm.own}" in own
    assert f'href="/shares/{firm.own}"' in own and f"/entityview/edit/{firm.own}" in own
    viewed = client.get(f"/entityview/show/{firm.viewed}").get_data(as_text=True)
    assert f"/taskview/new?entity={firm.viewed}" in viewed
    assert "/shares/" not in viewed and f"/entityview/edit/{firm.viewed}" not in viewed
    with app.app_context():
        from app.models import Entity

        f.share(db.session.get(Entity, firm.own), R.ENTITY_ACCESS, contact=f.contact(first="Mark", last="Oak"))
    login(client, firm.staff_admin)
    page = client.get(f"/entityview/show/{firm.own}").get_data(as_text=True)
    assert "/taskview/new" not in page and "/portal/invite" in page


def test_new_task_form_is_prefilled_with_the_entity_in_scope_only(app, client, login, firm):
    """?entity= preselects the entity on the new-task form; a foreign one is not offered."""
    login(client, firm.accountant)
    page = client.get(f"/taskview/new?entity={firm.own}").get_data(as_text=True)
    assert f'value="{firm.own}" selected' in page
    foreign = client.get(f"/taskview/new?entity={firm.foreign}").get_data(as_text=True)
    assert "Foreign Ltd" not in foreign


def test_share_from_the_page_lands_on_the_entity(app, client, login, firm):
    """The share form fixed on an entity (?_flt_0_entity=) shares that entity, never a foreign one."""
    with app.app_context():
        from app.models import Entity

        contact = f.contact(first="New", last="Partner")
        f.share(db.session.get(Entity, firm.viewed), R.ENTITY_ACCESS, contact=contact)  # a contact in scope
        contact_id = contact.id
    login(client, firm.accountant)
    url = f"/entityshareview/add?_flt_0_entity={firm.own}"
    assert client.get(url).status_code == 200
    with app.app_context():
        role_id = f.role(R.ENTITY_ACCESS).id
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "contact": str(contact_id),
                                      "role": str(role_id)})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        share = db.session.scalar(db.select(EntityShare).where(EntityShare.contact_id == contact_id,
                                                               EntityShare.entity_id != firm.viewed))
        assert share is not None and share.entity_id == firm.own
    foreign = f"/entityshareview/add?_flt_0_entity={firm.foreign}"
    client.post(foreign, data={"csrf_token": csrf_token(client, url), "contact": str(contact_id),
                               "role": str(role_id)})
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(EntityShare.id)).where(
            EntityShare.entity_id == firm.foreign)) == 0


def test_latest_messages_are_the_newest_ten_across_every_thread(app, firm):
    """Messages in three task threads and two request threads (one thread holding the 12 newest): the section
    holds the newest 10 across them, newest first, says there are more, and never another client's."""
    with app.app_context():
        from app.models import Entity

        entity, foreign = db.session.get(Entity, firm.own), db.session.get(Entity, firm.foreign)
        contact = f.contact(last="Writer")
        threads = [Task(entity=entity, title=f"T{i}") for i in range(3)] + [Task(entity=foreign, title="Other")]
        requests = [ClientRequest(entity=entity, contact=contact, subject=f"R{i}", body="?") for i in range(2)]
        db.session.add_all(threads + requests)
        db.session.flush()
        start = datetime(2026, 1, 1)
        for minute in range(30):
            parent = (threads + requests)[minute % 6] if minute < 18 else threads[1]
            key = {"request_id": parent.id} if isinstance(parent, ClientRequest) else {"task_id": parent.id}
            message = Message(kind=MessageKind.internal, body=f"m{minute}", author_user_id=firm.accountant,
                              created_on=start + timedelta(minutes=minute), **key)
            db.session.add(message)
        db.session.commit()
        rows, more = entity_service.workspace(firm.own, _user(firm.accountant))["messages"]
        assert [m.body for m in rows] == [f"m{minute}" for minute in range(29, 19, -1)] and more
        db.session.query(Message).filter(Message.task_id == threads[1].id, Message.body.in_(
            [f"m{minute}" for minute in range(18, 30)])).delete(synchronize_session=False)
        db.session.commit()
        rows, _more = entity_service.workspace(firm.own, _user(firm.accountant))["messages"]
        assert [m.body for m in rows] == [f"m{minute}" for minute in range(17, 5, -1) if minute % 6 != 3][:10]


@pytest.mark.parametrize("written, more", [(10, False), (11, True), (15, True)])
def test_latest_messages_say_there_are_more_from_task_threads_alone(app, firm, written, more):
    """With every message in task threads (none in requests), ten show and "more" is said from the eleventh."""
    with app.app_context():
        from app.models import Entity

        task = Task(entity=db.session.get(Entity, firm.own), title="Only thread")
        db.session.add(task)
        db.session.flush()
        db.session.add_all([Message(task_id=task.id, kind=MessageKind.internal, body=f"m{i}",
                                    author_user_id=firm.accountant, created_on=datetime(2026, 1, 1)) for i in range(written)])
        db.session.commit()
        rows, said = entity_service.workspace(firm.own, _user(firm.accountant))["messages"]
        assert len(rows) == min(written, 10) and said is more
        assert [m.id for m in rows] == sorted((m.id for m in rows), reverse=True)  # same time: newest id first
