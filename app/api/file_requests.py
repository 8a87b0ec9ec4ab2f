"""/api/v1/file-requests: requests for files sent to a client's contacts (a kind of task), as the file
request wizard sends them: recipients who may upload (Entity Collaborators), a subject and message,
optionally a shared document the answers update. They are tasks: change, assign, complete, the
checklist and the thread go through /api/v1/tasks with the same id."""
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api.filters import Contains, Filter
from app.api.problems import ApiError, invalid
from app.api.resource import ApiResource
from app.api.schemas import Id, StrictId, text
from app.api.tasks import TaskSchema
from app.extensions import db
from app.models import Contact, Document, Entity, FileRequestAnswer, Task
from app.models.tasks import ClientStatus, StaffStatus, TaskKind
from app.security import access
from app.security import roles as R
from app.services import file_requests as service
from app.services.tasks import TaskError


class FileRequestSchema(TaskSchema):
    """A file request: the task, and (single reads) who answered and who has not yet."""

    answered_contact_ids = fields.Function(lambda t: sorted(t.answered_ids), dump_only=True,
                                           metadata={"type": "array", "items": {"type": "integer"},
                                                     "description": "Recipients who uploaded (single reads)."})
    outstanding_contact_ids = fields.Function(lambda t: [c.id for c in t.assignees if c.id not in t.answered_ids],
                                              dump_only=True, metadata={"type": "array", "items": {"type": "integer"},
                                                                        "description": "Recipients yet to upload "
                                                                                       "(single reads)."})


class FileRequestCreateSchema(Schema):
    """A new file request (the wizard's fields)."""

    entity_id = StrictId(required=True)
    recipient_ids = fields.List(StrictId(), required=True, validate=validate.Length(min=1, max=500),
                                metadata={"description": "Contacts of the entity who may upload (Entity Collaborators)."})
    subject = text(200, required=True)
    description = text(20000, allow_none=True)
    additional_message = text(4000, allow_none=True)
    update_document_id = StrictId(allow_none=True, metadata={
        "description": "A document shared to the portal that the answers update (as new versions)."})
    deadline = fields.Date(allow_none=True)


class FileRequestApi(ApiResource):
    """File requests: list, read (with who answered), send."""

    resource_name = "file-requests"
    model = Task
    schema, create_schema = FileRequestSchema, FileRequestCreateSchema
    list_exclude = ("answered_contact_ids", "outstanding_contact_ids")
    operations = ("list", "get", "create")
    screen = "TaskView"
    filters = {
        "entity_id": Filter(Task.entity_id, Id()),
        "staff_status": Filter(Task.staff_status, fields.Enum(StaffStatus, by_value=True)),
        "client_status": Filter(Task.client_status, fields.Enum(ClientStatus, by_value=True)),
        "subject": Contains(Task.title),
    }
    eager = (selectinload(Task.checklist), selectinload(Task.assignees), selectinload(Task.attachments))

    def require_screen(self, op):
        """Sending needs the file request wizard's permission; reading the Tasks screen's."""
        if op == "create":
            if not access.has_screen_permission(self.user, "can_new", "FileRequestView"):
                raise ApiError(403, "Your roles do not allow this.")
            return
        super().require_screen(op)

    def scope_query(self):
        """The owner's tasks of the file request kind."""
        return access.visible(self.user, Task).where(Task.kind == TaskKind.file_request)

    def dump(self, row, many=False):
        """Single reads name the recipients who answered (one query); lists leave that out."""
        if not many:
            row.answered_ids = set(db.session.scalars(
                select(FileRequestAnswer.contact_id).where(FileRequestAnswer.task_id == row.id)))
        return super().dump(row, many)

    def create(self, data):
        """Send the request through the file requests service (recipients must be Entity Collaborators)."""
        entity = self.reference(Entity, data["entity_id"], "entity_id", R.WORK)
        wanted = set(data["recipient_ids"])
        contacts = db.session.scalars(access.visible(self.user, Contact).where(Contact.id.in_(wanted))).all()
        if len(contacts) != len(wanted):
            raise invalid({"recipient_ids": ["No such id among those you may use."]})
        update = None
        if data.get("update_document_id") is not None:
            update = db.session.scalar(access.visible(self.user, Document).where(
                Document.id == data["update_document_id"], Document.entity_id == entity.id))
            if update is None:
                raise invalid({"update_document_id": ["No such document of this entity."]})
        try:
            return service.create(entity, self.user, contacts, data["subject"].strip(),
                                  description=data.get("description"), deadline=data.get("deadline"),
                                  additional_message=data.get("additional_message"), update_document=update)
        except TaskError as exc:
            raise invalid({"_schema": [str(exc)]}) from exc
