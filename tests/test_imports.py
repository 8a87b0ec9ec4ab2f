"""Client import: template, dry run with errors by line, all-or-nothing import by a real worker,
re-import by external id, XLSX, progress, and who may use it."""
import io
import json

import pytest
from openpyxl import Workbook, load_workbook
from rq import SimpleWorker

from app.extensions import db
from app.jobs import queue
from app.models import ActivityEvent, Contact, Entity, EntityShare, ImportRun, ImportState
from app.redis_conn import get_redis
from app.security import roles as R
from app.services import imports
from tests import factories as f
from tests.conftest import csrf_token

HEADER = "entity_id,entity_name,entity_kind,tax_id,responsible,contact_id,first_name,last_name,email,phone,language,role\n"
GOOD = HEADER + (
    "C-1,Birch & Oak LLC,company,12-3456789,,P-1,Olivia,Birch,olivia@birch.example,+1 555 0100,en,Entity Collaborator\n"
    "C-1,,,,,P-2,Mark,Oak,mark@birch.example,,,Entity Access\n"
    "C-2,Olivia Birch,individual,,,P-1,,,,,,collaborator\n"
    "C-3,Lone Client OÜ,company,,,,,,,,,\n")


@pytest.fixture
def importer(app):
    """An Entities Admin who may import, and a Staff member who may not."""
    with app.app_context():
        return f.staff(R.ENTITIES_ADMIN).id, f.staff(R.STAFF).id


