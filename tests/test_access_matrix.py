"""The object-level access matrix: every route of app.url_map that names an object × every actor × the
object in the actor's own entity and in a foreign one → allowed or refused as app.security.access
says, and nothing changed in the database when refused.

One cast (tests.factories.cast) is built once per module and put back before each test and after
every request that changed it, so each case starts from the same world.
"""
import io
import itertools
from datetime import date

import pytest
from flask_appbuilder.security.sqla.models import Group, Permission, PermissionView, Role, User, ViewMenu

from app.extensions import db
from app.models import (
    AccessCode,
    ActivityEvent,
    ChecklistItem,
    ClientRequest,
    Contact,
    ContactEmail,
    ContactGroup,
    Document,
    Entity,
    EntityShare,
    FirmSettings,
    Folder,
    K1Recipient,
    Notification,
    Task,
    TaskSeries,
    TaskTemplate,
    TaxVoucher,
    TrustedDevice,
)
from app.services import staff_sessions
from tests import access_matrix as M
from tests import factories as f
from tests.access_world import (  # noqa: F401 (cast and world are fixtures)
    ACTORS,
    CONTACT_ACTORS,
    cast,
    csrf,
    outcome_of,
    put_back_changes,
    signed_in,
    user_of,
    world,
)
from tests.documents_helpers import PDF

# The rows tried for each model (names in the cast): own entity A, foreign entity B, and the variants
# that matter (staff-only document, file request, an Admin's account, someone else's bell…).
ROWS = {
    Entity: ("entity_a", "entity_b"), EntityShare: ("share_a", "share_b"), Folder: ("folder_a", "folder_b"),
    Document: ("document_a", "staff_document_a", "document_b", "staff_document_b"),
    Task: ("task_a", "file_request_a", "task_b"), ChecklistItem: ("checklist_item_a", "checklist_item_b"),
    TaskSeries: ("series_a", "series_b"), ClientRequest: ("request_a", "request_b"),
    TaxVoucher: ("voucher_a", "voucher_b"), K1Recipient: ("k1_a", "k1_b"), ActivityEvent: ("activity_a", "activity_b"),
    Contact: ("collaborator", "other"), ContactEmail: ("email_access", "email_collaborator", "email_other"),
    ContactGroup: ("group_a", "group_b"), User: ("staff", "admin"), FirmSettings: ("firm",),
    Notification: ("bell_owner", "bell_viewer", "bell_access", "bell_collaborator"),
    TrustedDevice: ("device_access", "device_collaborator", "device_other"),
    Role: ("role",), Permission: ("permission",), ViewMenu: ("view_menu",), PermissionView: ("permission_view",),
    Group: ("fab_group",), TaskTemplate: ("template",),
}
# Side effects a permitted GET may have: reading is logged (downloads, a client opening a task).
READ_EFFECTS = {"activity_event"}
# Known holes: none today. A route listed here still runs; its result is reported, not asserted.
KNOWN = {}
TODAY = date.today().isoformat()
SHARDS = 3  # each actor's routes in three tests, so none nears the per-test timeout on a busy machine


def _pdf():
    return (io.BytesIO(PDF), "matrix.pdf")


# Form fields that make a permitted POST do its work (files for uploads, a body for messages…).
FORMS = {
    "TaskView.post_message": lambda ids, rows: {"kind": "internal", "body": "matrix"},
    "TaskView.attach": lambda ids, rows: {"document_id": ids["document_" + _side(ids, rows["pk"].entity_id)]},
    "TaskView.tick": lambda ids, rows: {"done": "1"},
    "ClientRequestView.post_message": lambda ids, rows: {"kind": "internal", "body": "matrix"},
    "DocumentBrowserView.upload": lambda ids, rows: {"files": _pdf(), "visibility": "staff_only",
                                                     "direction": "from_firm"},
    "DocumentBrowserView.new_version": lambda ids, rows: {"file": _pdf()},
    "DocumentBrowserView.create_folder": lambda ids, rows: {"name": "Matrix"},
    "DocumentBrowserView.rename_folder": lambda ids, rows: {"name": "Renamed"},
    "portal.task_reply": lambda ids, rows: {"body": "matrix"},
    "portal.task_upload": lambda ids, rows: {"files": _pdf()},
    "portal.task_tick": lambda ids, rows: {"done": "1"},
    "portal.request_reply": lambda ids, rows: {"body": "matrix"},
    "portal.payment_mark_paid": lambda ids, rows: {"paid_on": TODAY, "confirmation_number": "M-1"},
}


