"""/api/v1/tasks: tasks (and file requests, a kind of task) with their checklist, thread and lifecycle
actions, through the tasks service — where the Tasks screen allows each (its work permission and the
work right on the entity for changes)."""
from flask_appbuilder.security.sqla.models import User
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import selectinload

from app.api import openapi
from app.api.filters import Contains, Custom, Filter
from app.api.problems import ApiError, invalid
from app.api.resource import ApiResource, parse_pk
from app.api.schemas import Id, StrictBoolean, StrictId, Timestamp, text
from app.api.threads import ThreadMixin
from app.extensions import db
from app.models import ChecklistItem, Contact, Entity, Task
from app.models.tasks import ClientStatus, PortalState, StaffStatus, TaskKind
from app.security import access
from app.security import roles as R
from app.services import tasks as service
from flask_appbuilder.api import expose

# The Tasks screen: "new" and the actions, thread and checklist need its work permission.
WORK_PERMISSIONS = {"create": "can_work", "work": "can_work", "message": "can_work"}


class ChecklistItemSchema(Schema):
    """One checklist line."""

    id = fields.Integer(dump_only=True)
    position = fields.Integer(dump_only=True)
    text = fields.String(dump_only=True)
    done = fields.Boolean(dump_only=True)
    done_on = Timestamp(dump_only=True, allow_none=True)


class ChecklistItemCreateSchema(Schema):
    """A new checklist line."""

    text = text(500, required=True)


class ChecklistTickSchema(Schema):
    """Tick (true) or untick (false) a checklist line."""

    done = StrictBoolean(required=True)


def ids_of(name):
    """A dump-only list of the ids of relationship `name`."""
    return fields.Function(lambda row: [x.id for x in getattr(row, name)], dump_only=True,
                           metadata={"type": "array", "items": {"type": "integer"}})


class TaskSchema(Schema):
    """A task: the firm's side, what the client sees and did, its checklist and assignees."""

    id = fields.Integer(dump_only=True)
    entity_id = fields.Integer(dump_only=True)
    kind = fields.Enum(TaskKind, by_value=True, dump_only=True)
    title = fields.String(dump_only=True)
    description = fields.String(dump_only=True, allow_none=True)
    deadline = fields.Date(dump_only=True, allow_none=True)
    responsible_id = fields.Integer(dump_only=True, allow_none=True)
    staff_status = fields.Enum(StaffStatus, by_value=True, dump_only=True)
    staff_done_on = Timestamp(dump_only=True, allow_none=True)
    portal_state = fields.Enum(PortalState, by_value=True, dump_only=True)
    assigned_on = Timestamp(dump_only=True, allow_none=True)
    withdrawn_on = Timestamp(dump_only=True, allow_none=True)
    client_status = fields.Enum(ClientStatus, by_value=True, dump_only=True)
    client_done_on = Timestamp(dump_only=True, allow_none=True)
    client_done_by_id = fields.Integer(dump_only=True, allow_none=True)
    auto_complete = fields.Boolean(dump_only=True)
    series_id = fields.Integer(dump_only=True, allow_none=True)
    occurrence = fields.Integer(dump_only=True, allow_none=True)
    additional_message = fields.String(dump_only=True, allow_none=True)
    update_document_id = fields.Integer(dump_only=True, allow_none=True)
    assignee_ids = ids_of("assignees")
    attachment_ids = ids_of("attachments")
    checklist = fields.List(fields.Nested(ChecklistItemSchema), dump_only=True)
    created_on = Timestamp(dump_only=True)


class TaskUpdateSchema(Schema):
    """Fields of a task to change (those of the task screen's edit form)."""

    title = text(200, required=True)
    description = text(20000, allow_none=True)
    deadline = fields.Date(allow_none=True)
    responsible_id = StrictId(allow_none=True, metadata={"description": "A staff member's user id."})
    assignee_ids = fields.List(StrictId(), validate=validate.Length(max=500),
                               metadata={"description": "Contacts who can see the entity."})
    auto_complete = StrictBoolean()


