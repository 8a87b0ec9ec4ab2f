"""Staff passkeys (WebAuthn credentials): a second factor beside the authenticator app."""
from flask_appbuilder import Model
from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, LargeBinary, String, func
from sqlalchemy.orm import relationship


class StaffPasskey(Model):
    """One passkey of a staff member: its credential id and public key, and the authenticator's counter."""

    __tablename__ = "staff_passkey"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    # base64url of the raw credential id (at most 1,023 bytes, so at most 1,364 characters).
    credential_id = Column(String(1400), nullable=False, unique=True)
    public_key = Column(LargeBinary, nullable=False)  # COSE-encoded
    # The authenticator's signature counter: an assertion must carry a higher one (0 = it keeps none).
    sign_count = Column(BigInteger, nullable=False, default=0, server_default="0")
    transports = Column(String(200), nullable=False, default="")  # comma-separated hints for the browser
    name = Column(String(100), nullable=False)
    created_on = Column(DateTime, nullable=False, default=func.now())
    last_used_on = Column(DateTime)

    user = relationship("User")
