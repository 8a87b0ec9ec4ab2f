"""ApiResource: one model as a REST resource (list, read, create, update, delete) on FAB's BaseApi.

FAB's BaseApi gives the blueprint under /api/v1/<resource_name>, CSRF exemption and the OpenAPI hooks;
authentication, rights, pagination, tags and errors are ours (see app/api/__init__.py for the guide).
"""
from flask import g, request, url_for
from flask_appbuilder.api import BaseApi, expose
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.api import auth, filters as api_filters, openapi, paging
from app.api.problems import ApiError, from_api_error, from_http_exception, from_unexpected, invalid
from app.api.schemas import storable
from app.extensions import db
from app.security import access
from app.security import roles as R
from app.security.guard import MAX_PK

def parse_pk(raw):
    """An id from a path: a plain ASCII integer in the 64-bit range, else a 404 problem."""
    raw = str(raw)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_PK:
        raise ApiError(404, "No such resource.")
    return int(raw)


OPERATIONS = ("list", "get", "create", "update", "delete")
METHOD_NAMES = {op: f"api_{op}" for op in OPERATIONS}
SCREEN_PERMISSIONS = {"list": "can_list", "get": "can_show", "create": "can_add", "update": "can_edit",
                      "delete": "can_delete"}
JSON_TYPES = ("application/json",)


