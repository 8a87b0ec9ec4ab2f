"""Staff organizer screens: the template editor (Staff Admin; versions, drag and keyboard order), review beside last year's answers, mark reviewed, reopen, CSV and PDF, scope (404) and roles (403)."""
import csv
import io
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Entity, Organizer, OrganizerTemplate
from app.models.organizers import OrganizerStatus
from app.security import roles as R
from app.services import organizer_sending, organizers
from tests import factories as f
from tests.conftest import csrf_token
from tests.organizer_helpers import question, send, template


@pytest.fixture
def desk(app):
    """Alpha (Sam's) with last year's organizer answered and this year's submitted; Beta (not Sam's) with one;
    a Staff Admin, a Staff member who works on Alpha only, and an Admin."""
    with app.app_context():
        admin = f.staff(R.ADMIN)
        sam = f.staff(R.STAFF)
        boss = f.staff(R.STAFF_ADMIN)
        a, b = f.entity("Alpha Co", responsible=sam), f.entity("Beta Co", responsible=admin)
        gamma = f.entity("Gamma Co", responsible=sam)
        cora = f.portal_contact(a, R.ENTITY_COLLABORATOR, first="Cora")
        f.portal_contact(b, R.ENTITY_COLLABORATOR, first="Stan")
        f.portal_contact(gamma, R.ENTITY_COLLABORATOR, first="Gail")
        row = template(admin)
        last = send(admin, row, a, 2025)
        for key, value, version in (("wages", "5000", 0), ("dependants", "no", 0)):
            organizers.save_answer(last, question(row, key).id, cora.user, version, value)
        this = send(admin, row, a, 2026)
        organizers.save_answer(this, question(row, "wages").id, cora.user, 0, "6000")
        organizers.save_answer(this, question(row, "dependants").id, cora.user, 0, "no")
        organizers.submit(this, cora, cora.user)
        theirs = send(admin, row, b, 2026)
        return SimpleNamespace(admin=admin.id, sam=sam.id, boss=boss.id, a=a.id, b=b.id, gamma=gamma.id,
                               last=last.id, this=this.id, theirs=theirs.id, template=row.id, family=row.family_id)


def test_review_shows_last_year_and_marks_changes(app, client, login, desk):
    """Wages changed (6000 vs 5000) is marked; dependants (no, no) is not."""
    login(client, desk.sam)
    page = client.get(f"/organizers/{desk.this}").get_data(as_text=True)
    assert "6000.00" in page and "5000.00" in page
    wages_row = page.split("Wages")[1].split("</tr>")[0]
    assert "changed" in wages_row
    assert "changed" not in page.split("New dependants?")[1].split("</tr>")[0]