def _side(ids, entity_id):
    return "a" if entity_id == ids["entity_a"] else "b"


def _combos(route, ids):
    """Every combination of cast rows for the route's ids: {argument: cast name}."""
    names = [[(arg, name) for name in ROWS[model]] for arg, model in route.models.items()]
    return [dict(combo) for combo in itertools.product(*names)]


def _request(app, route, ids, combo, token, rows):
    """(url, form data) for one case."""
    values = {arg: ids[name] for arg, name in combo.items() if arg != "rowid"}
    if route.action and route.endpoint.endswith(".action"):
        values["name"] = route.action
    if route.name:
        values["name"] = route.name
    url = app.url_map.bind("localhost").build(route.endpoint, values) if values else route.rule
    data = {}
    if route.method == "POST":
        data = {"csrf_token": token, **FORMS.get(route.endpoint, lambda *_: {})(ids, rows)}
        if "rowid" in combo:
            data.update(action=route.action, rowid=str(ids[combo["rowid"]]))
    return url, data


def _predict_and_send(app, test_client, token, actor, route, ids, combo):
    """(what the access module predicts, what the route answered, its status, its body) for one case."""
    with app.test_request_context():  # a request context: the access module memoises its lookups
        rows = {arg: db.session.get(route.models[arg], ids[name]) for arg, name in combo.items()}
        want = M.expected(user_of(ids, actor), route, rows)
        url, data = _request(app, route, ids, combo, token, rows)
        db.session.remove()
    try:
        response = test_client.open(url, method=route.method, data=data, headers={"X-CSRFToken": token})
        return want, outcome_of(response), response.status_code, response.get_data(as_text=True)
    except Exception as exc:  # noqa: BLE001 (a crash is one more wrong answer to report)
        return want, "500", f"{type(exc).__name__}: {exc}", ""


def _run_case(app, test_client, token, actor, route, ids, combo, snapshot):
    """One request; the problems found (empty when the route behaved as the access module says)."""
    want, got, status, body = _predict_and_send(app, test_client, token, actor, route, ids, combo)
    touched = put_back_changes(app, snapshot)
    case = f"{route.label} {combo} as {actor}"
    if route.label in KNOWN:
        return []  # reported in KNOWN, fixed elsewhere
    problems = []
    if got != want and not (want == "denied" and got == "ok"):
        problems.append(f"{case}: expected {want}, got {got} ({status})")
    if touched and (want != "ok" or got != "ok"):
        problems.append(f"{case}: refused but changed {touched}")
    elif touched and route.method == "GET" and set(touched) - READ_EFFECTS:
        problems.append(f"{case}: a GET changed {touched}")
    if actor in CONTACT_ACTORS and ("INTERNAL-NOTE" in body or "staff-only.pdf" in body):
        problems.append(f"{case}: staff-only content reached a contact")
    return problems


def _sessions_ended(app, ids, actor):
    if actor == "anonymous" or actor in CONTACT_ACTORS:
        return False
    with app.app_context():
        return not staff_sessions.sessions_of(ids[actor])


@pytest.fixture(scope="module")
def matrix(app):
    """The generated routes (and the ids no table maps)."""
    return M.routes(app)


def test_every_id_route_is_mapped_to_a_model_and_a_right(matrix):
    """A new route with an object id fails here until the matrix knows its model and right."""
    found, unmapped = matrix
    assert unmapped == []
    assert len({r.endpoint for r in found}) > 60