class TaskCreateSchema(TaskUpdateSchema):
    """A new one-time task on an entity the owner works on (assignees default to every contact with access)."""

    entity_id = StrictId(required=True)
    checklist = fields.List(text(500, required=True), validate=validate.Length(max=200))


TASK_ROW = {"200": {"description": "The task.", "headers": openapi.ETAG_HEADER,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Task"}}}}}


def _action(summary):
    return openapi.operation({"post": {"summary": summary, "parameters": [openapi.PK_PARAMETER],
                                       "responses": {**TASK_ROW, **openapi.problems(404, 409)}}})


def _item_path():
    return [openapi.PK_PARAMETER, dict(openapi.PK_PARAMETER, name="item_pk")]


def _json_body(ref):
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


ITEM_ROW = {"description": "The checklist line.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChecklistItem"}}}}


class TaskApi(ThreadMixin, ApiResource):
    """Tasks: list, read, create, change, delete, assign/withdraw/complete/reopen, checklist and thread."""

    resource_name = "tasks"
    model = Task
    schema, create_schema, update_schema = TaskSchema, TaskCreateSchema, TaskUpdateSchema
    screen = "TaskView"
    rights = {"get": R.VIEW, "update": R.WORK, "delete": R.WORK, "work": R.WORK, "message": R.WORK}
    thread_column = "task_id"
    filters = {
        "entity_id": Filter(Task.entity_id, Id()),
        "kind": Filter(Task.kind, fields.Enum(TaskKind, by_value=True)),
        "staff_status": Filter(Task.staff_status, fields.Enum(StaffStatus, by_value=True)),
        "portal_state": Filter(Task.portal_state, fields.Enum(PortalState, by_value=True)),
        "client_status": Filter(Task.client_status, fields.Enum(ClientStatus, by_value=True)),
        "responsible_id": Filter(Task.responsible_id, Id()),
        "title": Contains(Task.title),
        "deadline_before": Custom(fields.Date(), lambda d: Task.deadline <= d, "Tasks due on or before this date."),
        "deadline_after": Custom(fields.Date(), lambda d: Task.deadline >= d, "Tasks due on or after this date."),
    }
    eager = (selectinload(Task.checklist), selectinload(Task.assignees), selectinload(Task.attachments))

    def require_screen(self, op):
        """The Tasks screen has no add permission: creating and working need its work permission."""
        super().require_screen(WORK_PERMISSIONS.get(op, op))

    def _values(self, data):
        values = {k: v for k, v in data.items() if k not in ("responsible_id", "assignee_ids", "entity_id")}
        if "responsible_id" in data:
            values["responsible"] = self.reference(User, data["responsible_id"], "responsible_id")
        if "assignee_ids" in data:
            wanted = set(data["assignee_ids"])
            found = db.session.scalars(access.visible(self.user, Contact).where(Contact.id.in_(wanted))).all()
            if len(found) != len(wanted):
                raise invalid({"assignee_ids": ["No such id among those you may use."]})
            values["assignees"] = found
        return values

    def create(self, data):
        """A new task through the tasks service (the owner must work on the entity)."""
        entity = self.reference(Entity, data["entity_id"], "entity_id", R.WORK)
        values = self._values(data)
        values.setdefault("assignees", None)
        try:
            return service.create_task(entity, values.pop("title"), self.user, **values)
        except service.TaskError as exc:
            raise invalid({"assignee_ids": [str(exc)]}) from exc

    def update(self, row, data):
        """Change the task through the tasks service."""
        try:
            return service.update_task(row, self.user, **self._values(data))
        except service.TaskError as exc:
            raise invalid({"_schema": [str(exc)]}) from exc

    def delete(self, row):
        """Delete the task through the tasks service."""
        service.delete_task(row, self.user)

    # Lifecycle actions, as the task page's buttons ------------------------------------------------------

    def _act(self, pk, action):
        task = self.load(pk, "work")
        try:
            action(task, self.user)
        except service.TaskError as exc:
            raise ApiError(409, str(exc)) from exc
        db.session.expire_all()
        return self.one(self.load(pk, "get"))

    @expose("/<pk>/assign", methods=["POST"])
    @_action("Show the task to its assignees in the portal")
    def api_assign(self, pk):
        """Assign the task to its contacts (409 without assignees)."""
        return self._act(pk, service.assign)

    @expose("/<pk>/withdraw", methods=["POST"])
    @_action("Take an assigned task back from the portal")
    def api_withdraw(self, pk):
        """Withdraw the task from the portal (409 unless assigned)."""
        return self._act(pk, service.withdraw)

    @expose("/<pk>/complete", methods=["POST"])
    @_action("Mark the task done for the firm")
    def api_complete(self, pk):
        """Complete the task (a recurring one's next occurrence is created)."""
        return self._act(pk, service.complete)

    @expose("/<pk>/reopen", methods=["POST"])
    @_action("Open the task again on both sides")
    def api_reopen(self, pk):
        """Reopen the task."""
        return self._act(pk, service.reopen)

    # Checklist ------------------------------------------------------------------------------------------

    def _item(self, pk, item_pk):
        task = self.load(pk, "work")
        item = db.session.scalar(access.visible(self.user, ChecklistItem).where(
            ChecklistItem.id == parse_pk(item_pk), ChecklistItem.task_id == task.id))
        if item is None:
            raise ApiError(404, "No such resource.")
        return item

    @expose("/<pk>/checklist", methods=["POST"])
    @openapi.operation({"post": {"summary": "Add a checklist line", "parameters": [openapi.PK_PARAMETER],
                                 "requestBody": _json_body("ChecklistItemCreate"),
                                 "responses": {"201": ITEM_ROW, **openapi.problems(400, 404, 415, 422)}}})
    def api_add_item(self, pk):
        """Add a line at the end of the task's checklist."""
        task = self.load(pk, "work")
        data = self.body(ChecklistItemCreateSchema)
        try:
            item = service.add_item(task, self.user, data["text"])
        except service.TaskError as exc:
            raise invalid({"text": [str(exc)]}) from exc
        return self.response(201, **ChecklistItemSchema().dump(item))

    @expose("/<pk>/checklist/<item_pk>", methods=["PATCH"])
    @openapi.operation({"patch": {"summary": "Tick or untick a checklist line", "parameters": _item_path(),
                                  "requestBody": _json_body("ChecklistTick"),
                                  "responses": {"200": ITEM_ROW, **openapi.problems(400, 404, 415, 422)}}})
    def api_tick(self, pk, item_pk):
        """Tick or untick one line."""
        item = self._item(pk, item_pk)
        data = self.body(ChecklistTickSchema)
        try:
            service.tick(item, self.user, data["done"])
        except service.TaskError as exc:
            raise ApiError(403, str(exc)) from exc
        return self.response(200, **ChecklistItemSchema().dump(item))

    @expose("/<pk>/checklist/<item_pk>", methods=["DELETE"])
    @openapi.operation({"delete": {"summary": "Remove a checklist line", "parameters": _item_path(),
                                   "responses": {"204": {"description": "Removed."}, **openapi.problems(404)}}})
    def api_remove_item(self, pk, item_pk):
        """Remove one line."""
        service.remove_item(self._item(pk, item_pk), self.user)
        return "", 204

    def add_api_spec(self, api_spec):
        """The standard paths, the thread's, and the checklist schemas the own operations refer to."""
        for schema in (ChecklistItemSchema, ChecklistItemCreateSchema, ChecklistTickSchema):
            openapi.register(api_spec, schema)
        super().add_api_spec(api_spec)
