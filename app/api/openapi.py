"""The OpenAPI 3 document of /api/v1, generated from the resources: paths from their endpoints,
schemas from their marshmallow classes, problem responses from what the framework answers."""
from apispec import APISpec
from apispec.exceptions import DuplicateComponentNameError
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from apispec.yaml_utils import load_operations_from_docstring
from flask import current_app

from app.security.guard import MAX_PK

OPENAPI_VERSION = "3.0.3"
PROBLEM = "application/problem+json"
SECURITY = [{"bearer": []}]
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "Problem details (RFC 9457).",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "description": "Messages per field or parameter.",
                   "additionalProperties": True},
    },
}
REASONS = {
    400: "Malformed request: bad JSON, an unknown or invalid query parameter, a bad cursor.",
    401: "No valid bearer token (missing, unknown, expired, revoked, or its owner is disabled).",
    403: "The token's owner may not do this, or the token is read-only.",
    404: "No such resource among those the token's owner may see.",
    409: "The change collided with another one; nothing was saved.",
    412: "If-Match does not carry the current ETag.",
    415: "The body is not JSON.",
    422: "The body does not validate (see errors).",
    428: "If-Match is required.",
    429: "Too many requests with this token (see Retry-After).",
}
PK_PARAMETER = {"name": "pk", "in": "path", "required": True,
                "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": MAX_PK}}
ETAG_HEADER = {"ETag": {"description": "Send it back in If-Match to change or delete.", "schema": {"type": "string"}}}


def schema_name(schema):
    """The component name of a marshmallow schema: its class name without "Schema"."""
    name = resolve_schema_cls(schema).__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def _converter():
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    APISpec("fields", "v1", OPENAPI_VERSION, plugins=[plugin])
    return plugin.converter


def field_schema(field):
    """The JSON schema of one marshmallow field (for query parameters)."""
    return _converter().field2property(field)


def new_spec():
    """An empty document with the bearer scheme and the problem schema."""
    spec = APISpec(title=f"{current_app.config.get('APP_NAME', 'Portico')} API", version="v1",
                   openapi_version=OPENAPI_VERSION, plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
                   info={"description": "Portico's REST API. Authenticate with a personal API token: "
                                        "`Authorization: Bearer <token>`."},
                   security=SECURITY)  # no servers: the document's own host (and no unlabelled picker on the page)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "A personal API token (ptk_…) from the API tokens page."})
    spec.components.schema("Problem", PROBLEM_SCHEMA)
    return spec


def problems(*codes):
    """The responses of the given error statuses, each a problem document."""
    out = {}
    for code in codes:
        response = {"description": REASONS[code], "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        if code == 429:
            response["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
        out[str(code)] = response
    return out


def register(spec, schema, name=None, partial=False):
    """Add a marshmallow schema as a component (partial: nothing required) and return its $ref."""
    name = name or schema_name(schema)
    try:
        if partial:
            converter = spec.plugins[0].converter if spec.plugins else _converter()
            body = converter.schema2jsonschema(schema)
            body.pop("required", None)
            spec.components.schema(name, body)
        else:
            spec.components.schema(name, schema=schema)
    except DuplicateComponentNameError:
        pass
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema_ref):
    return {"application/json": {"schema": schema_ref}}


def standard_operations(spec, resource):
    """{op: (path suffix, method, operation)} of a resource's standard endpoints."""
    name, tag = schema_name(resource.schema), resource.openapi_spec_tag
    item = register(spec, resource.schema)
    if resource.list_exclude:
        item = register(spec, resource.schema(exclude=resource.list_exclude), name=f"{name}ListItem")
    from app.api.filters import parameters

    page = {"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": item},
        "next_cursor": {"type": "string", "nullable": True, "description": "null on the last page."}}}
    one = {"description": f"The {name}.", "headers": ETAG_HEADER, "content": _json(register(spec, resource.schema))}
    ops = {"list": ("/", "get", {"summary": f"List {resource.resource_name}", "parameters": parameters(resource.filters),
                                 "responses": {"200": {"description": "One page, ordered by id.",
                                                       "content": _json(page)}, **problems(400, 401, 403, 429)}}),
           "get": ("/{pk}", "get", {"summary": f"Read one {name}", "parameters": [PK_PARAMETER],
                                    "responses": {"200": one, **problems(401, 403, 404, 429)}})}
    if resource.create_schema is not None:
        created = dict(one, headers=dict(ETAG_HEADER, Location={"schema": {"type": "string"}}))
        ops["create"] = ("/", "post", {
            "summary": f"Create one {name}", "requestBody": {"required": True, "content": _json(
                register(spec, resource.create_schema, name=f"{name}Create"))},
            "responses": {"201": created, **problems(400, 401, 403, 409, 415, 422, 429)}})
        update_body = register(spec, resource.update_schema or resource.create_schema, name=f"{name}Update",
                               partial=True)
        ops["update"] = ("/{pk}", "patch", {
            "summary": f"Change one {name}", "parameters": [PK_PARAMETER, _if_match()],
            "requestBody": {"required": True, "content": _json(update_body)},
            "responses": {"200": one, **problems(400, 401, 403, 404, 409, 412, 415, 422, 428, 429)}})
    ops["delete"] = ("/{pk}", "delete", {"summary": f"Delete one {name}", "parameters": [PK_PARAMETER, _if_match()],
                                         "responses": {"204": {"description": "Deleted."},
                                                       **problems(401, 403, 404, 409, 412, 428, 429)}})
    prefix = resource.resource_name.replace("-", "_")
    for op, (_suffix, _method, operation) in ops.items():
        operation.update(tags=[tag], operationId=f"{prefix}_{op}")
        for status in ("200", "201"):
            if op in ("get", "create", "update") and status in operation["responses"]:
                operation["responses"][status] = dict(operation["responses"][status], links=_links(resource, prefix))
    return {op: spec_ for op, spec_ in ops.items() if op in resource.operations}