@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("actor", ACTORS)
def test_access_matrix(app, cast, world, matrix, actor, shard, login, portal_login):
    """Each route × object answers this actor as access.can() says; refused requests change nothing."""
    found = matrix[0][shard::SHARDS]
    snapshot = world[1]
    test_client, token = signed_in(app, cast, actor, portal_login, login)
    problems, cases = [], 0
    for route in found:
        combos = _combos(route, cast)
        with app.test_request_context():
            if M.gate(user_of(cast, actor), route):
                combos = combos[:1]  # refused before any object is read: the own-entity object is enough
        for combo in combos:
            cases += 1
            problems += _run_case(app, test_client, token, actor, route, cast, combo, snapshot)
            if _sessions_ended(app, cast, actor):  # the case deactivated or deleted the actor (put back)
                login(test_client, cast[actor])
    assert problems == [], f"{len(problems)} of {cases} cases:\n" + "\n".join(problems)


# Written by hand, not derived from access.py: the matrix's predictions must agree with these.
SANITY = [
    ("viewer", "POST", "EntityView.delete", None, {"pk": "entity_a"}, "403"),  # a Viewer cannot delete
    ("viewer", "POST", "TaskView.act", "assign", {"pk": "task_a"}, "ok"),  # …but works on tasks
    ("owner", "POST", "EntityView.delete", None, {"pk": "entity_b"}, "404"),  # a foreign entity does not exist
    ("owner", "GET", "TaskView.show", None, {"pk": "task_b"}, "404"),
    ("staff", "GET", "EntityView.show", None, {"pk": "entity_a"}, "404"),  # Staff without a share: nothing
    ("staff_admin", "GET", "TaskView.show", None, {"pk": "task_b"}, "ok"),  # Staff Admin reads everything…
    ("staff_admin", "POST", "TaskView.act", "assign", {"pk": "task_a"}, "403"),  # …and works on nothing
    ("entities_admin", "GET", "RoleModelView.show", None, {"pk": "role"}, "403"),  # FAB security: Admin only
    ("staff_admin", "POST", "StaffUserView.delete", None, {"pk": "admin"}, "403"),  # an Admin's account
    ("access", "POST", "portal.task_upload", None, {"task_id": "task_a"}, "403"),  # Entity Access: no uploads
    ("collaborator", "POST", "portal.task_upload", None, {"task_id": "task_a"}, "ok"),
    ("access", "POST", "portal.k1_revoke", None, {"recipient_id": "k1_a"}, "403"),
    ("collaborator", "GET", "portal.document", None, {"doc_id": "staff_document_a"}, "404"),
    ("collaborator", "GET", "portal.document", None, {"doc_id": "document_b"}, "404"),
    ("collaborator", "GET", "portal.task", None, {"task_id": "task_b"}, "404"),
    ("collaborator", "POST", "portal.settings_remove_email", None, {"email_id": "email_access"}, "404"),
    ("collaborator", "GET", "TaskView.show", None, {"pk": "task_a"}, "403"),  # no staff screen for a contact
    ("disabled", "GET", "portal.task", None, {"task_id": "task_a"}, "signin"),  # a disabled contact: nothing
    ("disabled", "GET", "portal.document_download", None, {"doc_id": "document_a"}, "signin"),
    ("disabled", "GET", "TaskView.show", None, {"pk": "task_a"}, "login"),
    ("anonymous", "GET", "DocumentFilesView.download", None, {"doc_id": "document_a"}, "login"),
    ("owner", "POST", "NotificationsView.open", None, {"pk": "bell_viewer"}, "404"),  # someone else's bell
]


@pytest.mark.parametrize("actor, method, endpoint, name, combo, outcome", SANITY,
                         ids=[f"{row[0]}-{row[1]}-{row[2]}-{row[4]}" for row in SANITY])
def test_hand_written_expectations(app, cast, world, matrix, login, portal_login, actor, method, endpoint, name,
                                   combo, outcome):
    """A few outcomes fixed by hand: the matrix's predictions and the app's answers both match them."""
    route = next(r for r in matrix[0] if r.endpoint == endpoint and r.method == method
                 and name in (r.action, r.name, None) and set(r.models) == set(combo))
    test_client, token = signed_in(app, cast, actor, portal_login, login)
    want, got, status, _body = _predict_and_send(app, test_client, token, actor, route, cast, combo)
    touched = put_back_changes(app, world[1])
    assert (want, got) == (outcome, outcome), status
    assert outcome == "ok" or not touched


