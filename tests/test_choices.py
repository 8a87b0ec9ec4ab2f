"""Relation choices on demand: pages embed a bounded number of rows; the typeahead answers in scope."""
import re
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import Contact, Entity, Task
from app.models.entities import EntityKind
from app.security import roles as R
from app.views.base import ScopedModelView
from app.views.choices import FIRST_PAGE, PAGE_SIZE
from tests import factories as f
from tests.conftest import csrf_token

BULK = 300
# Every relation field shows its first page; no page has more than a handful of relation fields.
MAX_BULK_ROWS_PER_PAGE = 6 * FIRST_PAGE


def _bulk(n, prefix="Bulk"):
    """n entities and n contacts, each with a name that starts with `prefix`, in one commit."""
    for i in range(n):
        db.session.add(Entity(name=f"{prefix} Co {i:04d}", kind=EntityKind.company))
        person = Contact(first_name=prefix, last_name=f"Person {i:04d}", username=f"{prefix.lower()}{i}")
        person.primary_email = f"{prefix.lower()}{i}@client.example"
        db.session.add(person)
    db.session.commit()


def _staff_pages(app):
    """List, add and edit URLs of every staff ModelView (edit of its first row, when one exists)."""
    urls = []
    for view in app.appbuilder.baseviews:
        if not isinstance(view, ScopedModelView):
            continue
        base = view.route_base
        if "can_list" in view.base_permissions:
            urls.append(f"{base}/list/")
        if "can_add" in view.base_permissions:
            urls.append(f"{base}/add")
        first = db.session.query(view.datamodel.obj).first()
        if "can_edit" in view.base_permissions and first is not None:
            urls.append(f"{base}/edit/{first.id}")
    return urls + ["/taskview/new", "/taxvoucherview/import",  # custom forms with an entity field
                   "/task-batches/new"]  # chooses clients by filter or group


def _embedded_bulk_rows(body):
    """How many bulk rows a page names, as <option>s or inside the filter script's JSON."""
    return len(re.findall(r"Bulk (?:Co|Person) \d{4}", body))


@pytest.fixture()
def crowd(app):
    """An Admin, an Entities Admin, 300 entities and 300 contacts, a share, a group and a task."""
    with app.app_context():
        _bulk(BULK)
        admin = f.staff(R.ADMIN)
        entity = db.session.query(Entity).order_by(Entity.id).first()
        person = db.session.query(Contact).order_by(Contact.id).first()
        f.share(entity, R.ENTITY_ACCESS, contact=person)
        f.group("Family", members=[person])
        db.session.add(Task(entity=entity, title="Bulk task"))
        db.session.commit()
        return SimpleNamespace(admin=admin.id, pages=_staff_pages(app) + [f"/entityview/show/{entity.id}"])


def test_no_staff_page_embeds_every_related_row(app, client, login, crowd):
    """With 300 entities and contacts, no list, add or edit page embeds more than a fixed number of them."""
    login(client, crowd.admin)
    assert len(crowd.pages) > 20
    for url in crowd.pages:
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        assert _embedded_bulk_rows(body) <= MAX_BULK_ROWS_PER_PAGE, url
        assert body.count("<option") + body.count("\\u003coption") <= MAX_BULK_ROWS_PER_PAGE + 60, url


def test_an_active_relation_filter_keeps_its_row(app, client, login, crowd):
    """A filter on an entity beyond the first page still shows that entity as the selected choice."""
    with app.app_context():
        last = db.session.query(Entity).filter(Entity.name == f"Bulk Co {BULK - 1:04d}").one().id
    login(client, crowd.admin)
    body = client.get(f"/documentview/list/?_flt_0_entity={last}").get_data(as_text=True)
    assert f"Bulk Co {BULK - 1:04d}" in body
    assert _embedded_bulk_rows(body) <= FIRST_PAGE + 1


