"""Portico's REST API: /api/v1, personal bearer tokens, problem details, keyset pages, ETags, OpenAPI.

How a request runs
------------------
Every resource is an `ApiResource` (app/api/resource.py, on FAB's `BaseApi`). Its blueprint
authenticates ONLY `Authorization: Bearer <token>` (app/api/auth.py: a session cookie never
authenticates, so the blueprint is CSRF-exempt safely), counts the call against the token's rate
(API_RATE_LIMIT, 429 + Retry-After), refuses writes (POST/PUT/PATCH/DELETE) of read-only tokens
(403), and records the call in the `api_call` trail after answering. The token acts with exactly
its owner's rights: `self.user` is the owner; rows come from `access.visible`, rights from
`access.can` / `access.has_screen_permission` — out-of-scope ids are 404, in scope without the
right 403, as on the screens. Errors are problem details (app/api/problems.py): raise
`ApiError(status, detail)` or `invalid({"field": ["message"]})` (422) from anywhere.

How to add a resource (a2: tasks, documents, …)
-----------------------------------------------
1. Schemas in app/api/<name>.py (marshmallow): an output schema (`dump_only` ids and dates; use
   `app.api.schemas`: `Id` (filters), `StrictId` (ids in bodies), `Timestamp`, `text()`), a create
   schema (required fields marked; unknown fields are refused by marshmallow), optionally an update
   schema (loaded partially; defaults to the create schema).
2. The class::

       class TaskApi(ApiResource):
           resource_name = "tasks"              # /api/v1/tasks/ and /api/v1/tasks/<pk>
           model = Task
           schema, create_schema = TaskSchema, TaskCreateSchema
           screen = "TaskView"                  # FAB screen whose can_list/can_show/can_add/can_edit/can_delete decide
           rights = {"get": R.VIEW, "update": R.WORK, "delete": R.WORK}   # row rights (access.can)
           filters = {"entity_id": Filter(Task.entity_id, Id()), "title": Contains(Task.title)}
           eager = (selectinload(Task.checklist),)   # fixed statement count per page
           operations = ("list", "get", "create", "update", "delete")   # leave out what screens forbid

           def create(self, data):              # validated dict -> row; call a service, never write here
               entity = self.reference(Entity, data["entity_id"], "entity_id", R.WORK)   # 422 if not theirs
               return tasks_service.create(entity, self.user, ...)
           def update(self, row, data): ...     # row already loaded with rights["update"], If-Match checked
           def delete(self, row): ...

   Override `scope_query()` when the access module reaches the model differently (e.g. a child
   table through its parent), and `dump()` for a representation a schema cannot give.
3. Extra endpoints (upload, download, sub-collections): `@expose("/<pk>/versions", methods=["POST"])`
   on the class, load with `self.load(pk, "update")`, and describe them with
   `@openapi.operation({"post": {...}})` (problem responses and security are added). They get the
   same authentication, read-only refusal, rate limit and audit as the standard ones.
4. Register it in `API_RESOURCES` below: tests/test_routes.py (401 without a token) and
   tests/access_matrix.py (COVERED_ELSEWHERE -> tests/test_api_<resource_name>.py) read that list.
   Write tests/test_api_<resource_name>.py with the access matrix (tests/api_helpers.py has token and request helpers) and a statement count.
   tests/test_api_schema.py (schemathesis, plain and stateful through the generated links) then covers
   the new operations by itself; ids are INTEGER columns, so stay within guard.MAX_PK (2**31-1).

The interface (stable): ApiResource and its attributes/hooks above, `ApiError`, `invalid`,
`app.api.filters` (Filter, Contains, Custom), `app.api.schemas`, `app.api.openapi.operation`.
"""
from app.api.contacts import ContactApi, ContactEmailApi, ContactGroupApi
from app.api.documents import DocumentApi
from app.api.entities import EntityApi
from app.api.file_requests import FileRequestApi
from app.api.k1 import K1RecipientApi
from app.api.requests import ClientRequestApi
from app.api.shares import ShareApi
from app.api.tasks import TaskApi
from app.api.vouchers import TaxVoucherApi

API_RESOURCES = [EntityApi, ContactApi, ContactEmailApi, ContactGroupApi, ShareApi, TaskApi, DocumentApi,
                 ClientRequestApi, FileRequestApi, TaxVoucherApi, K1RecipientApi]


def register(appbuilder, app):
    """Add every API resource, the OpenAPI document and its page; API routing errors as problem details."""
    from app.api.docs import ApiDocsView, ApiDocumentApi
    from app.api.problems import register_app_handlers

    for resource in API_RESOURCES:
        appbuilder.add_api(resource)
    appbuilder.add_api(ApiDocumentApi)
    appbuilder.add_view_no_menu(ApiDocsView)
    register_app_handlers(app)