def _preview(client, body, name="clients.csv"):
    token = csrf_token(client, "/imports/")
    data = body.encode("utf-8") if isinstance(body, str) else body
    response = client.post("/imports/preview", data={"csrf_token": token, "file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def _start(client, location):
    token = csrf_token(client, "/imports/")
    return client.post(location + "/run", data={"csrf_token": token})


def _work(app):
    with app.app_context():
        SimpleWorker([queue()], connection=get_redis()).work(burst=True)


def _counts(app):
    with app.app_context():
        return (db.session.query(Entity).count(), db.session.query(Contact).count(),
                db.session.query(EntityShare).count())


def test_the_template_files_preview_without_errors(app, client, login, importer):
    """Both templates download as attachments and check cleanly as they are."""
    login(client, importer[0])
    csv_file = client.get("/imports/template.csv")
    xlsx_file = client.get("/imports/template.xlsx")
    assert csv_file.status_code == 200 and "attachment" in csv_file.headers["Content-Disposition"]
    assert load_workbook(io.BytesIO(xlsx_file.data)).worksheets[0]["A1"].value == "entity_id"
    for body, name in ((csv_file.data, "t.csv"), (xlsx_file.data, "t.xlsx")):
        page = client.get(_preview(client, body, name)).get_data(as_text=True)
        assert "import-errors" not in page and 'action="/imports/' in page
    assert client.get("/imports/template.exe").status_code == 404


def test_a_preview_writes_nothing_but_says_what_would_change(app, client, login, importer):
    """The dry run keeps only the import record; the page counts new clients, contacts and roles."""
    login(client, importer[0])
    before = _counts(app)
    page = client.get(_preview(client, GOOD)).get_data(as_text=True)
    assert _counts(app) == before
    with app.app_context():
        run = db.session.query(ImportRun).one()
        summary = json.loads(run.summary)
        assert run.state is ImportState.previewed and json.loads(run.errors) == []
    assert (summary["entities_new"], summary["contacts_new"], summary["shares_new"]) == (3, 2, 3)
    assert "Birch &amp; Oak LLC" in page


def test_the_import_runs_in_a_worker_and_a_second_run_changes_nothing(app, client, login, importer):
    """Go-ahead → a real worker creates everything in one go; the same file again is all "unchanged"."""
    login(client, importer[0])
    location = _preview(client, GOOD)
    assert _start(client, location).status_code == 302
    _work(app)
    assert _counts(app) == (3, 2, 3)
    with app.app_context():
        birch = db.session.query(Entity).filter_by(external_id="C-1").one()
        olivia = db.session.query(Contact).filter_by(external_id="P-1").one()
        assert birch.kind.name == "company" and olivia.primary_email == "olivia@birch.example"
        assert {s.entity.external_id for s in olivia.shares} == {"C-1", "C-2"}
        assert db.session.query(ActivityEvent).filter_by(verb="import.done").count() == 1
        assert get_redis().get(imports.progress_key(db.session.query(ImportRun).one().id)) == b"8:8"
    assert "Done" in client.get(location).get_data(as_text=True)
    again = client.get(_preview(client, GOOD)).get_data(as_text=True)
    assert 'id="import-summary"' in again and again.count("<td>0</td>") == 6
    changed = GOOD.replace("Birch & Oak LLC", "Birch & Oak Holdings LLC").replace("+1 555 0100", "+1 555 0199")
    _start(client, _preview(client, changed))
    _work(app)
    assert _counts(app) == (3, 2, 3)
    with app.app_context():
        assert db.session.query(Entity).filter_by(external_id="C-1").one().name == "Birch & Oak Holdings LLC"
        assert db.session.query(Contact).filter_by(external_id="P-1").one().phone == "+1 555 0199"


@pytest.mark.parametrize("rows, message", [
    ("C-1,X,company,,,P-1,Ann,Lee,not-an-address,,,\n", "line 2: email:"),
    ("C-1,X,spaceship,,,,,,,,,\n", "line 2: entity_kind: one of"),
    ("C-1,X,company,,nobody,,,,,,,\n", "line 2: responsible: no staff member"),
    ("C-1,X,company,,,P-1,Ann,Lee,ann@x.example,,xx,\n", "line 2: language:"),
    ("C-1,X,company,,,P-1,Ann,Lee,ann@x.example,,,owner\n", "line 2: role:"),
    ("C-1,X,,,,,,,,,,\nC-1,Y,,,,,,,,,,\n", "line 3: entity_name differs from line 2"),
    ("C 1,X,,,,,,,,,,\n", "line 2: entity_id:"),
    ("C-1,X,,,,P-9,Ann,,,,,\n", "line 2: a new contact needs last_name, email"),
    ("C-1,X,,,,\n", "line 2: expected 12 values, found 6."),
])
def test_bad_rows_are_named_by_line_and_nothing_can_be_imported(app, client, login, importer, rows, message):
    """Every problem names its line; the preview offers no Import button and a forced start is refused."""
    login(client, importer[0])
    location = _preview(client, HEADER + rows)
    page = client.get(location).get_data(as_text=True)
    assert message in page and 'action="' + location + '/run"' not in page
    _start(client, location)
    _work(app)
    assert _counts(app) == (0, 0, 0)


def test_an_address_of_another_contact_is_refused_and_a_hand_made_contact_is_adopted(app, client, login, importer):
    """An e-mail already used by a contact with another external id is an error; one without an id is matched."""
    with app.app_context():
        taken = f.contact(first="Tom", email="tom@x.example")
        taken.external_id = "P-77"
        f.contact(first="Olivia", email="olivia@birch.example")
        db.session.commit()
    login(client, importer[0])
    page = client.get(_preview(client, HEADER + "C-1,X,,,,P-1,Tom,Lee,tom@x.example,,,\n")).get_data(as_text=True)
    assert "line 2: email: tom@x.example belongs to another contact." in page
    _start(client, _preview(client, GOOD))
    _work(app)
    with app.app_context():
        assert db.session.query(Contact).count() == 3  # Olivia was adopted, Mark is new
        assert db.session.query(Contact).filter_by(external_id="P-1").one().first_name == "Olivia"


def test_a_file_that_went_bad_after_the_preview_saves_nothing(app, client, login, importer):
    """All or nothing: a conflict that appears between preview and import fails the whole import."""
    login(client, importer[0])
    location = _preview(client, GOOD)
    with app.app_context():
        other = f.contact(first="Mark", email="mark@birch.example")
        other.external_id = "P-OTHER"
        db.session.commit()
    _start(client, location)
    _work(app)
    assert _counts(app) == (0, 1, 0)
    page = client.get(location).get_data(as_text=True)
    assert "Nothing was imported" in page and "mark@birch.example belongs to another contact" in page


def test_an_xlsx_workbook_imports_like_a_csv(app, client, login, importer):
    """The first sheet of a workbook, numbers and padding cells included, reads like the CSV."""
    book = Workbook()
    sheet = book.active
    for line in GOOD.splitlines():
        sheet.append([cell or None for cell in line.split(",")])
    sheet["D2"] = 123456789  # a number cell (a tax id typed as a number)
    sheet["N1"] = None
    out = io.BytesIO()
    book.save(out)
    login(client, importer[0])
    _start(client, _preview(client, out.getvalue(), "clients.xlsx"))
    _work(app)
    with app.app_context():
        assert db.session.query(Entity).filter_by(external_id="C-1").one().tax_id == "123456789"
    assert _counts(app) == (3, 2, 3)


def test_preview_statements_do_not_grow_with_the_rows(app, client, login, importer, count_queries):
    """Checking 10 or 300 rows runs the same number of SQL statements."""
    def body(n):
        return HEADER + "".join(f"C-{i},Client {i},company,,,P-{i},Ann,Lee{i},a{i}@x.example,,,\n" for i in range(n))

    login(client, importer[0])
    _preview(client, body(2))  # warm-up
    counts = []
    for n in (10, 300):
        token = csrf_token(client, "/imports/")
        with count_queries() as statements:
            client.post("/imports/preview", data={"csrf_token": token, "file": (io.BytesIO(body(n).encode()), "c.csv")},
                        content_type="multipart/form-data")
        counts.append(statements())
    assert counts[0] == counts[1]


def test_only_importers_reach_imports_and_only_their_own(app, client, login, importer):
    """Staff without the permission get 403, anonymous visitors the login, another importer's run is 404."""
    assert client.get("/imports/").status_code == 302
    login(client, importer[0])
    location = _preview(client, GOOD)
    with app.app_context():
        second = f.staff(R.ADMIN).id
    login(client, second)
    assert client.get(location).status_code == 404
    assert client.get(location + "/status").status_code == 404
    login(client, importer[1])
    assert client.get("/imports/").status_code == 403
    assert client.get("/imports/template.csv").status_code == 403


def test_a_second_job_for_the_same_import_does_nothing(app, client, login, importer):
    """rq may run a job twice: the import is claimed once, the second run is skipped."""
    from app.jobs import enqueue_import

    login(client, importer[0])
    location = _preview(client, GOOD)
    _start(client, location)
    with app.app_context():
        enqueue_import(int(location.rsplit("/", 1)[1]))
        job_ids = queue().job_ids
    _work(app)
    assert _counts(app) == (3, 2, 3)
    with app.app_context():
        assert [queue().fetch_job(job_id).return_value() for job_id in job_ids] == ["done", "skipped"]
