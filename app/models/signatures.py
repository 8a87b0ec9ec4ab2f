"""E-signature: a request to sign PDFs of an entity, its signers (in order or all at once) and the
fields each signer fills. The signed file becomes a new version of each document."""
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import relationship

from app.models.types import enum_column_type


class RequestStatus(enum.Enum):
    """Where a signature request stands."""

    draft = "draft"
    awaiting = "awaiting"
    partly_signed = "partly_signed"
    signed = "signed"
    declined = "declined"
    expired = "expired"
    voided = "voided"


class SigningOrder(enum.Enum):
    """Whether signers sign one after the other or all at once."""

    sequential = "sequential"
    parallel = "parallel"


class SignerStatus(enum.Enum):
    """Where one signer stands."""

    waiting = "waiting"  # not asked yet (a previous signer has not signed)
    asked = "asked"
    signed = "signed"
    declined = "declined"


class FieldKind(enum.Enum):
    """What a field on a page asks of its signer."""

    signature = "signature"
    initials = "initials"
    date_signed = "date_signed"
    text = "text"
    checkbox = "checkbox"


OPEN_STATUSES = (RequestStatus.awaiting, RequestStatus.partly_signed)
REQUEST_STATUS_LABELS = {
    RequestStatus.draft: _l("Draft"),
    RequestStatus.awaiting: _l("Awaiting signature"),
    RequestStatus.partly_signed: _l("Partly signed"),
    RequestStatus.signed: _l("Signed"),
    RequestStatus.declined: _l("Declined"),
    RequestStatus.expired: _l("Expired"),
    RequestStatus.voided: _l("Voided"),
}
SIGNER_STATUS_LABELS = {
    SignerStatus.waiting: _l("Waiting for an earlier signer"),
    SignerStatus.asked: _l("Asked to sign"),
    SignerStatus.signed: _l("Signed"),
    SignerStatus.declined: _l("Declined"),
}
FIELD_LABELS = {
    FieldKind.signature: _l("Signature"),
    FieldKind.initials: _l("Initials"),
    FieldKind.date_signed: _l("Date signed"),
    FieldKind.text: _l("Text"),
    FieldKind.checkbox: _l("Checkbox"),
}


class SignatureRequest(Model):
    """One or more PDFs of an entity sent to one or more of its contacts for signature."""

    __tablename__ = "signature_request"
    __table_args__ = (Index("ix_signature_request_status_deadline", "status", "deadline"),)

    id = Column(Integer, primary_key=True)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False, index=True)
    entity = relationship("Entity")
    title = Column(String(200), nullable=False)
    message = Column(Text)
    deadline = Column(Date)
    signing_order = Column(enum_column_type(SigningOrder, "signing_order"), nullable=False, default=SigningOrder.sequential)
    status = Column(enum_column_type(RequestStatus, "signature_status"), nullable=False, default=RequestStatus.draft)
    consent_text = Column(Text, nullable=False)  # the text each signer agreed to, kept with the record
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    created_by = relationship("User")
    created_on = Column(DateTime, nullable=False, default=func.now())
    sent_on = Column(DateTime)
    completed_on = Column(DateTime)  # sealed and stored as new versions
    closed_on = Column(DateTime)  # declined, expired or voided
    close_reason = Column(Text)
    documents = relationship("SignatureDocument", back_populates="request", cascade="all, delete-orphan",
                             order_by="SignatureDocument.position")
    signers = relationship("Signer", back_populates="request", cascade="all, delete-orphan",
                           order_by="Signer.position")
    fields = relationship("SignatureField", back_populates="request", cascade="all, delete-orphan",
                          order_by="SignatureField.id")

    def status_label(self):
        """Status in the reader's language."""
        return REQUEST_STATUS_LABELS.get(self.status, "")

    def is_open(self):
        """Whether signers may still sign."""
        return self.status in OPEN_STATUSES

    def __repr__(self):
        return self.title