class ApiResource(BaseApi):
    """Subclass with: resource_name, model, schema, create_schema, update_schema, screen, filters,
    eager, rights, operations; and the hooks create / update / delete calling services."""

    version = "v1"
    resource_name = None
    model = None
    schema = None  # output (marshmallow Schema class)
    create_schema = None  # input of POST (unknown fields refused)
    update_schema = None  # input of PATCH, loaded partially (defaults to create_schema)
    list_exclude = ()  # output fields left out of lists (e.g. a full tax id)
    screen = None  # the FAB screen whose permissions decide, as on the screens (e.g. "EntityView")
    filters = {}  # query parameter -> app.api.filters.Filter
    eager = ()  # loader options so a page runs a fixed number of statements
    rights = {"get": R.VIEW, "update": R.EDIT, "delete": R.DELETE}  # row rights (access.can actions)
    operations = OPERATIONS
    openapi_spec_tag = None

    def __init__(self):
        self.exclude_route_methods = {METHOD_NAMES[op] for op in OPERATIONS if op not in self.operations}
        self.route_base = f"/api/{self.version}/{self.resource_name}"
        self.openapi_spec_tag = self.openapi_spec_tag or self.resource_name
        super().__init__()

    def create_blueprint(self, appbuilder, endpoint=None, static_folder=None):
        """FAB's blueprint (CSRF-exempt: only a bearer token authenticates), with our auth and errors."""
        blueprint = super().create_blueprint(appbuilder, endpoint, static_folder)
        blueprint.before_request(auth.authenticate)
        blueprint.after_request(auth.record)
        blueprint.register_error_handler(ApiError, from_api_error)
        blueprint.register_error_handler(HTTPException, from_http_exception)
        blueprint.register_error_handler(413, from_http_exception)  # else the app's HTML page answers
        blueprint.register_error_handler(Exception, from_unexpected)
        return blueprint

    # Rights ----------------------------------------------------------------------------------------

    @property
    def user(self):
        """The token's owner: every decision is theirs, as on the screens."""
        token = g.get("api_token") if g else None
        return token.user if token is not None else None

    def require_screen(self, op):
        """403 unless the owner's roles hold the screen permission the screens ask for `op`."""
        permission = SCREEN_PERMISSIONS.get(op, op)
        if self.screen and not access.has_screen_permission(self.user, permission, self.screen):
            raise ApiError(403, "Your roles do not allow this.")

    def scope_query(self):
        """The rows the owner may see (override for models the access module reaches differently)."""
        return access.visible(self.user, self.model)

    def load(self, pk, op="get"):
        """The row `pk`: 404 outside the owner's scope, 403 without the screen permission or row right."""
        pk = parse_pk(pk)  # not a 64-bit id: 404 like any unknown one
        row = db.session.scalar(self.scope_query().where(self.model.id == pk).options(*self.eager))
        if row is None:
            raise ApiError(404, "No such resource.")
        self.require_screen(op)
        action = self.rights.get(op, R.VIEW)
        if action != R.VIEW and not access.can(self.user, action, row):
            raise ApiError(403, "You may not do this to this resource.")
        return row

    def reference(self, model, pk, field, action=R.VIEW):
        """The `model` row `pk` named in the body's `field`, if the owner sees it (else 422); None stays None."""
        if pk is None:
            return None
        row = db.session.scalar(access.visible(self.user, model, action).where(model.id == pk))
        if row is None:
            raise invalid({field: ["No such id among those you may use."]})
        return row

    # Representation --------------------------------------------------------------------------------

    def dump(self, row, many=False):
        """The JSON representation of one row (or a list of rows)."""
        if many:
            return self.schema(many=True, exclude=self.list_exclude).dump(row)
        return self.schema().dump(row)

    def one(self, row, status=200):
        """A response with one row's representation and its ETag."""
        body = self.dump(row)
        response = self.response(status, **body)
        response.headers["ETag"] = paging.etag(body)
        if status == 201:
            response.headers["Location"] = url_for(f"{self.endpoint}.api_get", pk=row.id)
        return response

    def body(self, schema_class, partial=False):
        """The request's JSON object loaded by `schema_class`: 415 / 400 / 422 when it is not one."""
        if request.mimetype not in JSON_TYPES:
            raise ApiError(415, "Send a JSON body (Content-Type: application/json).")
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # nested deeper than the parser goes
            data = None
        if data is None and request.get_data(cache=True):
            raise ApiError(400, "The body is not valid JSON.")
        if not isinstance(data, dict):
            raise ApiError(400, "The body must be a JSON object.")
        bad = [str(key) for key, value in data.items() if not storable(value)]
        if bad:  # NUL characters and lone surrogates: no database stores them
            raise invalid({key[:100]: ["Text with NUL characters or invalid Unicode."] for key in bad[:20]})
        try:
            return schema_class().load(data, partial=partial)
        except ValidationError as exc:
            raise invalid(exc.messages) from exc

    # Hooks (call services; raise ApiError / invalid(...) for refusals) ---------------------------------

    # A resource overrides the hooks of the operations it lists; the others are never routed, and
    # answer 405 should a subclass list an operation without its hook.
    def create(self, data):
        """Create and return the row from validated `data`."""
        raise ApiError(405, "This resource cannot be created through the API.")

    def update(self, row, data):
        """Apply validated (partial) `data` to `row` and return it."""
        raise ApiError(405, "This resource cannot be changed through the API.")

    def delete(self, row):
        """Delete `row`."""
        raise ApiError(405, "This resource cannot be deleted through the API.")

    # Endpoints ----------------------------------------------------------------------------------------

    @expose("/", methods=["GET"])
    def api_list(self):
        """List rows in the owner's scope, filtered, ordered by id, one keyset page at a time."""
        self.require_screen("list")
        args = request.args
        limit, after = paging.parse_limit(args.get("limit")), paging.decode_cursor(args.get("cursor"))
        query = api_filters.apply(self.scope_query(), self.filters, args)
        rows = db.session.scalars(query.where(self.model.id > after).order_by(self.model.id)
                                  .limit(limit + 1).options(*self.eager)).unique().all()
        page, more = rows[:limit], len(rows) > limit
        return self.response(200, items=self.dump(page, many=True),
                             next_cursor=paging.encode_cursor(page[-1].id) if more else None)

    @expose("/<pk>", methods=["GET"])
    def api_get(self, pk):
        """One row, with its ETag."""
        return self.one(self.load(pk, "get"))

    @expose("/", methods=["POST"])
    def api_create(self):
        """Create a row (201, Location and ETag)."""
        self.require_screen("create")
        data = self.body(self.create_schema)
        return self.one(self.create(data), status=201)

    @expose("/<pk>", methods=["PATCH"])
    def api_update(self, pk):
        """Change some fields of a row; If-Match must carry its current ETag."""
        row = self.load(pk, "update")
        paging.require_match(request.headers.get("If-Match"), paging.etag(self.dump(row)))
        data = self.body(self.update_schema or self.create_schema, partial=True)
        return self.one(self.update(row, data))

    @expose("/<pk>", methods=["DELETE"])
    def api_delete(self, pk):
        """Delete a row; If-Match must carry its current ETag (204)."""
        row = self.load(pk, "delete")
        paging.require_match(request.headers.get("If-Match"), paging.etag(self.dump(row)))
        self.delete(row)
        return "", 204

    # OpenAPI --------------------------------------------------------------------------------------------

    def add_api_spec(self, api_spec):
        """Paths and schemas of this resource, generated from its declarations (see app/api/openapi.py)."""
        openapi.add_resource(api_spec, self)

