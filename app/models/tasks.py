"""Client work: tasks (and file requests), their checklists, assignees, attachments and series."""
import enum
from datetime import date

from flask_appbuilder import Model
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import relationship

from app.models.types import enum_column_type


class Frequency(enum.Enum):
    """How often a task recurs (stored by name in the database)."""

    once = "once"
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"
    every_n_days = "every_n_days"
    every_n_weeks = "every_n_weeks"
    every_n_months = "every_n_months"


class TaskKind(enum.Enum):
    """A piece of work, or a request for files from the client."""

    task = "task"
    file_request = "file_request"


class StaffStatus(enum.Enum):
    """The firm's side of a task."""

    open = "open"
    done = "done"


class PortalState(enum.Enum):
    """Whether the client sees the task."""

    not_assigned = "not_assigned"
    assigned = "assigned"
    withdrawn = "withdrawn"


class ClientStatus(enum.Enum):
    """The client's side of a task."""

    pending = "pending"
    done = "done"


KIND_LABELS = {TaskKind.task: _l("Task"), TaskKind.file_request: _l("File request")}
STAFF_STATUS_LABELS = {StaffStatus.open: _l("Open"), StaffStatus.done: _l("Done")}
PORTAL_STATE_LABELS = {
    PortalState.not_assigned: _l("Not assigned"),
    PortalState.assigned: _l("Assigned to the client"),
    PortalState.withdrawn: _l("Withdrawn"),
}
CLIENT_STATUS_LABELS = {ClientStatus.pending: _l("Pending"), ClientStatus.done: _l("Done by the client")}


task_assignees = Table(
    "task_assignee",
    Model.metadata,
    Column("task_id", Integer, ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", Integer, ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_task_assignee_contact", "contact_id"),
)
task_attachments = Table(
    "task_attachment",
    Model.metadata,
    Column("task_id", Integer, ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
    Column("document_id", Integer, ForeignKey("document.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_task_attachment_document", "document_id"),
)


class TaskSeries(Model):
    """A recurring task: the rule and what future occurrences copy (edits affect only those)."""

    __tablename__ = "task_series"

    id = Column(Integer, primary_key=True)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False, index=True)
    title = Column(String(200), nullable=False)
    description = Column(Text)
    start = Column(Date, nullable=False)
    frequency = Column(enum_column_type(Frequency, "task_frequency"), nullable=False)
    interval = Column(Integer, nullable=False, default=1)
    until = Column(Date)
    count = Column(Integer)
    created_on = Column(DateTime, nullable=False, default=func.now())

    def __repr__(self):
        return self.title


class Task(Model):
    """Work on an entity: staff status, what the client sees and did, and the file-request extras."""

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("series_id", "occurrence", name="uq_task_series_occurrence"),
        # A batch makes one task per entity: a re-run of its job finds the task and makes no second one.
        UniqueConstraint("batch_id", "entity_id", name="uq_task_batch_entity"),
        Index("ix_task_entity_deadline", "entity_id", "deadline"),
        # A member's open tasks by deadline (the home page's lists walk it and stop at 10).
        Index("ix_task_responsible_open", "responsible_id", "deadline", "id",
              postgresql_where=text("staff_status = 'open'"), sqlite_where=text("staff_status = 'open'")),
    )

    id = Column(Integer, primary_key=True)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False)
    entity = relationship("Entity")
    kind = Column(enum_column_type(TaskKind, "task_kind"), nullable=False, default=TaskKind.task)
    title = Column(String(200), nullable=False)
    description = Column(Text)
    deadline = Column(Date, index=True)
    responsible_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    responsible = relationship("User", foreign_keys=[responsible_id])
    staff_status = Column(enum_column_type(StaffStatus, "task_staff_status"), nullable=False, default=StaffStatus.open)
    staff_done_on = Column(DateTime)
    portal_state = Column(enum_column_type(PortalState, "task_portal_state"), nullable=False, default=PortalState.not_assigned)
    assigned_on = Column(DateTime)
    withdrawn_on = Column(DateTime)
    client_status = Column(enum_column_type(ClientStatus, "task_client_status"), nullable=False, default=ClientStatus.pending)
    client_done_on = Column(DateTime)
    client_done_by_id = Column(Integer, ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    client_done_by = relationship("Contact", foreign_keys=[client_done_by_id])
    auto_complete = Column(Boolean, nullable=False, default=False)
    series_id = Column(Integer, ForeignKey("task_series.id", ondelete="SET NULL"), index=True)
    series = relationship("TaskSeries")
    occurrence = Column(Integer)
    additional_message = Column(Text)
    update_document_id = Column(Integer, ForeignKey("document.id", ondelete="SET NULL"), index=True)
    update_document = relationship("Document", foreign_keys=[update_document_id])
    created_on = Column(DateTime, nullable=False, default=func.now())
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    batch_id = Column(Integer, ForeignKey("task_batch.id", ondelete="SET NULL", name="fk_task_batch_id"))

    checklist = relationship("ChecklistItem", back_populates="task", cascade="all, delete-orphan",
                             order_by="ChecklistItem.position")
    assignees = relationship("Contact", secondary=task_assignees)
    attachments = relationship("Document", secondary=task_attachments)

    def is_overdue(self, today=None):
        """Whether the deadline has passed while the task is still open for the firm."""
        today = today or date.today()
        return self.deadline is not None and self.deadline < today and self.staff_status is StaffStatus.open

    def awaiting_staff(self):
        """Done by the client, not yet by the firm."""
        return self.client_status is ClientStatus.done and self.staff_status is StaffStatus.open

    def portal_label(self):
        """The portal state in the reader's language."""
        return PORTAL_STATE_LABELS.get(self.portal_state, "")

    def deadline_html(self):
        """The deadline for lists, in red with "overdue" when it has passed on an open task."""
        if self.deadline is None:
            return ""
        if self.is_overdue():
            return Markup('<span class="text-danger"><strong>{}</strong> ({})</span>').format(
                self.deadline.isoformat(), gettext("overdue"))
        return self.deadline.isoformat()

    def status_html(self):
        """Staff status for lists, flagging "done by client, awaiting you"."""
        if self.awaiting_staff():
            return Markup('<span class="label label-warning">{}</span>').format(gettext("Done by client, awaiting you"))
        return escape(STAFF_STATUS_LABELS.get(self.staff_status, ""))

    def __repr__(self):
        return self.title


class ChecklistItem(Model):
    """One line of a task's checklist."""

    __tablename__ = "checklist_item"

    id = Column(Integer, primary_key=True)
    task_id = Column(Integer, ForeignKey("task.id", ondelete="CASCADE"), nullable=False, index=True)
    task = relationship("Task", back_populates="checklist")
    position = Column(Integer, nullable=False, default=0)
    text = Column(String(500), nullable=False)
    done = Column(Boolean, nullable=False, default=False)
    done_on = Column(DateTime)
    done_by_user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)

    def __repr__(self):
        return self.text


class FileRequestAnswer(Model):
    """One recipient's answer to a file request: the version they uploaded, and when."""

    __tablename__ = "file_request_answer"
    __table_args__ = (UniqueConstraint("task_id", "contact_id", name="uq_file_request_answer"),)

    id = Column(Integer, primary_key=True)
    task_id = Column(Integer, ForeignKey("task.id", ondelete="CASCADE"), nullable=False, index=True)
    contact_id = Column(Integer, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False, index=True)
    contact = relationship("Contact")
    document_id = Column(Integer, ForeignKey("document.id", ondelete="SET NULL"), index=True)
    document = relationship("Document")
    answered_on = Column(DateTime, nullable=False, default=func.now())
