"""Requests raised by clients in the portal; staff can convert one into a task."""
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, DateTime, Enum, ForeignKey, Index, Integer, String, Table, Text, func
from sqlalchemy.orm import relationship


class RequestStatus(enum.Enum):
    """Where a client request stands."""

    new = "new"
    open = "open"
    converted = "converted"
    closed = "closed"


STATUS_LABELS = {
    RequestStatus.new: _l("New"),
    RequestStatus.open: _l("Open"),
    RequestStatus.converted: _l("Converted to a task"),
    RequestStatus.closed: _l("Closed"),
}

request_attachments = Table(
    "client_request_attachment",
    Model.metadata,
    Column("request_id", Integer, ForeignKey("client_request.id", ondelete="CASCADE"), primary_key=True),
    Column("document_id", Integer, ForeignKey("document.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_client_request_attachment_document_id", "document_id"),
)


class ClientRequest(Model):
    """A question or request from a contact about one entity."""

    __tablename__ = "client_request"
    __table_args__ = (Index("ix_client_request_entity_status", "entity_id", "status"),
                      Index("ix_client_request_created_on", "created_on"))

    id = Column(Integer, primary_key=True)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False)
    entity = relationship("Entity")
    contact_id = Column(Integer, ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    contact = relationship("Contact")
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    status = Column(Enum(RequestStatus, name="client_request_status", native_enum=False, length=20),
                    nullable=False, default=RequestStatus.new)
    task_id = Column(Integer, ForeignKey("task.id", ondelete="SET NULL"), index=True)
    task = relationship("Task")
    created_on = Column(DateTime, nullable=False, default=func.now())
    attachments = relationship("Document", secondary=request_attachments)

    def status_label(self):
        """The status in the reader's language."""
        return STATUS_LABELS.get(self.status, "")

    def __repr__(self):
        return self.subject
