"""Accessibility in real Chromium: axe-core's WCAG 2.0/2.1/2.2 A and AA rules on every staff page (the list
generated from app.url_map, each show and edit page with a real row) signed in as an Admin, on the two-step
sign-in pages, and on the portal's pages signed in as a contact: no serious or critical violation."""
import io
import json
import os
import time
from datetime import datetime

import pytest
from flask_appbuilder.security.sqla.models import Group, User
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import (ActivityEvent, Contact, Entity, Notification, TaxVoucher, WebhookAttempt, WebhookDelivery,
                        WebhookEndpoint)
from app.models.task_batches import BatchState, TaskBatch, TaskTemplate
from app.security import roles as R
from app.services import imports, signature_seal, signatures
from tests import browser, organizer_helpers
from tests import factories as f
from tests.access_matrix import ARG_MODELS
from tests.signature_helpers import upload_pdf

pytestmark = pytest.mark.usefixtures("fresh_redis")

# axe-core's tags for WCAG 2.0, 2.1 and 2.2 levels A and AA (its 4.12 has no "wcag22a": 2.2 added no A rule).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
BLOCKING = {"serious", "critical"}
# Routes that serve no page to look at: files, JSON, redirects, actions, health probes, languages.
NOT_PAGES = {"UtilView.back", "MenuApi.get_menu_data", "LocaleView.index", "StaffAuthDBView.logout",
             "ImportView.status", "ImportView.template", "portico.health", "portico.ready", "portico.firm_logo",
             "DocumentFilesView.download", "DocumentFilesView.view", "portal.document_download",
             "portal.document_view", "TaxVoucherView.import_csv"}
NOT_PAGE_METHODS = {"delete", "download", "choices", "action", "export", "ajax_lookup", "static"}
# Pages of another audience: checked below with their own session, or named as not checked.
ELSEWHERE = {
    "StaffAuthDBView.login": "signed out, below", "TwoFactorView.verify": "half signed in, below",
    "TwoFactorView.recovery": "half signed in, below", "TwoFactorView.enrol": "enrolling, below",
    "k1.open": "a K-1 partner's mailed link: neither staff nor portal, not checked here",
    "k1.page": "a K-1 partner's page behind that link, not checked here",
    "ops_mail.show": "a mail file of the file backend, absent while mail goes to SMTP",
}
# Arguments that pick a variant of a page checked without them (the chart grouped another way).
VARIANTS = {"group_by"}
# Pages that name their row in the query string: (argument, model of the row).
QUERY_ROWS = {"ops_audit.details_view": ("id", ActivityEvent), "ops_outbox.details_view": ("id", Notification),
              "ops_webhooks.details_view": ("id", WebhookDelivery),
              "StaffResetPasswordView.this_form_get": ("pk", User)}
# Arguments that name a row the fixture made, or a fixed part of it (the first document, its first page).
ROW_ARGS = {"signature_id": "signature", "number": 0, "page": 0, "organizer_id": "organizer",
            "template_id": "organizer_template", "family_id": "organizer_family"}
SIGNED_OUT_PORTAL = ("portal.sign_in", "portal.sign_in_code", "portal.sign_in_pin", "portal.sign_up",
                     "portal.sign_up_pin", "portal.sign_up_verify")


@pytest.fixture
def rows(app):
    """The access tests' cast (one row of every model in two entities), an import preview and the Admin."""
    with app.test_request_context():
        ids = f.cast()
        admin = db.session.get(User, ids["admin"])
        csv = FileStorage(io.BytesIO(imports.template_csv()), filename="clients.csv")
        db.session.add(Group(name="Partners"))
        ids["import"] = imports.preview(admin, "clients.csv", csv).id
        ids["day"] = db.session.query(TaxVoucher.due_date).order_by(TaxVoucher.id).first()[0].isoformat()
        ids.update(_work_for_many(admin), signature=_signature_for(admin, ids), webhook=_webhook_for(admin),
                   **_organizer_for(admin, ids))
        db.session.remove()
        _failed_job()
    return ids


def _failed_job():
    """One failed job in Redis, so the ops jobs page shows its table of failed jobs."""
    from rq.registry import FailedJobRegistry

    from app.jobs import ping, queue

    q = queue()
    job = q.enqueue(ping)
    q.remove(job)
    FailedJobRegistry(queue=q).add(job, exc_string="RuntimeError: boom")


