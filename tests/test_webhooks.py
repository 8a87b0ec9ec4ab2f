"""Webhooks: the Admin screen (secret shown once, encrypted at rest, rotation, test, edit, delete), who
may reach it, SSRF refusals at registration, the events fired by the real services and what their
payloads hold, and the deliveries in the ops console."""
import io
import json
import re

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.extensions import db

from app.models import Contact, Document, Entity, Task, WebhookDelivery, WebhookEndpoint
from app.models.documents import Direction, Visibility
from app.models.webhooks import DeliveryState
from app.security import roles as R
from app.services import documents, requests as request_service, signature_signing, tasks, webhooks
from tests import factories as f
from tests.conftest import csrf_token
from tests.signature_helpers import office, sent_request
from tests.webhook_receiver import receiver, run_jobs  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("fresh_redis")
SECRET = re.compile(r'id="webhook-secret"[^>]*>(whsec_[A-Za-z0-9_-]+)<')
ALL = list(webhooks.SUBSCRIBABLE)


@pytest.fixture
def admin(app, client, login):
    """A test client signed in as a firm Admin."""
    with app.app_context():
        login(client, f.staff(R.ADMIN).id)
    return client


def _form(client, url, events=ALL, active=True, path="/webhooks/new"):
    data = {"csrf_token": csrf_token(client, path), "url": url, "description": "Practice software", "events": events}
    if active:
        data["active"] = "y"
    return client.post(path, data=data)


def _deliveries(event=None):
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    return db.session.scalars(query.where(WebhookDelivery.event == event) if event else query).all()


def test_the_secret_is_shown_once_and_encrypted_at_rest(app, admin, receiver):
    """Registering answers with the secret (no-store); the database holds only ciphertext; no page shows it
    again; a rotation shows a different one, and the old one no longer verifies."""
    response = _form(admin, receiver.url)
    secret = SECRET.search(response.get_data(as_text=True)).group(1)
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        row = db.session.scalars(select(WebhookEndpoint)).one()
        assert secret not in row.secret_encrypted and webhooks.decrypt_secret(row) == secret
        pk = row.id
    for page in ("/webhooks/", f"/webhooks/{pk}/edit"):
        assert secret not in admin.get(page).get_data(as_text=True)
    token = csrf_token(admin, "/webhooks/")
    rotated = SECRET.search(admin.post(f"/webhooks/{pk}/rotate", data={"csrf_token": token})
                            .get_data(as_text=True)).group(1)
    with app.app_context():
        assert rotated != secret and webhooks.decrypt_secret(db.session.get(WebhookEndpoint, pk)) == rotated


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "https://10.0.0.5/hook", "https://192.168.1.1/",
                                 "https://169.254.169.254/latest/meta-data", "https://[::1]/", "https://localhost/",
                                 "https://0.0.0.0/", "https://user:pw@example.com/", "ftp://example.com/", "not a url",
                                 "https://100.64.0.1/", "https://[::ffff:10.0.0.1]/", "https://example.com/a b",
                                 "https://example.com:99999/"])
def test_private_addresses_and_other_schemes_are_refused_at_registration(app, admin, url):
    """Loopback, private, link-local, unspecified addresses, http://, credentials in the URL: refused, nothing saved."""
    response = _form(admin, url)
    assert response.status_code == 200 and "alert-danger" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_bad_form_input_is_an_error_on_the_page_never_a_500(app, admin):
    """An unknown event name or an over-long description re-shows the form with the error; nothing saved."""
    token = csrf_token(admin, "/webhooks/new")
    for data in ({"url": "https://example.com/", "events": ["task.deleted"]},
                 {"url": "https://example.com/", "events": ALL, "description": "x" * 600}):
        response = admin.post("/webhooks/new", data=dict(data, csrf_token=token))
        assert response.status_code == 200 and "text-danger" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_an_allowed_network_still_needs_https(app, admin, receiver):
    """WEBHOOK_ALLOWED_NETWORKS lets 127.0.0.1 in, over https:// only."""
    assert _form(admin, receiver.url.replace("https://", "http://")).status_code == 200
    assert _form(admin, receiver.url).status_code == 200
    with app.app_context():
        assert [e.url for e in db.session.scalars(select(WebhookEndpoint))] == [receiver.url]


