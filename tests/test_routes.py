"""Every route in app.url_map has a row here; anonymous visitors and clients are refused by each."""
import re

import pytest
from werkzeug.routing import Rule

from app.api import API_RESOURCES
from app.security import roles as R
from app.views.guest_k1 import PUBLIC as K1_PUBLIC
from app.views.portal import PUBLIC as PORTAL_PUBLIC
from tests import factories as f
from tests.conftest import csrf_token

# Routes anyone may call. Everything else needs a signed-in user with a screen permission.
PUBLIC = {
    "static", "appbuilder.static", "portico.health", "portico.ready", "StaffAuthDBView.login", "StaffAuthDBView.logout",
    "LocaleView.index", "UtilView.back", "HomeView.index",
    "ops.static", "portico.firm_logo",
} | PORTAL_PUBLIC | K1_PUBLIC
# Portal pages: only a contact signed in through the portal (anyone else goes to its sign-in).
PORTAL = "portal."
# FAB's single-row ".action" routes refuse by redirecting back with an "Access denied" flash.
# API routes answer 401 instead of redirecting to the login page.
API = {"MenuApi.get_menu_data"}
# The REST API (/api/v1): every route answers 401 (problem details) without a bearer token.
API_PREFIXES = tuple(f"{cls.__name__}." for cls in API_RESOURCES) + ("ApiDocumentApi.",)


def _is_api(endpoint):
    return endpoint in API or endpoint.startswith(API_PREFIXES)
# Screens only an Admin reaches (FAB's own security screens).
ADMIN_ONLY_PREFIXES = ("PermissionModelView", "PermissionViewModelView", "RoleModelView", "UserGroupModelView",
                       "ViewMenuModelView", "UserStatsChartView", "FirmSettingsView", "StaffSignInView", "WebhookView", "ops.", "ops_")
SAMPLE_ARGS = {"pk": "1", "name": "muldelete", "filename": "x.txt", "group_by": "x", "locale": "et"}


def _rules(app):
    return [r for r in app.url_map.iter_rules() if not r.endpoint.endswith("static")]


def _url(rule: Rule):
    def value(match):
        converter, name = match.group(1), match.group(2)
        return "1" if converter == "int" else SAMPLE_ARGS.get(name, "x")

    return re.sub(r"<(?:([^:<>]+):)?([^<>]+)>", value, rule.rule)


def test_every_route_is_classified(app):
    """A new route must be added to this matrix: public, API, or behind the login."""
    known_prefixes = ("ActivityEventView", "ImportView", "ContactEmailView", "ContactGroupView", "ContactView", "EntityShareView",
                      "EntityView", "StaffUserView", "StaffResetPasswordView", "StaffResetMyPasswordView",
                      "UserInfoEditView", "DocumentView", "DocumentFilesView",
                      "DocumentBrowserView", "ClientRequestView", "TaskView", "TaskSeriesView", "FileRequestView",
                      "NotificationsView", "TaxVoucherView", "K1RecipientView", "TaskTemplateView", "TaskBatchView",
                      "SignatureRequestView", "SharesView", "OrganizerView", "OrganizerTemplateView",
                      "TwoFactorView", "PasskeyView", "MySessionsView", "ApiTokensView", "ApiDocsView",
                      PORTAL) + ADMIN_ONLY_PREFIXES
    unknown = [r.endpoint for r in app.url_map.iter_rules()
               if r.endpoint not in PUBLIC and not _is_api(r.endpoint) and not r.endpoint.startswith(known_prefixes)]
    assert unknown == []


def test_anonymous_visitors_reach_only_public_routes(app, client):
    """Without a session every non-public route redirects to the login (or 401 for APIs, 400 CSRF)."""
    for rule in _rules(app):
        if rule.endpoint in PUBLIC:
            continue
        method = "GET" if "GET" in rule.methods else "POST"
        if _is_api(rule.endpoint):  # API routes may be PATCH or DELETE only
            method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        response = client.open(_url(rule), method=method)
        if _is_api(rule.endpoint):
            assert response.status_code == 401, rule.endpoint
        elif method == "POST":
            assert response.status_code in (302, 400), rule.endpoint  # CSRF refuses before anything runs
        elif rule.endpoint.startswith(PORTAL):
            assert response.status_code == 302, rule.endpoint
            assert response.headers["Location"].endswith("/portal/sign-in"), rule.endpoint
        elif rule.endpoint.endswith(".download") and not rule.endpoint.startswith("DocumentFilesView"):
            assert response.status_code == 404, rule.endpoint  # FAB's generic download is switched off
        elif rule.endpoint.endswith(".action"):
            assert response.status_code == 302, rule.endpoint  # FAB refuses GET actions by redirecting
        else:
            assert response.status_code == 302, rule.endpoint
            assert "/login/" in response.headers["Location"], rule.endpoint