def test_a_merged_email_cannot_sign_in(app, cast, client, smtp):
    """A merged (non-primary) e-mail with the contact's PIN gets no code and no session."""
    with app.app_context():
        address = cast["merged_address"]
    token = csrf(app, client)
    client.post("/portal/sign-in", data={"csrf_token": token, "email": address})
    answer = client.post("/portal/sign-in/pin", data={"csrf_token": token, "pin": f.PIN})
    assert "That PIN is not right." in answer.get_data(as_text=True)
    assert outcome_of(client.get("/portal/")) == "signin"
    with app.app_context():
        assert db.session.query(AccessCode).filter_by(contact_id=cast["collaborator"]).count() == 0
    assert all(address not in str(message["To"]) for message in smtp.messages)


# The guest K-1 routes: the session's link is the only key. What the partner whose link this
# browser opened gets on their own routes (no code verified yet); everyone else gets 404.
K1_OWN = {"k1.page": "ok", "k1.send_code": "ok", "k1.verify": "ok", "k1.download": "403"}


def _guest(app, ids, link):
    """A browser that opened no link, or the mailed link of partner "k1_a" / "k1_b"."""
    test_client = app.test_client()
    if link:
        assert outcome_of(test_client.get(f"/k1/{ids[link.replace('k1_', 'k1_token_')]}")) == "ok"
    return test_client, csrf(app, test_client)


def test_guest_k1_routes_need_the_partners_own_link(app, cast, world):
    """No link or another partner's link: every guest K-1 route answers 404 and changes nothing."""
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("k1.") and "recipient_id" in r.arguments]
    assert {r.endpoint for r in rules} == set(K1_OWN), "a new guest route: say what its partner gets"
    problems = []
    for link, partner, rule in itertools.product((None, "k1_a", "k1_b"), ("k1_a", "k1_b"), rules):
        test_client, token = _guest(app, cast, link)
        url = app.url_map.bind("localhost").build(rule.endpoint, {"recipient_id": cast[partner]})
        method = "POST" if "POST" in rule.methods else "GET"
        response = test_client.open(url, method=method, data={"csrf_token": token, "code": "00000000"})
        want = K1_OWN[rule.endpoint] if link == partner else "404"
        touched = put_back_changes(app, world[1])
        if outcome_of(response) != want or (touched and want != "ok"):
            problems.append(f"{method} {rule.endpoint} {partner} with link {link}: {response.status_code} {touched}")
    assert outcome_of(app.test_client().get("/k1/not-a-token")) == "404"
    assert problems == []


OPS_READS = ("ops.index", "ops_jobs.index", "ops_mail.index", "ops_outbox.index_view", "ops_audit.index_view")


@pytest.mark.parametrize("actor", ACTORS)
def test_ops_console_is_admin_only(app, cast, world, actor, login, portal_login):
    """Every /ops route: an Admin reads it; anyone else is refused and changes nothing (signed out or
    disabled: the login page; signed in without the right: 403)."""
    test_client, token = signed_in(app, cast, actor, portal_login, login)
    problems = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("ops") or rule.endpoint.endswith("static"):
            continue
        values = {a: {"export_type": "csv", "filename": "x.eml"}.get(a, "1") for a in rule.arguments}
        url = app.url_map.bind("localhost").build(rule.endpoint, values)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = test_client.open(url, method=method, data={"csrf_token": token})
            touched = put_back_changes(app, world[1])
            got = outcome_of(response)
            if actor == "admin":
                bad = rule.endpoint in OPS_READS and got != "ok" or response.status_code >= 500
            else:
                bad = touched or got != ("login" if actor in ("anonymous", "disabled") else "403")
            if bad:
                problems.append(f"{method} {rule.endpoint}: {response.status_code} {touched}")
    assert problems == []
