"""Portal organizer pages: autosave (versions, 409 on a stale save), conditions, required answers,
"same as last year", file questions and upload limits, submit, scope (404 swept) and query counts."""
import io
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Contact, Document, Organizer, OrganizerAnswer, OrganizerQuestion
from app.models.organizers import OrganizerStatus, QuestionKind
from app.security import roles as R
from app.services import organizers
from app.services.firm import get_settings
from tests import factories as f
from tests.conftest import csrf_token
from tests.documents_helpers import HTML, PDF
from tests.organizer_helpers import question, send, template

JSON = {"Accept": "application/json"}


@pytest.fixture
def desk(app):
    """Alpha: last year's and this year's organizer for Cora (collaborator) and Rhea (reader); Beta's for Stan."""
    with app.app_context():
        acc = f.staff(R.STAFF)
        a, b = f.entity("Alpha Co", responsible=acc), f.entity("Beta Co", responsible=acc)
        cora = f.portal_contact(a, R.ENTITY_COLLABORATOR, first="Cora")
        rhea = f.portal_contact(a, R.ENTITY_ACCESS, first="Rhea")
        stan = f.portal_contact(b, R.ENTITY_COLLABORATOR, first="Stan")
        row = template(acc)
        last = send(acc, row, a, 2025)
        organizers.save_answer(last, question(row, "wages").id, cora.user, 0, "5000")
        organizers.save_answer(last, question(row, "dependants").id, cora.user, 0, "no")
        this, theirs = send(acc, row, a, 2026), send(acc, row, b, 2026)
        q = {key: question(row, key).id for key in ("dependants", "how_many", "wages", "w2")}
        return SimpleNamespace(acc=acc.id, a=a.id, cora=cora.id, rhea=rhea.id, stan=stan.id, last=last.id,
                               this=this.id, theirs=theirs.id, q=q, template=row.id)


def _url(desk, what="", qkey=None, organizer=None):
    base = f"/portal/organizers/{organizer or desk.this}"
    return base + (f"/answers/{desk.q[qkey]}" if qkey else "") + what


def _save(client, desk, qkey, value, version, token, **extra):
    data = {"csrf_token": token, "version": str(version), "value": value, **extra}
    return client.post(_url(desk, qkey=qkey), data=data, headers=JSON)


def test_answers_are_saved_one_by_one_and_a_stale_save_gets_409(app, client, portal_login, desk):
    """Each save bumps the version; a save from an old version is 409 with the newer answer, nothing overwritten."""
    portal_login(client, desk.cora)
    token = csrf_token(client, _url(desk))
    first = _save(client, desk, "wages", "1200", 0, token)
    assert first.status_code == 200 and first.get_json()["version"] == 1
    stale = _save(client, desk, "wages", "9999", 0, token)
    assert stale.status_code == 409
    assert stale.get_json()["value"] == "1200.00" and stale.get_json()["version"] == 1
    assert _save(client, desk, "wages", "1300", 1, token).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(OrganizerAnswer.value).where(
            OrganizerAnswer.organizer_id == desk.this, OrganizerAnswer.question_id == desk.q["wages"])) == "1300.00"
        assert db.session.get(Organizer, desk.this).status is OrganizerStatus.in_progress


def test_bad_values_and_missing_csrf_are_refused(app, client, portal_login, desk):
    """A number that is not one is 400; a save without the CSRF token is 400; nothing stored."""
    portal_login(client, desk.cora)
    token = csrf_token(client, _url(desk))
    assert _save(client, desk, "wages", "lots", 0, token).status_code == 400
    assert client.post(_url(desk, qkey="wages"), data={"version": "0", "value": "1"}, headers=JSON).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OrganizerAnswer).where(
            OrganizerAnswer.organizer_id == desk.this)) == 0


