"""Contact rules: unique addresses."""
from sqlalchemy import func, select

from app.extensions import db
from app.models import ContactEmail


def email_taken(address, email_id=None, contact_id=None):
    """Whether `address` belongs to a contact other than `contact_id` / a row other than `email_id`."""
    query = select(ContactEmail.id).where(func.lower(ContactEmail.email) == address.strip().lower())
    if email_id is not None:
        query = query.where(ContactEmail.id != int(email_id))
    if contact_id is not None:
        query = query.where(ContactEmail.contact_id != int(contact_id))
    return db.session.scalar(query.limit(1)) is not None