def _links(resource, prefix):
    """OpenAPI links from a representation to reading, changing and deleting it (the id and ETag carried)."""
    links = {}
    for op in ("get", "update", "delete"):
        if op in resource.operations:
            parameters = {"path.pk": "$response.body#/id"}
            if op != "get":
                parameters["header.If-Match"] = "$response.header.ETag"
            links[op] = {"operationId": f"{prefix}_{op}", "parameters": parameters}
    return links


def _if_match():
    return {"name": "If-Match", "in": "header", "required": False,
            "description": "The ETag of your last read (required: 428 without it).", "schema": {"type": "string"}}


def operation(spec_by_method):
    """Decorator for a resource's own endpoints: their OpenAPI operations, {"get": {...}, "post": {...}}.
    Problem responses 401/403/429 and the bearer security are added; endpoints without it may use FAB's
    YAML docstring instead."""
    def wrap(func):
        func._openapi = spec_by_method
        return func
    return wrap


def add_resource(spec, resource):
    """Add every endpoint of `resource` (standard ones generated, its own from @operation or docstrings)."""
    from app.api.resource import METHOD_NAMES

    standard = standard_operations(spec, resource)
    paths = {}
    for op, (suffix, method, operation_) in standard.items():
        paths.setdefault(resource.route_base + suffix, {})[method] = operation_
    for attr_name in dir(type(resource)):
        func = getattr(resource, attr_name, None)
        if attr_name in METHOD_NAMES.values() or not hasattr(func, "_urls"):
            continue
        described = getattr(func, "_openapi", None) or load_operations_from_docstring(func.__doc__ or "") or {}
        for url, methods in func._urls:
            path = resource.path_helper(path=url)
            for method in methods:
                operation_ = dict(described.get(method.lower(), {"summary": (func.__doc__ or "").strip()[:120]}))
                operation_.setdefault("tags", [resource.openapi_spec_tag])
                operation_.setdefault("operationId", f"{resource.resource_name.replace('-', '_')}_{attr_name}")
                responses = operation_.setdefault("responses", {"200": {"description": "OK"}})
                for code, response in problems(401, 403, 429).items():
                    responses.setdefault(code, response)
                paths.setdefault(path, {})[method.lower()] = operation_
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)


def document():
    """The whole document of /api/v1 (every ApiResource registered in the app)."""
    from app.api.resource import ApiResource

    spec = new_spec()
    resources = [v for v in current_app.appbuilder.baseviews if isinstance(v, ApiResource)]
    for resource in sorted(resources, key=lambda r: r.resource_name):
        resource.add_api_spec(spec)
    spec.path(path="/api/v1/_openapi", operations={"get": {
        "summary": "This document", "operationId": "openapi", "tags": ["meta"],
        "responses": {"200": {"description": "The OpenAPI document.", "content": _json({"type": "object"})},
                      **problems(401)}}})
    return spec.to_dict()