class SignatureDocument(Model):
    """One PDF of a request: the version sent, and the sealed version once everyone signed."""

    __tablename__ = "signature_document"

    id = Column(Integer, primary_key=True)
    request_id = Column(Integer, ForeignKey("signature_request.id", ondelete="CASCADE"), nullable=False, index=True)
    request = relationship("SignatureRequest", back_populates="documents")
    document_id = Column(Integer, ForeignKey("document.id", ondelete="CASCADE"), nullable=False, index=True)
    document = relationship("Document")
    version_id = Column(Integer, ForeignKey("document_version.id", ondelete="CASCADE"), nullable=False, index=True)
    version = relationship("DocumentVersion", foreign_keys=[version_id])
    signed_version_id = Column(Integer, ForeignKey("document_version.id", ondelete="SET NULL"), index=True)
    signed_version = relationship("DocumentVersion", foreign_keys=[signed_version_id])
    position = Column(Integer, nullable=False, default=0)
    page_count = Column(Integer, nullable=False)
    sha256_before = Column(String(64), nullable=False)
    sha256_after = Column(String(64))

    def __repr__(self):
        return self.document.name if self.document is not None else str(self.id)


class Signer(Model):
    """A contact asked to sign a request, and the evidence of what they did."""

    __tablename__ = "signer"

    id = Column(Integer, primary_key=True)
    request_id = Column(Integer, ForeignKey("signature_request.id", ondelete="CASCADE"), nullable=False, index=True)
    request = relationship("SignatureRequest", back_populates="signers")
    contact_id = Column(Integer, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False, index=True)
    contact = relationship("Contact")
    position = Column(Integer, nullable=False, default=0)
    status = Column(enum_column_type(SignerStatus, "signer_status"), nullable=False, default=SignerStatus.waiting)
    name = Column(String(200), nullable=False)  # as asked: the contact's name and e-mail when sent
    email = Column(String(254), nullable=False)
    asked_on = Column(DateTime)
    viewed_on = Column(DateTime)  # first opened the request in the portal
    consented_on = Column(DateTime)
    signed_on = Column(DateTime)
    declined_on = Column(DateTime)
    decline_reason = Column(Text)
    ip = Column(String(45))
    user_agent = Column(String(400))
    auth_method = Column(String(20))  # "pin" or "email_code"
    signature_kind = Column(String(10))  # "typed" or "drawn"
    signature_text = Column(String(200))  # the typed name (also under a drawn signature)
    signature_image = Column(LargeBinary)  # PNG of a drawn signature
    initials = Column(String(10))

    def status_label(self):
        """Status in the reader's language."""
        return SIGNER_STATUS_LABELS.get(self.status, "")

    def __repr__(self):
        return self.name


class SignatureField(Model):
    """A box on a page (PDF points, origin bottom-left) that one signer fills."""

    __tablename__ = "signature_field"

    id = Column(Integer, primary_key=True)
    request_id = Column(Integer, ForeignKey("signature_request.id", ondelete="CASCADE"), nullable=False, index=True)
    request = relationship("SignatureRequest", back_populates="fields")
    document_id = Column(Integer, ForeignKey("signature_document.id", ondelete="CASCADE"), nullable=False, index=True)
    document = relationship("SignatureDocument")
    signer_id = Column(Integer, ForeignKey("signer.id", ondelete="CASCADE"), nullable=False, index=True)
    signer = relationship("Signer")
    kind = Column(enum_column_type(FieldKind, "signature_field_kind"), nullable=False)
    page = Column(Integer, nullable=False)  # 0-based
    x = Column(Float, nullable=False)
    y = Column(Float, nullable=False)
    w = Column(Float, nullable=False)
    h = Column(Float, nullable=False)
    label = Column(String(100))
    value = Column(Text)  # what the signer entered (text, "1"/"0" for a checkbox)

    def kind_label(self):
        """Kind in the reader's language."""
        return FIELD_LABELS.get(self.kind, "")