@pytest.mark.parametrize("who", ["client", R.STAFF, R.STAFF_ADMIN])
def test_non_admins_get_no_data_from_any_admin_only_route(app, client, login, who):
    """Clients reach no back-office route; Staff and Staff Admin none of FAB's security screens."""
    with app.app_context():
        user = f.contact(with_user=True).user.id if who == "client" else f.staff(who).id
        f.entity("Some Co")
    login(client, user)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/resetmypassword/form").get_data(as_text=True) or "") if who != "client" else None
    for rule in _rules(app):
        endpoint = rule.endpoint
        if endpoint in PUBLIC or _is_api(endpoint):
            continue
        if endpoint.startswith(PORTAL) or who != "client" and not endpoint.startswith(ADMIN_ONLY_PREFIXES):
            continue
        method = "GET" if "GET" in rule.methods else "POST"
        data = {"csrf_token": token.group(1)} if token else {}
        response = client.open(_url(rule), method=method, data=data)
        refused = (400, 403, 404, 405) + ((302,) if endpoint.endswith(".action") else ())
        assert response.status_code in refused, (endpoint, response.status_code)


@pytest.mark.parametrize("who", ["client", R.STAFF, R.ADMIN])
def test_portal_pages_need_a_portal_session(app, client, login, who):
    """A FAB session alone (staff, or a client account without a portal sign-in) reaches no portal page."""
    with app.app_context():
        user = f.contact(with_user=True).user.id if who == "client" else f.staff(who).id
    login(client, user)
    for rule in _rules(app):
        if not rule.endpoint.startswith(PORTAL) or rule.endpoint in PUBLIC or "GET" not in rule.methods:
            continue
        response = client.get(_url(rule))
        assert response.status_code == 302, rule.endpoint
        assert response.headers["Location"].endswith("/portal/sign-in"), rule.endpoint


BIG = str(2**64)


# 10 -------------------------------------------------------------------------------------------------
GETS = [f"/portal/tasks/{BIG}", f"/portal/documents/{BIG}", f"/portal/documents/{BIG}/download",
        f"/portal/documents/{BIG}/view", f"/portal/requests/{BIG}", f"/portal/payments/voucher/{BIG}/pay",
        f"/portal/payments/voucher/{BIG}/paid", f"/portal/documents?folder={BIG}",
        "/portal/documents?to=9999-12-31", "/portal/documents?from=9999-12-31&to=9999-12-31",
        f"/portal/payments?entity={BIG}", "/portal/payments/9999-12-31", f"/portal/requests?page={BIG}",
        f"/portal/k1?page={BIG}", f"/portal/documents?page={BIG}", f"/portal/notifications?page={BIG}"]


POSTS = [f"/portal/notifications/{BIG}/open", f"/portal/settings/emails/{BIG}/remove",
         f"/portal/settings/browsers/{BIG}/revoke", "/portal/tasks/{task}/checklist/" + BIG,
         f"/portal/tasks/{BIG}/checklist/1", f"/portal/tasks/{BIG}/reply", f"/portal/tasks/{BIG}/files",
         f"/portal/tasks/{BIG}/done", f"/portal/requests/{BIG}/reply", f"/portal/payments/voucher/{BIG}/paid",
         "/portal/entity", "/portal/send-files"]


def test_huge_ids_and_far_dates_never_give_500_on_portal_routes(app, client, portal_login, world):
    """Ids of 2**64 and ?to=9999-12-31 gave 500s: every portal route with an id now answers 404 or 200."""
    portal_login(client, world.cora)
    token = csrf_token(client, "/portal/settings/profile")
    answers = {path: client.get(path).status_code for path in GETS}
    for path in POSTS:
        path = path.replace("{task}", str(world.task))
        answers[path] = client.post(path, data={"csrf_token": token, "entity_id": BIG, "done": "1",
                                                "body": "hi", "paid_on": "2026-01-01"}).status_code
    wrong = {path: status for path, status in answers.items()
             if status not in ((404,) if BIG in path.split("?")[0] else (200, 404))}
    assert not wrong, wrong


def test_ids_past_the_integer_columns_are_404_on_screens(app, client, login):
    """Ids past 2**31-1 (the INTEGER columns' range) gave 500 on PostgreSQL: screens answer 404."""
    with app.app_context():
        admin = f.staff(R.ADMIN).id
    login(client, admin)
    for path in (f"/entityview/show/{2**31}", f"/entityview/show/{2**40}", f"/contactview/show/{2**62}"):
        assert client.get(path).status_code == 404, path
