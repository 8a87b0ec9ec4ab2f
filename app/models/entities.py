"""Client entities (people and companies) and who they are shared with."""
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import relationship


class EntityKind(enum.Enum):
    """What kind of taxpayer the client is."""

    individual = "individual"
    company = "company"
    partnership = "partnership"
    s_corp = "s_corp"
    trust = "trust"
    non_profit = "non_profit"


class EntityStatus(enum.Enum):
    """Whether the firm currently works for the client."""

    prospect = "prospect"
    active = "active"
    inactive = "inactive"
    archived = "archived"


KIND_LABELS = {
    EntityKind.individual: _l("Individual"),
    EntityKind.company: _l("Company"),
    EntityKind.partnership: _l("Partnership"),
    EntityKind.s_corp: _l("S corporation"),
    EntityKind.trust: _l("Trust"),
    EntityKind.non_profit: _l("Non-profit"),
}
STATUS_LABELS = {
    EntityStatus.prospect: _l("Prospect"),
    EntityStatus.active: _l("Active"),
    EntityStatus.inactive: _l("Inactive"),
    EntityStatus.archived: _l("Archived"),
}


class Entity(Model):
    """A client of the firm: a person or an organisation whose work the firm does."""

    __tablename__ = "entity"

    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False, index=True)
    # The firm's own id for the client (practice software, spreadsheets): re-imports match on it.
    external_id = Column(String(64), unique=True)
    kind = Column(Enum(EntityKind, name="entity_kind", native_enum=False, length=20), nullable=False)
    tax_id = Column(String(20))
    status = Column(
        Enum(EntityStatus, name="entity_status", native_enum=False, length=20),
        nullable=False,
        default=EntityStatus.active,
    )
    responsible_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    responsible = relationship("User")
    address = Column(Text)
    created_on = Column(DateTime, nullable=False, default=func.now())

    shares = relationship("EntityShare", back_populates="entity", cascade="all, delete-orphan")

    def kind_label(self):
        """The entity kind in the reader's language."""
        return KIND_LABELS.get(self.kind, "")

    def status_label(self):
        """The status in the reader's language."""
        return STATUS_LABELS.get(self.status, "")

    def masked_tax_id(self):
        """The tax id with all but its last four characters hidden, for lists."""
        if not self.tax_id:
            return ""
        return "•" * max(len(self.tax_id) - 4, 0) + self.tax_id[-4:]

    def __repr__(self):
        return self.name


class EntityShare(Model):
    """Grants one entity role on one entity to exactly one staff user, contact or contact group."""

    __tablename__ = "entity_share"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN user_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN contact_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="ck_entity_share_one_grantee",
        ),
        UniqueConstraint("entity_id", "user_id", name="uq_entity_share_user"),
        UniqueConstraint("entity_id", "contact_id", name="uq_entity_share_contact"),
        UniqueConstraint("entity_id", "group_id", name="uq_entity_share_group"),
        # Grantee first, then role: "this contact's (or group's, or member's) entities for a role"
        # is the question of every scope; with role_id alone SQLite walked all shares of the role.
        Index("ix_entity_share_user_role", "user_id", "role_id"),
        Index("ix_entity_share_contact_role", "contact_id", "role_id"),
        Index("ix_entity_share_group_role", "group_id", "role_id"),
        Index("ix_entity_share_created_id", "created_on", "id"),  # the newest-first list walks it
    )

    id = Column(Integer, primary_key=True)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False, index=True)
    entity = relationship("Entity", back_populates="shares")
    role_id = Column(Integer, ForeignKey("ab_role.id", ondelete="CASCADE"), nullable=False, index=True)
    role = relationship("Role")
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"))
    user = relationship("User")
    contact_id = Column(Integer, ForeignKey("contact.id", ondelete="CASCADE"))
    contact = relationship("Contact", back_populates="shares")
    group_id = Column(Integer, ForeignKey("contact_group.id", ondelete="CASCADE"))
    group = relationship("ContactGroup", back_populates="shares")
    created_on = Column(DateTime, nullable=False, default=func.now())

    @property
    def grantee(self):
        """Whoever the share is for: a staff user, a contact or a group."""
        return self.user or self.contact or self.group

    def grantee_label(self):
        """The grantee's name for lists."""
        return str(self.grantee) if self.grantee is not None else ""

    def __repr__(self):
        return f"{self.entity} — {self.grantee_label()} ({self.role})"