def _work_for_many(admin):
    """A task template and a finished batch of the Admin's (a batch shows to its author only)."""
    template = TaskTemplate(title="Year-end papers", deadline_days=14, created_by_id=admin.id)
    batch = TaskBatch(title="Year-end papers", entity_ids="[]", state=BatchState.done, created_by_id=admin.id)
    db.session.add_all([template, batch])
    db.session.commit()
    return {"template": template.id, "batch": batch.id}


def _signature_for(admin, ids):
    """A request sent by the Admin to the portal contact of the pages below (Cole of entity A)."""
    signature_seal.ensure_certificate("Test Firm CPAs")
    contact = db.session.get(Contact, ids["collaborator"])
    entity = next(share.entity for share in contact.shares if share.entity is not None)
    request = signatures.create(entity, admin, "Engagement letter", [upload_pdf(entity, admin)], [contact],
                                message="Please sign.")
    return signatures.send(request, admin).id


def _webhook_for(admin):
    """An endpoint with one delivery that failed once (its ops page shows the attempt)."""
    endpoint = WebhookEndpoint(url="https://hooks.example.com/portico", description="ERP", events="ping",
                               secret_encrypted="not-shown", created_by_id=admin.id)
    delivery = WebhookDelivery(endpoint=endpoint, event="ping", event_id="0" * 36, body='{"event": "ping"}',
                               attempts=1, last_status=500, last_error="HTTP 500")
    delivery.attempt_rows.append(WebhookAttempt(number=1, started_on=datetime.now(), duration_ms=12, status_code=500,
                                                response_excerpt="<html>oops</html>"))
    db.session.add(delivery)
    db.session.commit()
    return endpoint.id


def _organizer_for(admin, ids):
    """An organizer of entity A (its task assigned to every contact of A, Cole too)."""
    row = organizer_helpers.template(admin)
    item = organizer_helpers.send(admin, row, db.session.get(Entity, ids["entity_a"]))
    return {"organizer": item.id, "organizer_template": row.id, "organizer_family": row.family_id}


def _first_id(model):
    return db.session.query(model.id).order_by(model.id).limit(1).scalar()


def _values(app, rule, ids):
    """A real row for each argument of `rule`, or None when one has none."""
    views = {view.endpoint: view for view in app.appbuilder.baseviews}
    values = {}
    for arg in rule.arguments:
        view = views.get(rule.endpoint.rpartition(".")[0])
        if arg == "day":
            values[arg] = ids["day"]
        elif rule.endpoint == "ImportView.show":
            values[arg] = ids["import"]
        elif rule.endpoint.startswith("WebhookView.") and arg == "pk":
            values[arg] = ids["webhook"]
        elif rule.endpoint == "StaffSignInView.member":
            values[arg] = ids["staff"]
        elif arg in ROW_ARGS:
            values[arg] = ids[ROW_ARGS[arg]] if isinstance(ROW_ARGS[arg], str) else ROW_ARGS[arg]
        elif rule.endpoint.startswith(("TaskBatchView.", "TaskTemplateView.")) and arg == "pk":
            values[arg] = ids["batch" if rule.endpoint.startswith("TaskBatchView.") else "template"]
        elif arg == "pk" and getattr(view, "datamodel", None) is not None:
            values[arg] = _first_id(view.datamodel.obj)
        elif arg in ARG_MODELS:
            values[arg] = _first_id(ARG_MODELS[arg])
        else:
            return None
    return values if None not in values.values() else None


def pages(app, ids):
    """(staff pages, portal pages, routes without a row): every GET route that shows a page, as URLs."""
    staff, portal, no_row = [], [], []
    adapter = app.url_map.bind("localhost")
    with app.app_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            endpoint = rule.endpoint
            if ("GET" not in rule.methods or endpoint in NOT_PAGES or endpoint in ELSEWHERE
                    or endpoint.rpartition(".")[2] in NOT_PAGE_METHODS or endpoint in SIGNED_OUT_PORTAL
                    or endpoint.endswith("static") or rule.rule.startswith("/api/") or VARIANTS & rule.arguments):
                continue
            values = _values(app, rule, ids)
            if values is None:
                no_row.append(f"{endpoint} {rule.rule}")
                continue
            url = adapter.build(endpoint, values)
            if endpoint in QUERY_ROWS:
                arg, model = QUERY_ROWS[endpoint]
                url += f"?{arg}={_first_id(model)}"
            (portal if endpoint.startswith("portal.") else staff).append(url)
    return staff, portal, no_row


