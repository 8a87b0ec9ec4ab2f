"""Portico's models; importing this package registers every table on FAB's shared metadata."""
from app.models.activity import ActivityEvent
from app.models.api_tokens import ApiCall, ApiToken, TokenScope
from app.models.documents import Document, DocumentVersion, Folder
from app.models.contacts import Contact, ContactEmail, ContactGroup, contact_group_members
from app.models.entities import Entity, EntityShare
from app.models.firm import FirmSettings
from app.models.imports import ImportRun, ImportState
from app.models.k1 import K1Recipient, K1Status
from app.models.messages import Message, MessageKind
from app.models.notifications import Notification, NotificationPreference
from app.models.organizers import (Organizer, OrganizerAnswer, OrganizerQuestion, OrganizerSection,
                                   OrganizerTemplate)
from app.models.passkeys import StaffPasskey
from app.models.portal import AccessCode, CodePurpose, TrustedDevice
from app.models.requests import ClientRequest, RequestStatus
from app.models.two_factor import StaffRecoveryCode, StaffTotp, StaffTrustedBrowser
from app.models.signatures import SignatureDocument, SignatureField, SignatureRequest, Signer
from app.models.tasks import ChecklistItem, FileRequestAnswer, Task, TaskSeries
from app.models.task_batches import BatchState, TaskBatch, TaskTemplate
from app.models.vouchers import TaxVoucher, VoucherStatus
from app.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiCall",
    "ApiToken",
    "TokenScope",
    "AccessCode",
    "CodePurpose",
    "TrustedDevice",
    "ActivityEvent",
    "ChecklistItem",
    "ClientRequest",
    "Contact",
    "ContactEmail",
    "ContactGroup",
    "Document",
    "DocumentVersion",
    "contact_group_members",
    "Entity",
    "EntityShare",
    "FirmSettings",
    "ImportRun",
    "ImportState",
    "FileRequestAnswer",
    "K1Recipient",
    "K1Status",
    "Folder",
    "Message",
    "MessageKind",
    "Notification",
    "NotificationPreference",
    "Organizer",
    "OrganizerAnswer",
    "OrganizerQuestion",
    "OrganizerSection",
    "OrganizerTemplate",
    "RequestStatus",
    "SignatureDocument",
    "SignatureField",
    "SignatureRequest",
    "Signer",
    "StaffPasskey",
    "StaffRecoveryCode",
    "StaffTotp",
    "StaffTrustedBrowser",
    "Task",
    "TaskSeries",
    "BatchState",
    "TaskBatch",
    "TaskTemplate",
    "TaxVoucher",
    "VoucherStatus",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