def test_edit_disable_test_and_delete_through_the_screen(app, admin, receiver):
    """An Admin narrows the events and switches the endpoint off; sends a test event; deletes it."""
    _form(admin, receiver.url)
    with app.app_context():
        pk = db.session.scalars(select(WebhookEndpoint.id)).one()
    response = _form(admin, receiver.url, events=["document.uploaded"], active=False, path=f"/webhooks/{pk}/edit")
    assert response.status_code == 302
    token = csrf_token(admin, "/webhooks/")
    assert admin.post(f"/webhooks/{pk}/test", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        row = db.session.get(WebhookEndpoint, pk)
        assert row.event_names() == ["document.uploaded"] and not row.active
        assert [d.event for d in _deliveries()] == ["ping"]
    assert admin.post(f"/webhooks/{pk}/delete", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.scalars(select(WebhookEndpoint)).all() == [] and _deliveries() == []


def test_an_endpoint_switched_off_automatically_says_so_on_the_screen(app, admin, receiver):
    """The list shows an auto-disabled endpoint apart from one an Admin switched off."""
    _form(admin, receiver.url)
    with app.app_context():
        row = db.session.scalars(select(WebhookEndpoint)).one()
        row.active, row.auto_disabled_on, row.consecutive_failures = False, db.func.now(), 15
        db.session.commit()
    assert "Switched off automatically" in admin.get("/webhooks/").get_data(as_text=True)


@pytest.mark.parametrize("who", [R.STAFF, R.STAFF_ADMIN, R.ENTITIES_ADMIN, "client"])
def test_everyone_but_admins_gets_403(app, client, login, receiver, who):
    """Staff, Staff Admin, Entities Admin and client accounts get 403 on every webhook route and change nothing."""
    with app.app_context():
        admin_user = f.staff(R.ADMIN)
        endpoint, _secret = webhooks.create_endpoint(admin_user, receiver.url, "", ALL)
        pk = endpoint.id
        user = f.contact(with_user=True).user.id if who == "client" else f.staff(who).id
        assert not webhooks.access.may_manage_webhooks(db.session.get(User, user))
    login(client, user)
    token = csrf_token(client, "/resetmypassword/form") if who != "client" else "x"
    gets = ["/webhooks/", "/webhooks/new", f"/webhooks/{pk}/edit"]
    posts = ["/webhooks/new", f"/webhooks/{pk}/edit", f"/webhooks/{pk}/rotate", f"/webhooks/{pk}/test",
             f"/webhooks/{pk}/delete"]
    got = [client.get(p).status_code for p in gets] + [
        client.post(p, data={"csrf_token": token, "url": receiver.url, "events": ALL}).status_code for p in posts]
    assert set(got) <= {403, 400} and got[:3] == [403, 403, 403]
    with app.app_context():
        assert db.session.get(WebhookEndpoint, pk).url == receiver.url and _deliveries() == []


def test_unknown_or_malformed_ids_answer_404(admin):
    """An Admin asking for an endpoint that does not exist (or a non-number, or 2**64) gets 404."""
    for pk in ("999999", "abc", str(2**64)):
        assert admin.get(f"/webhooks/{pk}/edit").status_code == 404


def test_the_service_refuses_non_admins(ctx):
    """The service checks the right too (not only the screen): a Staff Admin cannot register."""
    with pytest.raises(webhooks.WebhookError):
        webhooks.create_endpoint(f.staff(R.STAFF_ADMIN), "https://example.com/", "", ALL)


def _subscribe(server):
    endpoint, secret = webhooks.create_endpoint(f.staff(R.ADMIN), server.url, "", ALL)
    server.secret = secret
    return endpoint


def test_a_client_completing_a_task_fires_and_is_delivered(app, world, receiver):
    """tasks.client_complete writes a task.client_completed delivery (the receiver gets it, signed)."""
    with app.app_context():
        _subscribe(receiver)
        task, cora = db.session.get(Task, world.task), db.session.get(Contact, world.cora)
        tasks.client_complete(task, cora, cora.user)
        [delivery] = _deliveries("task.client_completed")
        data = json.loads(delivery.body)["data"]
        assert data["object"]["id"] == world.task and data["object"]["client_done_by_contact_id"] == world.cora
        assert data["entity"] == {"id": world.a, "name": "Alpha Co", "url": data["entity"]["url"]}
        assert run_jobs(lambda: receiver.requests) and receiver.requests[0]["valid"]


def test_uploads_by_clients_and_by_staff_fire_document_uploaded(app, world, receiver):
    """A client's upload and a staff upload (which had no event before) each fire document.uploaded."""
    with app.app_context():
        _subscribe(receiver)
        entity, cora = db.session.get(Entity, world.a), db.session.get(Contact, world.cora)
        documents.upload(entity, f.pdf_file("from-client.pdf"), cora.user, direction=Direction.from_client,
                         visibility=Visibility.portal)
        documents.upload(entity, f.pdf_file("internal.pdf"), db.session.get(User, world.acc))
        objects = [json.loads(d.body)["data"]["object"] for d in _deliveries("document.uploaded")]
        assert [(o["name"], o["uploaded_by"], o["visibility"]) for o in objects] == [
            ("from-client.pdf", "client", "portal"), ("internal.pdf", "staff", "staff_only")]
        assert all(o["id"] == db.session.scalar(select(Document.id).where(Document.name == o["name"]))
                   for o in objects)


def test_a_client_request_fires_without_its_text(app, world, receiver):
    """requests.create_request fires client_request.created with the subject and ids, never the message."""
    with app.app_context():
        _subscribe(receiver)
        entity, cora = db.session.get(Entity, world.a), db.session.get(Contact, world.cora)
        request = request_service.create_request(entity, cora, cora.user, "Address change", "Secret new address",
                                                 files=[FileStorage(io.BytesIO(f.pdf_file().stream.read()),
                                                                    "proof.pdf", content_type="application/pdf")])
        [delivery] = _deliveries("client_request.created")
        assert "Secret new address" not in delivery.body
        data = json.loads(delivery.body)["data"]["object"]
        assert data["id"] == request.id and data["subject"] == "Address change" and len(data["document_ids"]) == 1


def test_a_completed_signature_request_fires(ctx, receiver):
    """The last signature seals the request and fires signature_request.completed with its documents."""
    _subscribe(receiver)
    o = office()
    request = sent_request(o)
    for signer in request.signers:
        signature_signing.consent(signer, signer.contact.user, ip="203.0.113.9", user_agent="pytest")
        signature_signing.sign(signer, signer.contact.user, {"text": signer.name, "image": None}, {}, "pin",
                               ip="203.0.113.9", user_agent="pytest")
    [delivery] = _deliveries("signature_request.completed")
    data = json.loads(delivery.body)["data"]["object"]
    assert data["id"] == request.id and data["document_ids"] == [o.doc.id] and data["completed_on"]


def test_only_subscribed_active_endpoints_get_deliveries(ctx, receiver):
    """An endpoint without the event, or switched off, gets no delivery; one event has one id for all."""
    admin = f.staff(R.ADMIN)
    first, _ = webhooks.create_endpoint(admin, receiver.url, "", ["document.uploaded"])
    webhooks.create_endpoint(admin, receiver.url, "", ["task.client_completed"])
    webhooks.create_endpoint(admin, receiver.url, "", ["document.uploaded"], active=False)
    third, _ = webhooks.create_endpoint(admin, receiver.url, "", ALL)
    documents.upload(f.entity("Gamma"), f.pdf_file(), admin)
    rows = _deliveries()
    assert sorted(d.endpoint_id for d in rows) == [first.id, third.id] and len({d.event_id for d in rows}) == 1


def _rows(page):
    return len(re.findall(r'class="action-checkbox"', page))


def test_the_ops_console_lists_filters_and_retries_deliveries(app, admin, receiver, count_queries):
    """Admins see deliveries with their answers, filter by state/event/endpoint in a fixed number of queries,
    and "Retry now" makes a failed one due and queues it."""
    with app.app_context():
        endpoint = _subscribe(receiver)
        for _ in range(3):
            webhooks.send_test(db.session.get(User, endpoint.created_by_id), endpoint)
        failed = _deliveries()[0]
        failed.state, failed.last_error = DeliveryState.failed, "HTTP 500"
        db.session.commit()
        failed_id, endpoint_id = failed.id, endpoint.id
    admin.get("/ops/webhooks/")
    with count_queries() as few:
        assert admin.get("/ops/webhooks/").status_code == 200
    with app.app_context():
        webhooks.send_test(db.session.get(User, db.session.get(WebhookEndpoint, endpoint_id).created_by_id),
                           db.session.get(WebhookEndpoint, endpoint_id))
    with count_queries() as more:
        assert admin.get("/ops/webhooks/").status_code == 200
    assert few() == more()
    page = admin.get("/ops/webhooks/?flt1_state_equals=failed").get_data(as_text=True)
    assert "HTTP 500" in page and _rows(page) == 1
    assert _rows(admin.get(f"/ops/webhooks/?flt1_endpoint_id_equals={endpoint_id}").get_data(as_text=True)) == 4
    assert _rows(admin.get(f"/ops/webhooks/?flt1_endpoint_id_equals={endpoint_id + 1}").get_data(as_text=True)) == 0
    assert _rows(admin.get("/ops/webhooks/?flt1_event_equals=document.uploaded").get_data(as_text=True)) == 0
    assert admin.get(f"/ops/webhooks/details/?id={failed_id}").status_code == 200
    token = csrf_token(admin, "/ops/webhooks/")
    admin.post("/ops/webhooks/action/", data={"csrf_token": token, "action": "retry", "rowid": [failed_id]})
    with app.app_context():
        assert db.session.get(WebhookDelivery, failed_id).state is DeliveryState.pending


def test_the_webhooks_screen_runs_a_fixed_number_of_queries(app, admin, receiver, count_queries):
    """The endpoint list costs the same with one endpoint or five."""
    with app.app_context():
        _subscribe(receiver)
    admin.get("/webhooks/")
    with count_queries() as one:
        assert admin.get("/webhooks/").status_code == 200
    with app.app_context():
        for _ in range(4):
            _subscribe(receiver)
    with count_queries() as five:
        assert admin.get("/webhooks/").status_code == 200
    assert one() == five()


def test_the_ops_front_page_tells_admins_of_endpoints_switched_off(app, admin, receiver):
    """An endpoint switched off after repeated failures is named on /ops/ with a link to the Webhooks screen."""
    _form(admin, receiver.url)
    assert "switched off after failing" not in admin.get("/ops/").get_data(as_text=True)
    with app.app_context():
        row = db.session.scalars(select(WebhookEndpoint)).one()
        row.active, row.auto_disabled_on, row.consecutive_failures = False, db.func.now(), 15
        db.session.commit()
    page = admin.get("/ops/").get_data(as_text=True)
    assert "Endpoints switched off after failing repeatedly: 1" in page and 'href="/webhooks/"' in page
