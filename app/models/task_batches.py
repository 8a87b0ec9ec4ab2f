"""Work for many clients: task templates, and batches that create one task (or file request) per
chosen entity in a background job."""
import enum
import json

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import relationship

from app.models.tasks import Frequency, TaskKind
from app.models.types import enum_column_type


class TaskTemplate(Model):
    """What a task repeated for many clients says: title, description, checklist, a deadline relative
    to the day it is assigned, and how it recurs."""

    __tablename__ = "task_template"

    id = Column(Integer, primary_key=True)
    kind = Column(enum_column_type(TaskKind, "task_kind"), nullable=False, default=TaskKind.task)
    title = Column(String(200), nullable=False)
    description = Column(Text)
    checklist = Column(Text)  # one item per line
    deadline_days = Column(Integer)  # days from the day the batch is started; none: no deadline
    frequency = Column(enum_column_type(Frequency, "task_frequency"), nullable=False, default=Frequency.once)
    interval = Column(Integer, nullable=False, default=1)
    created_on = Column(DateTime, nullable=False, default=func.now())
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    created_by = relationship("User")

    def checklist_lines(self):
        """The checklist as a list of non-empty lines."""
        return [line.strip() for line in (self.checklist or "").splitlines() if line.strip()]

    def __repr__(self):
        return self.title


class BatchState(enum.Enum):
    """Where a batch stands."""

    queued = "queued"
    running = "running"
    done = "done"


BATCH_STATE_LABELS = {
    BatchState.queued: _l("Waiting to start"),
    BatchState.running: _l("Creating"),
    BatchState.done: _l("Done"),
}


class TaskBatch(Model):
    """One "assign to many": what each task says (copied from the form, so later template edits do not
    change it), the chosen entities, and the job's progress."""

    __tablename__ = "task_batch"

    id = Column(Integer, primary_key=True)
    kind = Column(enum_column_type(TaskKind, "task_kind"), nullable=False, default=TaskKind.task)
    template_id = Column(Integer, ForeignKey("task_template.id", ondelete="SET NULL"), index=True)
    template = relationship("TaskTemplate")
    title = Column(String(200), nullable=False)
    description = Column(Text)
    checklist = Column(Text)
    deadline = Column(Date)
    frequency = Column(enum_column_type(Frequency, "task_frequency"), nullable=False, default=Frequency.once)
    interval = Column(Integer, nullable=False, default=1)
    assign_now = Column(Boolean, nullable=False, default=False)
    # Set when the batch sends an organizer: each task carries one of this template version for the tax year.
    organizer_template_id = Column(Integer, ForeignKey("organizer_template.id", ondelete="SET NULL"), index=True)
    organizer_template = relationship("OrganizerTemplate")
    tax_year = Column(Integer)
    entity_ids = Column(Text, nullable=False, default="[]")  # JSON list, in the order chosen
    total = Column(Integer, nullable=False, default=0)
    done = Column(Integer, nullable=False, default=0)
    failed = Column(Integer, nullable=False, default=0)
    failures = Column(Text, nullable=False, default="{}")  # JSON {entity id: why}
    state = Column(enum_column_type(BatchState, "task_batch_state"), nullable=False, default=BatchState.queued)
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    created_by = relationship("User")
    created_on = Column(DateTime, nullable=False, default=func.now())
    finished_on = Column(DateTime)

    def chosen(self):
        """The chosen entity ids."""
        return json.loads(self.entity_ids or "[]")

    def failure_map(self):
        """{entity id: why} of the entities that got no task."""
        return {int(k): v for k, v in json.loads(self.failures or "{}").items()}

    def state_label(self):
        """The state in the reader's language."""
        return BATCH_STATE_LABELS.get(self.state, "")

    def __repr__(self):
        return self.title
