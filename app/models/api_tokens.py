"""Personal API tokens of staff members, and the audit trail of the calls made with them."""
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, DateTime, Enum, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import relationship


class TokenScope(enum.Enum):
    """What a token may do: read only, or read and write (always within its owner's rights)."""

    read = "read"
    write = "write"


SCOPE_LABELS = {TokenScope.read: _l("Read only"), TokenScope.write: _l("Read and write")}


class ApiToken(Model):
    """A staff member's bearer token. Only the SHA-256 of its secret is kept; the public prefix finds it."""

    __tablename__ = "api_token"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    user = relationship("User", foreign_keys=[user_id])
    name = Column(String(100), nullable=False)
    # The token's public part ("ptk_<prefix>_…"): an exact-match key, never secret.
    prefix = Column(String(16), nullable=False, unique=True)
    secret_hash = Column(String(64), nullable=False)
    scope = Column(Enum(TokenScope, name="api_token_scope", native_enum=False, length=10), nullable=False)
    created_on = Column(DateTime, nullable=False, default=func.now())
    expires_on = Column(DateTime, nullable=False)
    last_used_on = Column(DateTime)
    revoked_on = Column(DateTime)
    revoked_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    revoked_by = relationship("User", foreign_keys=[revoked_by_id])

    def scope_label(self):
        """The scope in the reader's language."""
        return SCOPE_LABELS.get(self.scope, "")

    def __repr__(self):
        return f"{self.name} (ptk_{self.prefix}…)"


class ApiCall(Model):
    """One request made with a token: who, what, the answer's status, when and from where."""

    __tablename__ = "api_call"
    __table_args__ = (
        Index("ix_api_call_token_id", "token_id", "id"),
        Index("ix_api_call_user_id", "user_id", "id"),
    )

    id = Column(Integer, primary_key=True)
    token_id = Column(Integer, ForeignKey("api_token.id", ondelete="CASCADE"), nullable=False)
    token = relationship("ApiToken")
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    method = Column(String(10), nullable=False)
    path = Column(String(300), nullable=False)
    status = Column(Integer, nullable=False)
    created_on = Column(DateTime, nullable=False, default=func.now(), index=True)
    ip = Column(String(45))