def test_conditions_show_live_and_hidden_required_questions_do_not_block(app, client, portal_login, desk):
    """"yes" shows the required follow-up (blocks submit); "no" hides it and submit passes."""
    portal_login(client, desk.cora)
    page = client.get(_url(desk)).get_data(as_text=True)
    assert re.search(rf'id="q-{desk.q["how_many"]}" data-question="\d+" hidden', page)
    token = csrf_token(client, _url(desk))
    answer = _save(client, desk, "dependants", "yes", 0, token).get_json()
    assert desk.q["how_many"] in answer["shown"]
    _save(client, desk, "wages", "10", 0, token)
    refused = client.post(_url(desk, "/submit"), data={"csrf_token": token}, follow_redirects=True)
    assert "How many?" in refused.get_data(as_text=True)
    answer = _save(client, desk, "dependants", "no", 1, token).get_json()
    assert desk.q["how_many"] not in answer["shown"]
    client.post(_url(desk, "/submit"), data={"csrf_token": token})
    with app.app_context():
        item = db.session.get(Organizer, desk.this)
        assert item.status is OrganizerStatus.submitted and item.submitted_by_id == desk.cora
    assert _save(client, desk, "wages", "20", 1, token).status_code == 400
    assert "can no longer be changed" in client.get(_url(desk)).get_data(as_text=True)


def test_does_not_apply_answers_a_required_question(app, client, portal_login, desk):
    """"Does not apply" counts as an answer; without it a required question blocks submit."""
    portal_login(client, desk.cora)
    token = csrf_token(client, _url(desk))
    _save(client, desk, "dependants", "", 0, token, not_applicable="1")
    client.post(_url(desk, "/submit"), data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Organizer, desk.this).status is OrganizerStatus.in_progress
    _save(client, desk, "wages", "", 0, token, not_applicable="1")
    client.post(_url(desk, "/submit"), data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Organizer, desk.this).status is OrganizerStatus.submitted


def test_last_years_answer_is_shown_and_can_be_taken(app, client, portal_login, desk):
    """Beside the question: last year's answer, and "same as last year" copies it."""
    portal_login(client, desk.cora)
    page = client.get(_url(desk, "", None) + "?section=1").get_data(as_text=True)
    assert "5000.00" in page and "Same as last year" in page
    token = csrf_token(client, _url(desk))
    answer = client.post(_url(desk, "/same", "wages"), data={"csrf_token": token, "version": "0"}, headers=JSON)
    assert answer.status_code == 200 and answer.get_json()["value"] == "5000.00"
    assert client.post(_url(desk, "/same", "w2"), data={"csrf_token": token, "version": "0"},
                       headers=JSON).status_code == 404


def test_file_questions_upload_into_the_entitys_documents(app, client, portal_login, desk):
    """A PDF lands in Alpha's documents, linked to the question; past the question's max count it is refused."""
    portal_login(client, desk.cora)
    token = csrf_token(client, _url(desk))
    url = _url(desk, "/files", "w2")
    for n in (1, 2):
        sent = client.post(url, data={"csrf_token": token, "files": (io.BytesIO(PDF), f"w2-{n}.pdf")}, headers=JSON)
        assert sent.status_code == 200, sent.get_data(as_text=True)
    third = client.post(url, data={"csrf_token": token, "files": (io.BytesIO(PDF), "w2-3.pdf")}, headers=JSON)
    assert third.status_code == 400 and "at most 2" in third.get_json()["errors"][0]
    with app.app_context():
        answer = db.session.scalar(select(OrganizerAnswer).where(OrganizerAnswer.question_id == desk.q["w2"]))
        docs = db.session.scalars(select(Document).where(Document.id.in_(answer.documents()))).all()
        assert sorted(d.name for d in docs) == ["w2-1.pdf", "w2-2.pdf"] and {d.entity_id for d in docs} == {desk.a}
        assert db.session.get(Organizer, desk.this).task.attachments


