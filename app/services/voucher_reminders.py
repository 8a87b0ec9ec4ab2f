"""Tax payment reminders of the daily job: one per contact who can see an entity, for each due date
`REMINDER_DAYS_BEFORE` days away that still has unpaid vouchers (about the date's first voucher).

Written set-based (app/services/outbox_bulk.py): a batch of (entity, due date) pairs is one
INSERT … SELECT per channel over the entity's direct and group shares; disabled contacts hear nothing.
"""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import case, func, literal, select

from app import jobs
from app.extensions import db
from app.models import Contact, TaxVoucher
from app.models.contacts import PortalState
from app.models.vouchers import VoucherStatus
from app.services import events, outbox_bulk
from app.services.entities import shared_contacts
from app.services.vouchers import reminder_days

BATCH = 2000  # (entity, due date) pairs per statement and commit


def remind(today, days_before=None):
    """Remind of each due date `days_before` days from `today` with unpaid vouchers (in-app and e-mail
    rows, an activity line per reminder); a re-run the same day adds nothing. Returns how many
    (entity, due date) reminders reached at least one new contact."""
    wanted = {today + timedelta(days=n): n for n in (reminder_days() if days_before is None else days_before)}
    unpaid = func.sum(case((TaxVoucher.status == VoucherStatus.unpaid, 1), else_=0))
    pairs = db.session.execute(
        select(TaxVoucher.entity_id, func.min(TaxVoucher.id)).where(TaxVoucher.due_date.in_(list(wanted)))
        .group_by(TaxVoucher.entity_id, TaxVoucher.due_date).having(unpaid > 0)
        .order_by(TaxVoucher.entity_id)).all()
    discriminator = case({d: f"{d.isoformat()}:{n}" for d, n in wanted.items()}, value=TaxVoucher.due_date)
    summary = case({d: _("Tax payments due on %(date)s", date=d.isoformat()) for d in wanted},
                   value=TaxVoucher.due_date)
    emitted = 0
    for start in range(0, len(pairs), BATCH):
        batch = pairs[start:start + BATCH]
        firsts, entities = [p[1] for p in batch], sorted({p[0] for p in batch})
        people = _recipients(entities)
        given = outbox_bulk.insert_rows(lambda channel, now: select(*outbox_bulk.columns(
            people.c.contact_id, events.VOUCHER_DUE, TaxVoucher.entity_id, "TaxVoucher", TaxVoucher.id, channel,
            now, discriminator)).join(people, people.c.entity_id == TaxVoucher.entity_id)
            .where(TaxVoucher.id.in_(firsts)))
        if given:
            outbox_bulk.record_activity(select(
                literal(f"work.{events.VOUCHER_DUE}"), TaxVoucher.entity_id, literal("TaxVoucher"), TaxVoucher.id,
                summary).where(TaxVoucher.id.in_(sorted(given))))
        db.session.commit()
        emitted += len(given)
    if emitted:
        jobs.enqueue_drain()
    return emitted


def _recipients(entity_ids):
    """(entity_id, contact_id) of the contacts who see these entities and may be mailed (not disabled):
    the same people as contacts_with_access + may_be_mailed."""
    shared = shared_contacts(entity_ids).subquery()
    return (select(shared.c.entity_id, shared.c.contact_id).join(Contact, Contact.id == shared.c.contact_id)
            .where(Contact.portal_state != PortalState.disabled).subquery())
