"""Client imports: an uploaded list of entities and contacts, previewed first, then applied by a job."""
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, DateTime, ForeignKey, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import relationship

from app.models.types import enum_column_type


class ImportState(enum.Enum):
    """Where an import stands."""

    previewed = "previewed"  # checked (dry run) and waiting for the go-ahead
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"  # nothing was saved


IMPORT_STATE_LABELS = {
    ImportState.previewed: _l("Previewed"),
    ImportState.queued: _l("Waiting to start"),
    ImportState.running: _l("Importing"),
    ImportState.done: _l("Done"),
    ImportState.failed: _l("Failed — nothing was saved"),
}


class ImportRun(Model):
    """One uploaded file: kept until applied, with the preview's and the result's figures (JSON)."""

    __tablename__ = "import_run"

    id = Column(Integer, primary_key=True)
    filename = Column(String(200), nullable=False, default="")
    content = Column(LargeBinary, nullable=False)
    state = Column(enum_column_type(ImportState, "import_state"), nullable=False, default=ImportState.previewed)
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    created_by = relationship("User")
    created_on = Column(DateTime, nullable=False, default=func.now())
    finished_on = Column(DateTime)
    summary = Column(Text, nullable=False, default="{}")  # counts and sample changes
    errors = Column(Text, nullable=False, default="[]")  # "line N: …" messages

    def state_label(self):
        """The state in the reader's language."""
        return IMPORT_STATE_LABELS.get(self.state, "")