def test_csv_and_pdf_exports(app, client, login, desk):
    """CSV: one row per shown question with last year's answer and the change mark; PDF: a real PDF."""
    login(client, desk.sam)
    response = client.get(f"/organizers/{desk.this}/export.csv")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Section", "Question", "Answer", "Last year", "Changed"]
    assert ["Income", "Wages", "6000.00", "5000.00", "Yes"] in rows
    assert ["About you", "New dependants?", "No", "No", ""] in rows
    assert not any(r[1] == "How many?" for r in rows)  # hidden by its condition
    pdf = client.get(f"/organizers/{desk.this}/export.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_mark_reviewed_and_reopen_with_a_note(app, client, login, desk):
    """Reviewed, then reopened: the client can answer again and sees the note; the task is open again."""
    login(client, desk.sam)
    token = csrf_token(client, f"/organizers/{desk.this}")
    client.post(f"/organizers/{desk.this}/review", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Organizer, desk.this).status is OrganizerStatus.reviewed
    client.post(f"/organizers/{desk.this}/reopen", data={"csrf_token": token, "note": ""})
    with app.app_context():
        assert db.session.get(Organizer, desk.this).status is OrganizerStatus.reviewed  # a note is required
    client.post(f"/organizers/{desk.this}/reopen", data={"csrf_token": token, "note": "Add the W-2s"})
    with app.app_context():
        item = db.session.get(Organizer, desk.this)
        assert item.status is OrganizerStatus.in_progress and item.reopened_note == "Add the W-2s"
        assert item.task.client_status.name == "pending"
        told = _reopen_notices(item.task_id)
        assert {n.recipient_contact.first_name for n in told} == {"Cora"} and len(told) == 2


def test_other_entities_organizers_are_404_and_staff_admin_cannot_review(app, client, login, desk):
    """Sam sweeps organizer ids: Beta's is 404 on every route; the Staff Admin reads but gets 403 on review."""
    login(client, desk.sam)
    token = csrf_token(client, f"/organizers/{desk.this}")
    for pk in range(1, desk.theirs + 3):
        mine = pk in (desk.last, desk.this)
        for path in (f"/organizers/{pk}", f"/organizers/{pk}/export.csv", f"/organizers/{pk}/export.pdf"):
            assert client.get(path).status_code == (200 if mine else 404), path
        for path in (f"/organizers/{pk}/review", f"/organizers/{pk}/reopen"):
            status = client.post(path, data={"csrf_token": token, "note": "x"}).status_code
            assert (status == 404) == (not mine), (path, status)
    login(client, desk.boss)
    assert client.get(f"/organizers/{desk.theirs}").status_code == 200
    token = csrf_token(client, f"/organizer-templates/{desk.template}")
    assert client.post(f"/organizers/{desk.theirs}/review", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/organizers/{desk.theirs}/reopen", data={"csrf_token": token, "note": "x"}).status_code == 403
    with app.app_context():
        assert _reopen_notices(db.session.get(Organizer, desk.theirs).task_id) == []
    assert client.get(f"/organizers/send/{desk.template}").status_code == 403


def test_only_the_staff_admin_edits_templates_and_a_sent_one_gets_a_new_version(app, client, login, desk):
    """Staff get 403 on the editor; the Staff Admin's edit of the sent version makes version 2."""
    login(client, desk.sam)
    assert client.get(f"/organizer-templates/{desk.template}").status_code == 403
    assert client.post(f"/organizer-templates/{desk.template}/change", data={"op": "add_section"}).status_code in (400, 403)
    login(client, desk.boss)
    path = f"/organizer-templates/{desk.template}"
    token = csrf_token(client, path)
    answer = client.post(f"{path}/change", data={"csrf_token": token, "op": "add_section", "title": "Crypto"})
    with app.app_context():
        newest = db.session.scalar(select(OrganizerTemplate).where(OrganizerTemplate.is_current.is_(True)))
        assert newest.version == 2 and [s.title for s in newest.sections][-1] == "Crypto"
        assert db.session.get(Organizer, desk.this).template_id == desk.template
    assert answer.headers["Location"].endswith(f"/organizer-templates/{newest.id}")


def test_drag_and_keyboard_reorder(app, client, login, desk):
    """The drag order (JSON) and the up/down buttons both reorder; a broken condition order is a clear 400."""
    with app.app_context():
        fresh = template(_user(desk.boss), "Fresh organizer")
        fresh_id, about, income = fresh.id, fresh.sections[0], fresh.sections[1]
        about_ids, income_ids = [q.id for q in about.questions], [q.id for q in income.questions]
        about_id, income_id = about.id, income.id
    login(client, desk.boss)
    path = f"/organizer-templates/{fresh_id}"
    token = csrf_token(client, path)
    json = {"Accept": "application/json"}
    ok = client.post(f"{path}/change", headers=json, data={"csrf_token": token, "op": "reorder", "section_id": income_id,
                                                           "order": ",".join(map(str, reversed(income_ids)))})
    assert ok.status_code == 200 and ok.get_json()["url"].endswith(path)
    bad = client.post(f"{path}/change", headers=json, data={"csrf_token": token, "op": "reorder", "section_id": about_id,
                                                            "order": ",".join(map(str, reversed(about_ids)))})
    assert bad.status_code == 400 and "depends on" in bad.get_json()["error"]
    client.post(f"{path}/change", data={"csrf_token": token, "op": "move", "what": "section", "item_id": income_id,
                                        "delta": "-1"})
    with app.app_context():
        row = db.session.get(OrganizerTemplate, fresh_id)
        assert [s.title for s in row.sections] == ["Income", "About you"]
        assert [q.key for q in row.sections[0].questions] == ["w2", "wages"]


def test_lists_run_a_fixed_number_of_queries(app, client, login, count_queries, desk):
    """The status list and the review page: the same statements for 3 or 23 organizers / answers."""
    login(client, desk.admin)
    counts = []
    for more in (0, 20):
        with app.app_context():
            row = db.session.get(OrganizerTemplate, desk.template)
            for n in range(more):
                entity = f.entity(f"Extra {n}")
                f.portal_contact(entity, R.ENTITY_ACCESS)
                organizer_sending.send(_user(desk.admin), row, [entity], 2026)
        client.get(f"/organizers/family/{desk.family}")
        with count_queries() as queries:
            assert client.get(f"/organizers/family/{desk.family}").status_code == 200
            assert client.get(f"/organizers/{desk.this}").status_code == 200
            assert client.get("/organizers/").status_code == 200
        counts.append(queries())
    assert counts[0] == counts[1], counts
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organizer)) == 23