def _cookie(app, test_client):
    """The signed session cookie of a Flask test client, for the browser."""
    cookie = test_client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    return {"name": cookie.key, "value": cookie.value, "domain": "127.0.0.1", "path": "/"}


def _reachable(test_client, urls, skipped):
    """The URLs that answer 200 with HTML; the others go into `skipped` with their status."""
    found = []
    for url in urls:
        response = test_client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            found.append(url)
        else:
            skipped.append(f"{url}: {response.status_code} {response.headers.get('Location', response.mimetype)}")
    return found


def audit(page, base, urls, who, report):
    """Run axe on each URL, adding its violations to `report`; (blocking ones as lines, the others as lines)."""
    from axe_playwright_python.sync_playwright import Axe

    axe, blocking, minor = Axe(), [], []
    for url in urls:
        response = page.goto(base + url, wait_until="load")
        assert response.ok, f"{who} {url}: {response.status}"
        for violation in axe.run(page, options=AXE_OPTIONS).response["violations"]:
            report.append({"who": who, "url": url, **violation})
            for node in violation["nodes"]:
                target = " ".join(map(str, node["target"]))
                line = f"{who} {url}: {violation['id']} ({violation['impact']}) at {target} — {violation['help']}"
                (blocking if (node.get("impact") or violation["impact"]) in BLOCKING else minor).append(line)
    return blocking, minor


def _visits(app, rows, login, portal_login):
    """{who: (signed test client, URLs to check)}, and the lines of the pages left out (not 200 HTML for them)."""
    staff, portal, no_row = pages(app, rows)
    assert no_row == [], f"routes with no row to show (give them one in the rows fixture): {no_row}"
    skipped, admin = [], login(app.test_client(), rows["admin"])
    contact = portal_login(app.test_client(), rows["collaborator"])
    staff, portal = _reachable(admin, staff, skipped), _reachable(contact, portal, skipped)
    assert len(staff) > 60 and len(portal) > 8, skipped
    with app.test_request_context():
        enrolling = f.staff(R.ADMIN).id
    return {"Admin": (admin, staff), "Contact": (contact, portal),
            "Admin after the password": (login(app.test_client(), rows["admin"], state="password"),
                                         ["/two-factor/", "/two-factor/recovery"]),
            "Admin enrolling": (login(app.test_client(), enrolling, state="enrol"), ["/two-factor/enrol"]),
            "Signed out": (None, ["/login/", "/portal/sign-in", "/portal/sign-up"])}, skipped


@pytest.mark.timeout(600)
def test_every_staff_and_portal_page_has_no_serious_accessibility_violation(app, rows, login, portal_login):
    """axe-core (WCAG 2.x A/AA) in Chromium finds no serious or critical violation on any staff page as an
    Admin, on the sign-in and two-step pages, nor on the portal's pages as a contact."""
    browser.require_chromium()
    pytest.importorskip("axe_playwright_python")
    visits, skipped = _visits(app, rows, login, portal_login)
    blocking, minor, report, problems, started = [], [], [], [], time.monotonic()
    with browser.live_server(app) as base, browser.chromium() as chromium:
        context = chromium.new_context(viewport=browser.DESKTOP)
        page = browser.watch(context.new_page(), problems)  # a script error (ours names select2 widgets) fails too
        for who, (test_client, urls) in visits.items():
            context.clear_cookies()
            if test_client is not None:
                context.add_cookies([_cookie(app, test_client)])
            found = audit(page, base, urls, who, report)
            blocking, minor = blocking + found[0], minor + found[1]
    os.makedirs(browser.OUTPUT, exist_ok=True)
    with open(os.path.join(browser.OUTPUT, "accessibility.json"), "w", encoding="utf-8") as out:
        json.dump(report, out, indent=1)  # every violation with axe's own explanation, for whoever fixes it
    print(f"\naxe-core checked {sum(len(urls) for _, urls in visits.values())} pages in "
          f"{time.monotonic() - started:.0f} s (test-output/accessibility.json has the details)")
    print("not checked (not a 200 HTML page for that user):", *skipped, sep="\n  ")
    print("moderate and minor violations:", *minor, sep="\n  ")
    assert problems == [], problems
    if blocking:
        pytest.fail("serious or critical accessibility violations (page, rule, impact, target):\n"
                    + "\n".join(blocking), pytrace=False)
