"""Schemathesis runs the OpenAPI document of /api/v1 against the app (WSGI): every operation, a bounded
number of generated requests each (valid and invalid), and no server error nor any response that breaks
the document (status, content type, headers, body schema)."""
from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from app.models import MessageKind
from app.models.entities import EntityKind
from app.security import roles as R
from app.services import documents, file_requests, k1, messages, requests, tasks, vouchers
from tests import factories as f
from tests.documents_helpers import PDF, Upload

MAX_EXAMPLES = 50  # per operation and mode; both modes take about 30 s here
STATEFUL_EXAMPLES = 80  # sequences of up to 6 linked calls (about 15 s)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


TOKEN = "ptk_5c4e3a7d9b11_" + "s" * 43  # a fixed token: the stateful run re-seeds the same one after each sequence


def _seed(app):
    """An Admin whose read-write token is TOKEN, with a few rows of every resource to find."""
    from datetime import datetime, timedelta

    from app.extensions import db
    from app.models import ApiToken, TokenScope
    from app.services import api_tokens

    with app.app_context():
        admin = f.staff(R.ADMIN)
        entity = f.entity("Schema Co", responsible=admin, tax_id="12-3456789")
        person = f.contact("Sam")
        f.share(entity, R.ENTITY_ACCESS, contact=person)
        f.share(entity, R.ENTITY_ACCESS, group=f.group("Schema group", members=[person]))
        _work_rows(entity, admin)
        prefix, secret = api_tokens.split(TOKEN)
        db.session.add(ApiToken(user_id=admin.id, name="schema", prefix=prefix, secret_hash=api_tokens.digest(secret),
                                scope=TokenScope.write, expires_on=datetime.now() + timedelta(days=1)))
        db.session.commit()
    return TOKEN


def _reset(app):
    """Every table but the roles emptied (as between tests), then seeded again."""
    from app.extensions import db
    from tests.conftest import _KEEP

    with app.app_context():
        db.session.rollback()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                if table.name not in _KEEP:
                    conn.execute(table.delete())
    _seed(app)


@pytest.fixture
def api_token(app):
    """TOKEN, an Admin's read-write token, with rows to find."""
    return _seed(app)


def _work_rows(entity, admin):
    """A task with a checklist and a thread, a document, a client request, a file request and a voucher on
    `entity`, and a K-1 partner of a partnership: rows for the work resources' operations to find."""
    task = tasks.create_task(entity, "Schema task", admin, checklist=["Sign"])
    messages.post(task, admin, "Schema note", MessageKind.internal)
    documents.upload(entity, Upload("schema.pdf", PDF), admin)
    client = f.portal_contact(entity, first="Cleo")
    requests.create_request(entity, client, client.user, "Schema question", "Please help")
    file_requests.create(entity, admin, [client], "Schema files")
    vouchers.create_voucher(entity, admin, tax_year=2026, authority="IRS", form_period="Q1", amount="10.00",
                            due_date=date(2026, 4, 15))
    k1.add_recipient(f.entity("Schema LP", kind=EntityKind.partnership), admin, name="Schema Partner",
                     email="partner@example.com")


def _run(operation, mode, token, failures):
    """Up to MAX_EXAMPLES generated requests of one operation; each failing check is kept, not raised."""
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case):
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # every check failure (a group when several), kept
            failures.append(f"{operation.label} [{mode}] {response.status_code}: {str(exc)[:600]}")

    run()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_answers_as_its_document_says(app, api_token, mode):
    """Valid and invalid generated requests of every operation: no 5xx, and every answer as documented."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers={"Authorization": f"Bearer {api_token}"})
    failures, labels = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        _run(operation, mode, api_token, failures)
    assert len(labels) >= 25
    assert failures == []


@pytest.mark.timeout(900)
def test_api_sequences_follow_the_document_links(app, api_token):
    """Stateful: create, then read, change and delete through the document's links (id and ETag carried
    over), with no 5xx and every answer as documented."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers={"Authorization": f"Bearer {api_token}"})
    results = {"calls": 0, "statuses": set()}

    class Machine(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Bearer {api_token}"}}

        def validate_response(self, response, case, **kwargs):
            results["calls"] += 1
            results["statuses"].add((case.operation.label, response.status_code))
            case.validate_response(response, checks=CHECKS)

        def teardown(self):
            _reset(app)  # each sequence starts from the same rows: Hypothesis replays sequences
            super().teardown()

    Machine.run(settings=settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=6, deadline=None,
                                  derandomize=True, database=None, suppress_health_check=list(HealthCheck)))
    reached = {label.split()[0] for label, status in results["statuses"] if status in (200, 201, 204)
               and (label.endswith("{pk}") or label.startswith("POST"))}
    # created rows were then reached through the links (which ones varies with the rows' ids)
    assert "POST" in reached and reached & {"GET", "PATCH", "DELETE"}


def test_document_is_served_to_tokens_and_staff_only(app, client, login, api_token):
    """The document needs a token or a staff session; anonymous callers get 401 problem details."""
    assert client.get("/api/v1/_openapi").status_code == 401
    document = client.get("/api/v1/_openapi", headers={"Authorization": f"Bearer {api_token}"}).get_json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["bearer"]["description"]}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "401" in operation["responses"], (path, method)
    with app.app_context():
        member = f.staff(R.STAFF).id
    login(client, member)
    assert client.get("/api/v1/_openapi").status_code == 200
    page = client.get("/api-docs/")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.get_data(as_text=True)
    assert "cdn" not in page.get_data(as_text=True).lower()
