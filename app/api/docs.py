"""The OpenAPI document (/api/v1/_openapi) and its interactive page (/api-docs/, FAB's bundled
Swagger UI, served from our own static files)."""
from flask import g
from flask_appbuilder import BaseView, expose
from flask_appbuilder.api import BaseApi
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from app.api import auth, openapi
from app.api.problems import ApiError, from_api_error, from_http_exception, from_unexpected
from app.security import access


class ApiDocumentApi(BaseApi):
    """GET /api/v1/_openapi: for a valid token, or a signed-in staff member (the interactive page)."""

    route_base = "/api/v1"
    version = "v1"

    def create_blueprint(self, appbuilder, endpoint=None, static_folder=None):
        """FAB's blueprint with problem-details errors."""
        blueprint = super().create_blueprint(appbuilder, endpoint, static_folder)
        blueprint.register_error_handler(ApiError, from_api_error)
        blueprint.register_error_handler(HTTPException, from_http_exception)
        blueprint.register_error_handler(Exception, from_unexpected)
        return blueprint

    @expose("/_openapi", methods=["GET"])
    def document(self):
        """The OpenAPI 3 document of every resource."""
        if auth.bearer_text() is not None:
            auth.authenticate()
            response = self.response(200, **openapi.document())
            return auth.record(response)
        if not current_user.is_authenticated or access.is_contact(current_user):
            raise ApiError(401, "Send a valid API token, or sign in as staff.",
                           headers={"WWW-Authenticate": 'Bearer realm="api"'})
        g.api_token = None
        return self.response(200, **openapi.document())

    def add_api_spec(self, api_spec):
        """Described by openapi.document() itself."""


class ApiDocsView(BaseView):
    """The interactive page of the API (Swagger UI bundled with FAB: no CDN)."""

    route_base = "/api-docs"
    default_view = "index"
    base_permissions = ["can_show"]
    method_permission_name = {"index": "show"}

    @expose("/")
    @has_access
    def index(self):
        """Swagger UI on /api/v1/_openapi (authorise with a token to try calls), in AA contrast."""
        return self.render_template("portico/api_docs.html", openapi_uri="/api/v1/_openapi",
                                    title=_l("API"))
