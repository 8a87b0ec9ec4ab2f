"""A demo signature request: the engagement letter waiting for the entity's portal contacts to sign."""
from datetime import date, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Document, SignatureRequest
from app.models.contacts import PortalState
from app.services import signatures as service


def seed_signatures(entity, user):
    """Send the entity's engagement letter for signature to its contacts with a portal account (once)."""
    if db.session.scalar(select(SignatureRequest.id).where(SignatureRequest.entity_id == entity.id).limit(1)):
        return
    doc = db.session.scalar(select(Document).where(Document.entity_id == entity.id,
                                                   Document.name == "Engagement letter 2025.pdf"))
    signers = [c for c in service.eligible_contacts(entity) if c.portal_state is PortalState.active]
    if doc is None or not signers:
        return
    request = service.create(entity, user, "Engagement letter 2025", [doc], signers,
                             message="Please read and sign our engagement letter for the 2025 tax year.",
                             deadline=date.today() + timedelta(days=14))
    service.send(request, user)
