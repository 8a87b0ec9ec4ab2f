"""/api/v1/requests: requests raised by clients in the portal, as the staff inbox works them — read,
answer on the thread (which takes a new request to open), close, reopen and convert to a task, through
the requests service. Requests come from the portal only: no create, change or delete."""
from flask_appbuilder.api import expose
from marshmallow import Schema, fields
from sqlalchemy.orm import selectinload

from app.api import openapi
from app.api.filters import Contains, Filter
from app.api.problems import ApiError
from app.api.resource import ApiResource
from app.api.schemas import Id, Timestamp
from app.api.tasks import ids_of
from app.api.threads import ThreadMixin
from app.extensions import db
from app.models import ClientRequest, RequestStatus
from app.security import roles as R
from app.services import requests as service

# The inbox's permissions for each work route (its list and show permissions for reads).
WORK_PERMISSIONS = {"message": "can_post_message", "close": "can_set_status", "reopen": "can_set_status",
                    "convert": "can_convert"}


class ClientRequestSchema(Schema):
    """A client's request: who raised it, about what, where it stands, the task it became."""

    id = fields.Integer(dump_only=True)
    entity_id = fields.Integer(dump_only=True)
    contact_id = fields.Integer(dump_only=True, allow_none=True)
    subject = fields.String(dump_only=True)
    body = fields.String(dump_only=True)
    status = fields.Enum(RequestStatus, by_value=True, dump_only=True)
    task_id = fields.Integer(dump_only=True, allow_none=True)
    attachment_ids = ids_of("attachments")
    created_on = Timestamp(dump_only=True)


def _action(summary):
    return openapi.operation({"post": {"summary": summary, "parameters": [openapi.PK_PARAMETER], "responses": {
        "200": {"description": "The request.", "headers": openapi.ETAG_HEADER, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ClientRequest"}}}}, **openapi.problems(404, 409)}}})


class ClientRequestApi(ThreadMixin, ApiResource):
    """Client requests: list, read, the thread, close, reopen, convert to a task."""

    resource_name = "requests"
    model = ClientRequest
    schema = ClientRequestSchema
    operations = ("list", "get")
    screen = "ClientRequestView"
    rights = {"get": R.VIEW, **{op: R.WORK for op in WORK_PERMISSIONS}}
    thread_column = "request_id"
    filters = {
        "entity_id": Filter(ClientRequest.entity_id, Id()),
        "contact_id": Filter(ClientRequest.contact_id, Id()),
        "status": Filter(ClientRequest.status, fields.Enum(RequestStatus, by_value=True)),
        "subject": Contains(ClientRequest.subject),
    }
    eager = (selectinload(ClientRequest.attachments),)

    def require_screen(self, op):
        """Work routes need the inbox's own permission for each (as its buttons do)."""
        super().require_screen(WORK_PERMISSIONS.get(op, op))

    def post_message(self, thread, body, kind):
        """A staff answer through the requests service: a new request becomes open; a converted one refuses."""
        try:
            return service.answer(thread, self.user, body, kind)
        except service.RequestError as exc:
            raise ApiError(409, str(exc)) from exc

    def _change(self, pk, op, change):
        row = self.load(pk, op)
        try:
            change(row, self.user)
        except service.RequestError as exc:
            db.session.rollback()
            raise ApiError(409, str(exc)) from exc
        return self.one(row)

    @expose("/<pk>/close", methods=["POST"])
    @_action("Close the request")
    def api_close(self, pk):
        """Close a new or open request (409 when closed or converted)."""
        return self._change(pk, "close", service.close)

    @expose("/<pk>/reopen", methods=["POST"])
    @_action("Open a closed request again")
    def api_reopen(self, pk):
        """Reopen a closed request (409 otherwise)."""
        return self._change(pk, "reopen", service.reopen)

    @expose("/<pk>/convert", methods=["POST"])
    @_action("Convert the request into a task of its entity (its thread and files move with it)")
    def api_convert(self, pk):
        """Convert to a task; the answer's task_id names it (converting twice changes nothing)."""
        return self._change(pk, "convert", service.convert)
