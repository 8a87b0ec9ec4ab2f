"""Threads on tasks and client requests: internal comments, portal messages and e-mails."""
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Column, DateTime, Enum, ForeignKey, Index, Integer, String, Table, Text, func
from sqlalchemy.orm import relationship


class MessageKind(enum.Enum):
    """Who a message is for; fixed once posted."""

    internal = "internal"
    portal = "portal"
    email = "email"


KIND_LABELS = {
    MessageKind.internal: _l("Internal comment"),
    MessageKind.portal: _l("Portal message"),
    MessageKind.email: _l("E-mail"),
}
CLIENT_VISIBLE = (MessageKind.portal, MessageKind.email)

message_attachments = Table(
    "message_attachment",
    Model.metadata,
    Column("message_id", Integer, ForeignKey("message.id", ondelete="CASCADE"), primary_key=True),
    Column("document_id", Integer, ForeignKey("document.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_message_attachment_document_id", "document_id"),
)


class Message(Model):
    """One message on exactly one task or client request."""

    __tablename__ = "message"
    __table_args__ = (
        CheckConstraint("(task_id IS NULL) <> (request_id IS NULL)", name="ck_message_one_thread"),
        Index("ix_message_task_time", "task_id", "created_on"),
        Index("ix_message_request_time", "request_id", "created_on"),
        Index("ix_message_created_on", "created_on"),
    )

    id = Column(Integer, primary_key=True)
    task_id = Column(Integer, ForeignKey("task.id", ondelete="CASCADE"))
    task = relationship("Task")
    request_id = Column(Integer, ForeignKey("client_request.id", ondelete="CASCADE"))
    request = relationship("ClientRequest")
    kind = Column(Enum(MessageKind, name="message_kind", native_enum=False, length=20), nullable=False)
    body = Column(Text, nullable=False)
    author_user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    author_user = relationship("User")
    author_contact_id = Column(Integer, ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    author_contact = relationship("Contact")
    created_on = Column(DateTime, nullable=False, default=func.now())
    deleted_on = Column(DateTime)
    attachments = relationship("Document", secondary=message_attachments)
    # A staff e-mail (kind email) is mailed at once by a job: pending → sending → sent / failed.
    mail_state = Column(String(20))
    mailed_to = Column(Text)  # the addresses the mail server accepted, comma-separated
    mailed_on = Column(DateTime)
    mail_error = Column(Text)  # refusals (address: server reply), shown on the thread

    def kind_label(self):
        """The kind in the reader's language."""
        return KIND_LABELS.get(self.kind, "")

    def __repr__(self):
        return f"{self.kind.name}: {self.body[:40]}"