@pytest.fixture()
def desk(app):
    """A scoped staff member owning one entity (with a contact), and a foreign entity with its contact."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        own, foreign = f.entity("Own Holdings"), f.entity("Foreign Holdings")
        mine, theirs = f.contact(first="Olive", last="Own"), f.contact(first="Fred", last="Foreign")
        f.share(own, R.OWNER, user=accountant)
        f.share(own, R.ENTITY_ACCESS, contact=mine)
        f.share(foreign, R.ENTITY_ACCESS, contact=theirs)
        return SimpleNamespace(accountant=accountant.id, own=own.id, foreign=foreign.id, mine=mine.id,
                               theirs=theirs.id, access_role=f.role(R.ENTITY_ACCESS).id)


def _names(response):
    assert response.status_code == 200
    return [row["text"] for row in response.get_json()["results"]]


def test_typeahead_answers_only_rows_in_the_users_scope(app, client, login, desk):
    """Scoped staff never see a foreign entity's or contact's name, whatever they type."""
    login(client, desk.accountant)
    assert _names(client.get("/documentview/api/choices/entity?q=Holdings")) == ["Own Holdings"]
    assert _names(client.get("/documentview/api/choices/entity?q=Foreign")) == []
    assert _names(client.get("/entityshareview/api/choices/contact?form=search&q=")) == ["Olive Own"]
    assert _names(client.get("/taskview/api/choices/entity?form=new&q=Holdings")) == ["Own Holdings"]
    assert _names(client.get("/taxvoucherview/api/choices/entity?form=import&q=Holdings")) == ["Own Holdings"]
    page = client.get("/entityshareview/list/").get_data(as_text=True)
    assert "Foreign Holdings" not in page and "Fred Foreign" not in page


def test_typeahead_pages_and_matches(app, client, login):
    """Results come a page at a time, in name order, filtered by the typed text (LIKE wildcards literal)."""
    with app.app_context():
        _bulk(PAGE_SIZE + 5)
        admin = f.staff(R.ADMIN).id
    login(client, admin)
    first = client.get("/taskview/api/choices/entity?q=bulk co").get_json()
    second = client.get("/taskview/api/choices/entity?q=bulk co&page=2").get_json()
    assert len(first["results"]) == PAGE_SIZE and first["pagination"]["more"] is True
    assert [r["text"] for r in second["results"]] == [f"Bulk Co {i:04d}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert second["pagination"]["more"] is False
    assert _names(client.get("/taskview/api/choices/entity?q=%25")) == []


def test_typeahead_refuses_unknown_fields_forms_and_pages(app, client, login, desk):
    """Unknown field, form kind or page → 404; a form the user may not open → 403; anonymous → login."""
    assert "/login/" in client.get("/documentview/api/choices/entity").headers["Location"]
    login(client, desk.accountant)
    for url in ("/documentview/api/choices/nope", "/documentview/api/choices/name",
                "/documentview/api/choices/entity?form=other", "/documentview/api/choices/entity?page=0",
                "/documentview/api/choices/entity?page=x", "/nosuchview/api/choices/entity"):
        assert client.get(url).status_code == 404, url
    assert client.get("/documentview/api/choices/entity?form=add").status_code == 403
    with app.app_context():
        client_user = f.contact(with_user=True).user.id
    login(client, client_user)
    assert client.get("/documentview/api/choices/entity").status_code == 403


def test_forms_accept_only_in_scope_ids(app, client, login, desk):
    """A posted id outside the scope (or not an id) is a form error; nothing is written."""
    from app.models import EntityShare

    login(client, desk.accountant)
    token = csrf_token(client, "/entityshareview/add")
    with app.app_context():
        before = db.session.query(EntityShare).count()
    for contact_id in (desk.theirs, "x1", "99999999"):
        data = {"csrf_token": token, "entity": desk.own, "contact": contact_id, "role": desk.access_role}
        response = client.post("/entityshareview/add", data=data)
        assert response.status_code == 200 and "Not a valid choice" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(EntityShare).count() == before


def test_filters_and_form_fields_fetch_choices_as_you_type_in_chromium(app):
    """In a real browser a relation filter and a form field search the typeahead and keep the choice."""
    from tests import browser

    browser.require_chromium()
    with app.app_context():
        _bulk(30)
        f.no_second_factor_policy()  # this test is about the typeahead, not the sign-in
        f.staff(R.ADMIN, username="typeahead")
        wanted = db.session.query(Entity).filter(Entity.name == "Bulk Co 0027").one().id
    problems = []
    with browser.live_server(app) as base, browser.chromium() as chrome:
        page = browser.watch(chrome.new_page(viewport=browser.DESKTOP), problems)
        page.goto(base + "/login/")
        page.fill("#username", "typeahead")
        page.fill("#password", f.PASSWORD)
        with page.expect_navigation():
            page.press("#password", "Enter")
        page.goto(base + "/documentview/list/")
        page.click("a.accordion-toggle")
        page.click("text=Add Filter")
        page.click('a.filter[name="entity"]')
        page.click("table.filters .select2-selection--single >> nth=-1")
        page.fill(".select2-search__field", "0027")
        page.click('.select2-results__option:has-text("Bulk Co 0027")')
        with page.expect_navigation():
            page.click("#filter_form button[type=submit]")
        assert f"_flt_0_entity={wanted}" in page.url
        assert "Bulk Co 0027" in page.inner_text("table.filters")
        page.goto(base + "/entityshareview/add")
        page.click("span.select2-selection >> nth=0")
        page.fill(".select2-search__field", "0025")
        page.click('.select2-results__option:has-text("Bulk Co 0025")')
        assert page.eval_on_selector("#entity", "e => e.selectedOptions[0].text") == "Bulk Co 0025"
    assert problems == []
