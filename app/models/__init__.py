"""Portico's models; importing this package registers every table on FAB's shared metadata."""
from app.models.activity import ActivityEvent
from app.models.documents import Document, DocumentVersion, Folder
from app.models.contacts import Contact, ContactEmail, ContactGroup, contact_group_members
from app.models.entities import Entity, EntityShare
from app.models.firm import FirmSettings

__all__ = [
    "ActivityEvent",
    "Contact",
    "ContactEmail",
    "ContactGroup",
    "Document",
    "DocumentVersion",
    "contact_group_members",
    "Entity",
    "EntityShare",
    "FirmSettings",
    "Folder",
]