def _reopen_notices(task_id):
    from app.models import Notification

    return db.session.query(Notification).filter_by(event="organizer_reopened", object_id=task_id).all()


def _user(user_id):
    from flask_appbuilder.security.sqla.models import User
    return db.session.get(User, user_id)


def test_staff_admin_lists_and_creates_templates(app, client, login, desk):
    """The list shows each template with its organizer count; a new template opens in the editor; no name is refused."""
    login(client, desk.boss)
    page = client.get("/organizer-templates/").get_data(as_text=True)
    assert "Individual tax organizer" in page
    token = csrf_token(client, "/organizer-templates/")
    assert client.post("/organizer-templates/new", data={"csrf_token": token, "name": " "}).status_code == 302
    made = client.post("/organizer-templates/new", data={"csrf_token": token, "name": "Business organizer",
                                                          "language": "et"})
    with app.app_context():
        row = db.session.scalar(select(OrganizerTemplate).where(OrganizerTemplate.name == "Business organizer"))
        assert row.language == "et" and row.family_id == row.id
        assert db.session.scalar(select(func.count()).select_from(OrganizerTemplate)) == 2
    assert made.headers["Location"].endswith(f"/organizer-templates/{row.id}")
    assert "Business organizer" in client.get(made.headers["Location"]).get_data(as_text=True)


def test_staff_admin_builds_templates_and_reviews_only_with_a_staff_role(app, client, login, desk):
    """DESIGN.md §3: a Staff Admin runs people, not client work. Alone: no Send or Review buttons and 403 on
    send, review and reopen. With Staff too and a Viewer share on Alpha: reviews Alpha's organizer, while
    Beta's (seen through the Staff Admin's global view) is 403 — the access module decides both."""
    login(client, desk.boss)
    assert "Send to clients" not in client.get("/organizers/").get_data(as_text=True)
    assert "Send to clients" not in client.get(f"/organizer-templates/{desk.template}").get_data(as_text=True)
    page = client.get(f"/organizers/{desk.this}").get_data(as_text=True)
    assert f"/organizers/{desk.this}/review" not in page and f"/organizers/{desk.this}/reopen" not in page
    token = csrf_token(client, f"/organizer-templates/{desk.template}")
    assert client.post(f"/organizers/{desk.this}/reopen", data={"csrf_token": token, "note": "x"}).status_code == 403
    with app.app_context():
        both = f.staff(R.STAFF_ADMIN)
        both.roles.append(f.role(R.STAFF))
        f.share(db.session.get(Entity, desk.a), R.VIEWER, user=both)
        both_id = both.id
    login(client, both_id)
    assert "Send to clients" in client.get("/organizers/").get_data(as_text=True)
    page = client.get(f"/organizers/{desk.this}").get_data(as_text=True)
    assert f"/organizers/{desk.this}/review" in page
    token = csrf_token(client, f"/organizers/{desk.this}")
    assert client.post(f"/organizers/{desk.this}/review", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/organizers/{desk.theirs}/review", data={"csrf_token": token}).status_code == 403
    with app.app_context():
        assert db.session.get(Organizer, desk.this).status is OrganizerStatus.reviewed
        assert db.session.get(Organizer, desk.theirs).status is OrganizerStatus.not_started


def test_the_access_module_decides_who_sends_and_reviews(app, desk):
    """may_send_organizers / may_review_organizer: Staff and Admin yes, a Staff Admin no, Staff only where they work."""
    from app.security import access

    with app.app_context():
        users = {name: _user(getattr(desk, name)) for name in ("admin", "sam", "boss")}
        this, theirs = db.session.get(Organizer, desk.this), db.session.get(Organizer, desk.theirs)
        assert {n: access.may_send_organizers(u) for n, u in users.items()} == {"admin": True, "sam": True,
                                                                              "boss": False}
        assert {n: (access.may_review_organizer(u, this), access.may_review_organizer(u, theirs))
                for n, u in users.items()} == {"admin": (True, True), "sam": (True, False), "boss": (False, False)}
