"""The activity log: who did what to which object, when and from where."""
from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import relationship


VERB_LABELS = {
    "entity.created": _l("Entity created"),
    "entity.updated": _l("Entity changed"),
    "entity.deleted": _l("Entity deleted"),
    "share.granted": _l("Access granted"),
    "share.changed": _l("Access changed"),
    "share.revoked": _l("Access revoked"),
    "document.uploaded": _l("Document uploaded"),
    "document.versioned": _l("New document version"),
    "document.updated": _l("Document changed"),
    "document.deleted": _l("Document deleted"),
    "document.downloaded": _l("Document downloaded"),
    "document.viewed": _l("Document viewed"),
    "task.opened": _l("Client opened a task"),
    "folder.created": _l("Folder created"),
    "folder.deleted": _l("Folder deleted"),
    "work.task_assigned": _l("Task assigned to the client"),
    "work.task_withdrawn": _l("Task withdrawn from the client"),
    "work.message_posted": _l("Message posted"),
    "work.client_completed": _l("Client marked a task done"),
    "work.request_created": _l("Client request created"),
    "work.file_request_created": _l("File request sent"),
    "work.deadline_approaching": _l("Deadline approaching"),
    "work.organizer_reopened": _l("Organizer given back to the client"),
    "organizer.file_removed": _l("File taken off an organizer question"),
    "k1.partner_added": _l("K-1 partner added"),
    "k1.partner_changed": _l("K-1 partner changed"),
    "k1.partner_removed": _l("K-1 partner removed"),
    "k1.sent": _l("K-1 link sent"),
    "k1.revoked": _l("K-1 link revoked"),
    "k1.bounced": _l("K-1 mail bounced"),
    "k1.opened": _l("K-1 opened by the partner"),
    "k1.downloaded": _l("K-1 downloaded by the partner"),
    "work.voucher_due": _l("Tax payment reminder sent"),
    "voucher.paid": _l("Tax voucher marked paid"),
    "voucher.imported": _l("Tax vouchers imported"),
    "staff.second_factor_enrolled": _l("Second factor set up"),
    "staff.second_factor_reset": _l("Second factor reset by an Admin"),
    "staff.recovery_code_used": _l("Recovery code used to sign in"),
    "staff.recovery_codes_renewed": _l("New recovery codes made"),
    "staff.sessions_ended": _l("Sessions ended by an Admin"),
    "staff.second_factor_used": _l("Signed in with an authenticator code"),
    "staff.passkey_added": _l("Passkey added"),
    "staff.passkey_removed": _l("Passkey removed"),
    "staff.passkey_used": _l("Signed in with a passkey"),
}


class ActivityEvent(Model):
    """One thing that happened; feeds "Recent activity" and the staff audit trail."""

    __tablename__ = "activity_event"
    __table_args__ = (Index("ix_activity_event_entity_time", "entity_id", "created_on"),)

    id = Column(Integer, primary_key=True)
    created_on = Column(DateTime, nullable=False, default=func.now(), index=True)
    actor_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    actor = relationship("User")
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="SET NULL"))
    entity = relationship("Entity")
    verb = Column(String(50), nullable=False)
    object_type = Column(String(50))
    object_id = Column(Integer)
    summary = Column(String(300))
    ip = Column(String(45))

    def verb_label(self):
        """What happened, in the reader's language."""
        return VERB_LABELS.get(self.verb, self.verb)

    def __repr__(self):
        return f"{self.verb} {self.object_type or ''} {self.object_id or ''}".strip()
