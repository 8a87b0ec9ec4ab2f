"""The message thread of a task or a client request: /<pk>/messages (read in keyset pages, post),
shared by /api/v1/tasks and /api/v1/requests. Messages are read through the access module exactly as
the thread on the staff screens shows them (a token is staff: internal comments included)."""
from flask import request
from flask_appbuilder.api import expose
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import selectinload

from app.api import filters as api_filters, openapi, paging
from app.api.problems import invalid
from app.api.schemas import Timestamp
from app.extensions import db
from app.models import Message, MessageKind
from app.security import access
from app.services import messages as message_service

MESSAGE_LIST_PARAMS = [
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 40},
     "description": "The next_cursor of the previous page."},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": paging.MAX_LIMIT}, "description": "Messages per page."},
]


class MessageSchema(Schema):
    """One message of a thread: internal (staff only), portal (the client sees it) or e-mail."""

    id = fields.Integer(dump_only=True)
    kind = fields.Enum(MessageKind, by_value=False, dump_only=True)
    body = fields.String(dump_only=True)
    author_user_id = fields.Integer(dump_only=True, allow_none=True)
    author_contact_id = fields.Integer(dump_only=True, allow_none=True)
    created_on = Timestamp(dump_only=True)
    deleted_on = Timestamp(dump_only=True, allow_none=True)
    mail_state = fields.String(dump_only=True, allow_none=True)
    attachment_ids = fields.Function(lambda m: [d.id for d in m.attachments], dump_only=True,
                                     metadata={"type": "array", "items": {"type": "integer"}})


class MessageCreateSchema(Schema):
    """A new message: its text and who it is for (the composer's three buttons)."""

    body = fields.String(required=True, validate=validate.Length(min=1, max=message_service.MAX_BODY))
    kind = fields.Enum(MessageKind, by_value=False, required=True,
                       metadata={"description": "internal: staff only; portal: the client sees it; "
                                                "email: mailed to the client and kept here."})


def _page_schema(spec):
    item = openapi.register(spec, MessageSchema)
    return {"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": item}, "next_cursor": {"type": "string", "nullable": True}}}


class ThreadMixin:
    """Adds GET/POST /<pk>/messages to an ApiResource whose rows are message threads (`thread_column`)."""

    thread_column = None  # "task_id" or "request_id" (a name: a column here would be bound to the view)

    @expose("/<pk>/messages", methods=["GET"])
    @openapi.operation({"get": {
        "summary": "The thread's messages, oldest first, in keyset pages",
        "parameters": [openapi.PK_PARAMETER] + MESSAGE_LIST_PARAMS,
        "responses": {"200": {"description": "One page of messages.", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/MessagePage"}}}}, **openapi.problems(400, 404)}}})
    def api_messages(self, pk):
        """The messages of the thread the owner may read, ordered by id, one page at a time."""
        thread = self.load(pk, "get")
        args = request.args
        limit, after = paging.parse_limit(args.get("limit")), paging.decode_cursor(args.get("cursor"))
        query = api_filters.apply(access.visible(self.user, Message), {}, args)  # unknown parameters: 400
        rows = db.session.scalars(
            query.where(getattr(Message, self.thread_column) == thread.id, Message.id > after)
            .order_by(Message.id).limit(limit + 1).options(selectinload(Message.attachments))).all()
        page, more = rows[:limit], len(rows) > limit
        return self.response(200, items=MessageSchema(many=True).dump(page),
                             next_cursor=paging.encode_cursor(page[-1].id) if more else None)

    @expose("/<pk>/messages", methods=["POST"])
    @openapi.operation({"post": {
        "summary": "Post a message on the thread",
        "parameters": [openapi.PK_PARAMETER],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/MessageCreate"}}}},
        "responses": {"201": {"description": "The message.", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Message"}}}}, **openapi.problems(400, 404, 409, 415, 422)}}})
    def api_post_message(self, pk):
        """Post an internal comment, a portal message or an e-mail (staff who work on the entity)."""
        thread = self.load(pk, "message")
        data = self.body(MessageCreateSchema)
        try:
            message = self.post_message(thread, data["body"], data["kind"])
        except message_service.MessageError as exc:
            raise invalid({"body": [str(exc)]}) from exc
        return self.response(201, **MessageSchema().dump(message))

    def post_message(self, thread, body, kind):
        """Post through the messages service (a resource may answer through its own service instead)."""
        return message_service.post(thread, self.user, body, kind)

    def add_api_spec(self, api_spec):
        """The resource's paths, and the message schemas its thread operations refer to (once)."""
        openapi.register(api_spec, MessageCreateSchema)
        if "MessagePage" not in api_spec.components.schemas:
            api_spec.components.schema("MessagePage", _page_schema(api_spec))
        super().add_api_spec(api_spec)