def test_uploads_obey_the_upload_rules(app, client, portal_login, desk):
    """HTML renamed .pdf is refused (400), a file over the limit is 413, a reader (Entity Access) gets 403."""
    with app.app_context():
        get_settings().max_upload_bytes = 100
        db.session.commit()
    portal_login(client, desk.cora)
    token = csrf_token(client, _url(desk))
    url = _url(desk, "/files", "w2")
    assert client.post(url, data={"csrf_token": token, "files": (io.BytesIO(HTML), "x.pdf")},
                       headers=JSON).status_code == 400
    assert client.post(url, data={"csrf_token": token, "files": (io.BytesIO(PDF + b"0" * 200), "big.pdf")},
                       headers=JSON).status_code == 413
    portal_login(client, desk.rhea)
    token = csrf_token(client, _url(desk))
    assert client.post(url, data={"csrf_token": token, "files": (io.BytesIO(PDF), "a.pdf")},
                       headers=JSON).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def test_other_entities_organizers_are_404_whatever_the_id(app, client, portal_login, desk):
    """Stan (Beta) sweeps every organizer id on every organizer route: only Beta's answers, the rest is 404."""
    portal_login(client, desk.stan)
    token = csrf_token(client, f"/portal/organizers/{desk.theirs}")
    for pk in range(1, desk.theirs + 3):
        expected = 200 if pk == desk.theirs else 404
        assert client.get(f"/portal/organizers/{pk}").status_code == expected
        for what in ("/answers/%d" % desk.q["wages"], "/answers/%d/same" % desk.q["wages"],
                     "/answers/%d/files" % desk.q["w2"], "/answers/%d/files/1/remove" % desk.q["w2"], "/submit"):
            status = client.post(f"/portal/organizers/{pk}{what}", data={"csrf_token": token, "version": "0",
                                                                        "value": "1"}, headers=JSON).status_code
            if pk == desk.theirs and what.endswith(("/same", "/remove")):
                assert status == 404  # Beta has no organizer last year, nor file 1 on its question
                continue
            assert (status == 404) == (pk != desk.theirs), (pk, what, status)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OrganizerAnswer).where(
            OrganizerAnswer.organizer_id != desk.theirs,
            OrganizerAnswer.updated_by_id == db.session.get(Contact, desk.stan).user_id)) == 0


def test_the_page_runs_a_fixed_number_of_queries(app, client, portal_login, count_queries, desk):
    """4 or 40 questions in a section, all answered: the same number of SQL statements."""
    portal_login(client, desk.cora)
    counts = []
    for extra in (0, 36):
        with app.app_context():  # straight into the sent version (the editor would make a new one)
            row = db.session.get(Organizer, desk.this).template
            for n in range(extra):
                extra_q = OrganizerQuestion(template_id=row.id, section_id=row.sections[0].id, position=10 + n,
                                            key=f"extra{n}", kind=QuestionKind.short_text, label=f"Extra {n}")
                db.session.add(extra_q)
                db.session.flush()
                db.session.add(OrganizerAnswer(organizer_id=desk.this, question_id=extra_q.id, value="x", version=1))
            db.session.commit()
        client.get(_url(desk))
        with count_queries() as queries:
            body = client.get(_url(desk)).get_data(as_text=True)
        counts.append(queries())
        assert "New dependants?" in body
    assert counts[0] == counts[1], counts


def test_each_save_answers_with_the_new_progress(app, client, portal_login, desk):
    """The save's JSON carries answered / shown counts and the required questions still to answer, as the
    page would count them after a reload (a shown follow-up joins both; a stale save carries them too)."""
    portal_login(client, desk.cora)
    token = csrf_token(client, _url(desk))
    first = _save(client, desk, "dependants", "yes", 0, token).get_json()["progress"]
    assert first == {"done": 1, "total": 4, "missing": ["How many?", "Wages"], "text": "1 of 4 questions answered"}
    second = _save(client, desk, "how_many", "2", 0, token).get_json()["progress"]
    assert (second["done"], second["total"], second["missing"]) == (2, 4, ["Wages"])
    stale = _save(client, desk, "dependants", "no", 0, token)
    assert stale.status_code == 409 and stale.get_json()["progress"]["done"] == 2
    hidden = _save(client, desk, "dependants", "no", 1, token).get_json()["progress"]
    assert (hidden["done"], hidden["total"], hidden["missing"]) == (1, 3, ["Wages"])
    page = client.get(_url(desk) + "?section=1").get_data(as_text=True)
    assert "1 of 3 questions answered" in page and 'aria-valuenow="1"' in page
    assert re.search(r'<div id="organizer-missing" >\s*<p>Still to answer:</p><ul><li>Wages</li></ul>', page)


