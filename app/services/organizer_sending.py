"""Sending organizers: to one entity at once, or to many through "assign to many" (app.services.
task_batches), whose background job creates one organizer task per chosen entity with progress.

Either way each organizer rides on a task assigned to the entity's contacts, with the deadline (and so
the deadline reminders of app.services.task_reminders). An entity has one organizer of a template family
per tax year: a second send of the same year is refused for it (in a batch: recorded as its failure).
"""
from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import Organizer
from app.models.tasks import TaskKind
from app.security import access
from app.security import roles as R
from app.services import task_batches, tasks
from app.services.organizer_values import OrganizerError


def check_sendable(template):
    """Refuse a template that is not the current version or has no question yet."""
    if not template.is_current:
        raise OrganizerError(_("Send the current version of the template."))
    if not any(s.questions for s in template.sections):
        raise OrganizerError(_("The template has no questions yet."))


def _taken(template, tax_year, entity_ids):
    """The ids among `entity_ids` that already have an organizer of the template family for the year."""
    return set(db.session.scalars(select(Organizer.entity_id).where(
        Organizer.family_id == template.family_id, Organizer.tax_year == tax_year,
        Organizer.entity_id.in_(entity_ids))))


def create_one(template, entity, user, tax_year, deadline=None, batch_id=None):
    """One entity's organizer with its task, assigned to the entity's contacts (uncommitted);
    OrganizerError before anything is written."""
    if _taken(template, tax_year, [entity.id]):
        raise OrganizerError(_("%(name)s already has this organizer for %(year)d.", name=entity.name, year=tax_year))
    assignees = tasks.default_assignees(entity)
    if not assignees:
        raise OrganizerError(_("%(name)s has no contact to send the organizer to.", name=entity.name))
    task = tasks.create_task(entity, f"{template.name} {tax_year}", user, deadline=deadline, commit=False,
                             description=template.description, assignees=assignees, batch_id=batch_id)
    organizer = Organizer(template=template, family_id=template.family_id, entity=entity, task=task,
                          name=template.name, tax_year=tax_year, created_by_id=user.id)
    db.session.add(organizer)
    db.session.flush()
    tasks.assign(task, user, commit=False)
    return organizer


def send(user, template, entities, tax_year, deadline=None):
    """Right away: one organizer per entity, each with an assigned task; all or nothing (the organizers)."""
    check_sendable(template)
    if not entities:
        raise OrganizerError(_("Choose at least one client."))
    refused = [e for e in entities if not access.can(user, R.WORK, e)]
    if refused:
        raise OrganizerError(_("You cannot send work to %(names)s.", names=", ".join(map(str, refused))))
    taken = _taken(template, tax_year, [e.id for e in entities])
    if taken:
        names = ", ".join(str(e) for e in entities if e.id in taken)
        raise OrganizerError(_("%(names)s already have this organizer for %(year)d.", names=names, year=tax_year))
    try:
        made = [create_one(template, entity, user, tax_year, deadline) for entity in entities]
    except OrganizerError:
        db.session.rollback()
        raise
    db.session.commit()
    return made


def start_batch(user, template, selection, tax_year, deadline=None):
    """Send to every entity `user` works on that `selection` chooses, in the background (the TaskBatch);
    OrganizerError or task_batches.BatchRefused when refused."""
    check_sendable(template)
    return task_batches.start(user, selection, TaskKind.task, f"{template.name} {tax_year}",
                              description=template.description, deadline=deadline, assign_now=True,
                              organizer_template=template, tax_year=tax_year)
