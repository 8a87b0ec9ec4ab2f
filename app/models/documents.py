"""Per-entity folders, documents and their versions (the bytes live in storage, by key)."""
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import relationship

from app.models.types import enum_column_type


class Direction(enum.Enum):
    """Who provided the document."""

    from_firm = "from_firm"
    from_client = "from_client"


class DocumentStatus(enum.Enum):
    """Where the document stands in the firm's work."""

    received = "received"
    reviewed = "reviewed"
    awaiting_signature = "awaiting_signature"
    signed = "signed"


class Visibility(enum.Enum):
    """Who may see the document."""

    staff_only = "staff_only"
    portal = "portal"


DIRECTION_LABELS = {Direction.from_firm: _l("From the firm"), Direction.from_client: _l("From the client")}
STATUS_LABELS = {
    DocumentStatus.received: _l("Received"),
    DocumentStatus.reviewed: _l("Reviewed"),
    DocumentStatus.awaiting_signature: _l("Awaiting signature"),
    DocumentStatus.signed: _l("Signed"),
}
VISIBILITY_LABELS = {Visibility.staff_only: _l("Staff only"), Visibility.portal: _l("Shared to the portal")}


class Folder(Model):
    """A folder in one entity's document tree (parent None = top level)."""

    __tablename__ = "folder"
    __table_args__ = (UniqueConstraint("entity_id", "parent_id", "name", name="uq_folder_name"),)

    id = Column(Integer, primary_key=True)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False, index=True)
    entity = relationship("Entity")
    parent_id = Column(Integer, ForeignKey("folder.id", ondelete="CASCADE"), index=True)
    parent = relationship("Folder", remote_side=[id], backref="children")
    name = Column(String(120), nullable=False)
    created_on = Column(DateTime, nullable=False, default=func.now())

    def __repr__(self):
        return self.name


class Document(Model):
    """A file of an entity: its current version's facts, status, note and visibility."""

    __tablename__ = "document"
    # name rides along (PostgreSQL INCLUDE) so a scoped name search filters the index without the table
    __table_args__ = (Index("ix_document_entity_created", "entity_id", "created_on", "id",
                            postgresql_include=["name"]),
                      Index("ix_document_created_id", "created_on", "id"))

    id = Column(Integer, primary_key=True)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False)
    entity = relationship("Entity")
    folder_id = Column(Integer, ForeignKey("folder.id", ondelete="SET NULL"), index=True)
    folder = relationship("Folder")
    name = Column(String(200), nullable=False, index=True)
    file_type = Column(String(10), nullable=False)
    mime = Column(String(100), nullable=False)
    size = Column(BigInteger, nullable=False)
    sha256 = Column(String(64), nullable=False)
    direction = Column(enum_column_type(Direction, "document_direction"), nullable=False, default=Direction.from_firm)
    status = Column(enum_column_type(DocumentStatus, "document_status"), nullable=False, default=DocumentStatus.received)
    visibility = Column(enum_column_type(Visibility, "document_visibility"), nullable=False, default=Visibility.staff_only)
    note = Column(Text)
    version_count = Column(Integer, nullable=False, default=1)
    created_on = Column(DateTime, nullable=False, default=func.now())
    updated_on = Column(DateTime, nullable=False, default=func.now(), onupdate=func.now())
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    created_by = relationship("User")
    versions = relationship(
        "DocumentVersion", back_populates="document", cascade="all, delete-orphan",
        order_by="DocumentVersion.number.desc()",
    )

    def status_label(self):
        """Status in the reader's language."""
        return STATUS_LABELS.get(self.status, "")

    def direction_label(self):
        """Direction in the reader's language."""
        return DIRECTION_LABELS.get(self.direction, "")

    def visibility_label(self):
        """Visibility in the reader's language."""
        return VISIBILITY_LABELS.get(self.visibility, "")

    def size_label(self):
        """Size for people (kB / MB)."""
        return human_size(self.size)

    def __repr__(self):
        return self.name


class DocumentVersion(Model):
    """One upload of a document: its blob, who sent it and when."""

    __tablename__ = "document_version"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_document_version_number"),)

    id = Column(Integer, primary_key=True)
    document_id = Column(Integer, ForeignKey("document.id", ondelete="CASCADE"), nullable=False, index=True)
    document = relationship("Document", back_populates="versions")
    number = Column(Integer, nullable=False)
    storage_key = Column(String(100), nullable=False, index=True)
    original_name = Column(String(200), nullable=False)
    file_type = Column(String(10), nullable=False)
    mime = Column(String(100), nullable=False)
    size = Column(BigInteger, nullable=False)
    sha256 = Column(String(64), nullable=False)
    uploaded_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    uploaded_by = relationship("User")
    uploaded_on = Column(DateTime, nullable=False, default=func.now())

    def size_label(self):
        """Size for people (kB / MB)."""
        return human_size(self.size)

    def __repr__(self):
        return f"{self.original_name} (v{self.number})"


def human_size(size):
    """Bytes as B / kB / MB with one decimal."""
    if size is None:
        return ""
    for unit in ("B", "kB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""