def test_a_save_runs_a_fixed_number_of_queries(app, client, portal_login, count_queries, desk):
    """The autosave with its progress: the same number of SQL statements for 4 or 24 questions."""
    portal_login(client, desk.cora)
    token = csrf_token(client, _url(desk))
    _save(client, desk, "wages", "99", 0, token)  # the first answer is an insert; measure updates
    counts = []
    for version, extra in ((1, 0), (2, 20)):
        with app.app_context():
            row = db.session.get(Organizer, desk.this).template
            for n in range(extra):
                db.session.add(OrganizerQuestion(template_id=row.id, section_id=row.sections[0].id, position=10 + n,
                                                 key=f"extra{n}", kind=QuestionKind.short_text, label=f"Extra {n}"))
            db.session.commit()
        with count_queries() as queries:
            assert _save(client, desk, "wages", str(100 + version), version, token).status_code == 200
        counts.append(queries())
    assert counts[0] == counts[1], counts


def _upload(client, desk, token, name):
    return client.post(_url(desk, "/files", "w2"), data={"csrf_token": token, "files": (io.BytesIO(PDF), name)},
                       headers=JSON).get_json()["saved"][0]["id"]


def test_a_file_can_be_taken_off_its_question_while_open(app, client, portal_login, desk):
    """Remove unlinks the file from the answer and the task (the page names the files); the document stays in
    Alpha's documents, since a contact may not delete documents; a file not on the question is 404."""
    portal_login(client, desk.cora)
    token = csrf_token(client, _url(desk))
    first, second = _upload(client, desk, token, "w2-a.pdf"), _upload(client, desk, token, "w2-b.pdf")
    page = client.get(_url(desk) + "?section=1").get_data(as_text=True)
    assert "w2-a.pdf" in page and f"/files/{first}/remove" in page
    removed = client.post(_url(desk, f"/files/{first}/remove", "w2"), data={"csrf_token": token}, headers=JSON)
    assert removed.status_code == 200 and removed.get_json()["progress"]["done"] == 1
    assert client.post(_url(desk, f"/files/{first}/remove", "w2"), data={"csrf_token": token},
                       headers=JSON).status_code == 404
    back = client.post(_url(desk, f"/files/{second}/remove", "w2"), data={"csrf_token": token, "section": "1"})
    assert back.status_code == 302 and back.headers["Location"].endswith(f"section=1#q-{desk.q['w2']}")
    with app.app_context():
        answer = db.session.scalar(select(OrganizerAnswer).where(OrganizerAnswer.question_id == desk.q["w2"]))
        assert answer.documents() == [] and not db.session.get(Organizer, desk.this).task.attachments
        assert {d.name for d in db.session.scalars(select(Document).where(Document.entity_id == desk.a))} == {
            "w2-a.pdf", "w2-b.pdf"}
    assert "w2-a.pdf" not in client.get(_url(desk) + "?section=1").get_data(as_text=True)


def test_removing_a_file_is_refused_after_submit_to_readers_and_for_others(app, client, portal_login, desk):
    """A submitted organizer keeps its files (400); a reader (Entity Access) gets 403; Stan (Beta) gets 404
    for Alpha's organizer; no CSRF token is 400; the link stays every time."""
    portal_login(client, desk.cora)
    token = csrf_token(client, _url(desk))
    doc = _upload(client, desk, token, "w2.pdf")
    remove = _url(desk, f"/files/{doc}/remove", "w2")
    assert client.post(remove, headers=JSON).status_code == 400
    portal_login(client, desk.rhea)
    assert client.post(remove, data={"csrf_token": csrf_token(client, _url(desk))}, headers=JSON).status_code == 403
    assert "/remove" not in client.get(_url(desk) + "?section=1").get_data(as_text=True)
    portal_login(client, desk.stan)
    stan_token = csrf_token(client, f"/portal/organizers/{desk.theirs}")
    assert client.post(remove, data={"csrf_token": stan_token}, headers=JSON).status_code == 404
    portal_login(client, desk.cora)
    token = csrf_token(client, _url(desk))
    for key, value in (("dependants", "no"), ("wages", "1")):
        _save(client, desk, key, value, 0, token)
    client.post(_url(desk, "/submit"), data={"csrf_token": token})
    refused = client.post(remove, data={"csrf_token": token}, headers=JSON)
    assert refused.status_code == 400 and "can no longer be changed" in refused.get_json()["error"]
    with app.app_context():
        answer = db.session.scalar(select(OrganizerAnswer).where(OrganizerAnswer.question_id == desk.q["w2"]))
        assert answer.documents() == [doc]
