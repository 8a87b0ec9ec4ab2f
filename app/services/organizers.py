"""Organizers: answers saved one by one (a stale save is refused), conditions, submit, reopen, review,
and last year's answers (sending them: app.services.organizer_sending).

Each organizer rides on an assigned task of its entity: the task's deadline, reminders, assignees and
portal scope are the organizer's. Submitting completes the task on the client's side (so the
responsible staff member is notified) and emits ORGANIZER_SUBMITTED for integrations.
"""
import json
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Organizer, OrganizerAnswer, OrganizerQuestion, OrganizerSection, OrganizerTemplate
from app.models.organizers import OrganizerStatus, QuestionKind
from app.models.tasks import PortalState
from app.security import access
from app.services import events, tasks
from app.services.organizer_values import OrganizerError, _list, clean_value  # noqa: F401 (views use them here)

class StaleAnswer(OrganizerError):
    """The answer changed since the page loaded it (another tab, another person)."""

    def __init__(self, answer):
        super().__init__(_("This answer was changed elsewhere; the newer answer is shown."))
        self.answer = answer


def for_task(task):
    """The organizer a task carries, or None."""
    return db.session.scalar(select(Organizer).where(Organizer.task_id == task.id))


def questions(organizer):
    """The organizer's sections with their questions, in order (two queries)."""
    return db.session.scalars(select(OrganizerSection).where(OrganizerSection.template_id == organizer.template_id)
                              .options(selectinload(OrganizerSection.questions))
                              .order_by(OrganizerSection.position, OrganizerSection.id)).all()


def answers(organizer):
    """{question id: answer} of the organizer (one query)."""
    rows = db.session.scalars(select(OrganizerAnswer).where(OrganizerAnswer.organizer_id == organizer.id)).all()
    return {a.question_id: a for a in rows}


def matches(question, answer, wanted):
    """Whether `answer` to `question` is `wanted` (for multiple choice: one of the ticked choices)."""
    if answer is None or answer.not_applicable or not answer.value:
        return False
    if question.kind is QuestionKind.multiple_choice:
        return wanted in _list(answer.value)
    return answer.value.strip().lower() == (wanted or "").strip().lower()


def shown(sections, answer_map):
    """The ids of the questions shown: no condition, or its question is shown and answered as asked."""
    by_key, ids = {}, set()
    for question in (q for s in sections for q in s.questions):
        parent = by_key.get(question.condition_key)
        if question.condition_key is None or (
                parent is not None and parent.id in ids
                and matches(parent, answer_map.get(parent.id), question.condition_value)):
            ids.add(question.id)
        by_key[question.key] = question
    return ids


def is_answered(question, answer):
    """Whether a question counts as answered: "does not apply", a value, or (file questions) an upload."""
    if answer is None:
        return False
    if answer.not_applicable:
        return True
    if question.kind is QuestionKind.file_upload:
        return bool(answer.documents())
    return bool((answer.value or "").strip()) and answer.value != "[]"


def missing(organizer, sections=None, answer_map=None):
    """The required questions shown and not answered (hidden ones never block)."""
    sections = questions(organizer) if sections is None else sections
    answer_map = answers(organizer) if answer_map is None else answer_map
    visible = shown(sections, answer_map)
    return [q for s in sections for q in s.questions
            if q.required and q.id in visible and not is_answered(q, answer_map.get(q.id))]


def progress(organizer, sections=None, answer_map=None):
    """(questions answered, questions shown, required questions shown and not answered) — what the
    portal's progress bar and "still to answer" list show, after every save too."""
    sections = questions(organizer) if sections is None else sections
    answer_map = answers(organizer) if answer_map is None else answer_map
    visible = shown(sections, answer_map)
    asked = [q for s in sections for q in s.questions if q.id in visible]
    done = sum(1 for q in asked if is_answered(q, answer_map.get(q.id)))
    return done, len(asked), missing(organizer, sections, answer_map)


def check_open(organizer):
    """Refuse changes to a submitted (or reviewed) organizer."""
    if not organizer.is_open():
        raise OrganizerError(_("This organizer was submitted; it can no longer be changed."))


def question_of(organizer, question_id):
    """The question `question_id` of the organizer's template version (LookupError for another's)."""
    question = db.session.get(OrganizerQuestion, question_id)
    if question is None or question.template_id != organizer.template_id:
        raise LookupError(question_id)
    return question


def save_answer(organizer, question_id, user, version, value=None, not_applicable=False, documents=None):
    """Store one answer if nobody changed it since `version` (else StaleAnswer with the newer one);
    `documents` (a list of ids) replaces the uploads when given. Returns the answer."""
    check_open(organizer)
    question = question_of(organizer, question_id)
    stored = None if not_applicable else clean_value(question, value)
    fields = {"value": stored, "not_applicable": bool(not_applicable), "updated_on": datetime.now(),
              "updated_by_id": user.id, "version": int(version) + 1}
    if documents is not None:
        fields["document_ids"] = json.dumps(documents)
    current = db.session.scalar(select(OrganizerAnswer).where(
        OrganizerAnswer.organizer_id == organizer.id, OrganizerAnswer.question_id == question.id))
    if current is None and int(version) == 0:
        try:
            with db.session.begin_nested():
                db.session.add(OrganizerAnswer(organizer_id=organizer.id, question_id=question.id, **fields))
        except IntegrityError:  # another tab wrote the first answer a moment ago
            current = db.session.scalar(select(OrganizerAnswer).where(
                OrganizerAnswer.organizer_id == organizer.id, OrganizerAnswer.question_id == question.id))
            raise StaleAnswer(current) from None
    else:
        changed = db.session.execute(update(OrganizerAnswer).where(
            OrganizerAnswer.organizer_id == organizer.id, OrganizerAnswer.question_id == question.id,
            OrganizerAnswer.version == int(version)).values(**fields).execution_options(synchronize_session=False))
        if changed.rowcount != 1:
            db.session.rollback()
            raise StaleAnswer(current_answer(organizer, question))
    if organizer.status is OrganizerStatus.not_started:
        organizer.status = OrganizerStatus.in_progress
    db.session.commit()
    return current_answer(organizer, question)


def current_answer(organizer, question):
    """The stored answer to `question`, freshly read (None before the first save)."""
    row = db.session.scalar(select(OrganizerAnswer).where(
        OrganizerAnswer.organizer_id == organizer.id, OrganizerAnswer.question_id == question.id))
    if row is not None:
        db.session.refresh(row)
    return row


def submit(organizer, contact, user, review_url=None):
    """The client hands the organizer in: every required question shown must be answered."""
    check_open(organizer)
    if missing(organizer):
        raise OrganizerError(_("Answer the required questions first."))
    organizer.status, organizer.submitted_on, organizer.submitted_by_id = (OrganizerStatus.submitted,
                                                                           datetime.now(), contact.id)
    organizer.reopened_note = None
    events.emit(events.ORGANIZER_SUBMITTED, organizer.entity, organizer, actor=user, url=review_url,
                summary=str(organizer))
    if organizer.task is not None and organizer.task.client_status.name != "done":
        tasks.client_complete(organizer.task, contact, user)  # tells the responsible staff member; commits
    db.session.commit()


def reopen(organizer, user, note):
    """Staff give the organizer back to the client, saying why."""
    if organizer.status not in (OrganizerStatus.submitted, OrganizerStatus.reviewed):
        raise OrganizerError(_("Only a submitted organizer can be reopened."))
    if not (note or "").strip():
        raise OrganizerError(_("Say what the client should change."))
    organizer.status, organizer.reopened_note = OrganizerStatus.in_progress, note.strip()[:2000]
    organizer.reviewed_on = organizer.reviewed_by_id = None
    task = organizer.task
    if task is not None:  # its assigned contacts are told, in the same transaction as the reopen
        people = list(task.assignees) if task.portal_state is PortalState.assigned else []
        events.emit(events.ORGANIZER_REOPENED, organizer.entity, task, actor=user, recipients=people,
                    reopened_on=datetime.now(), summary=str(organizer))
        tasks.reopen(task, user)  # commits
    db.session.commit()


def mark_reviewed(organizer, user):
    """Staff have gone through the answers."""
    if organizer.status is not OrganizerStatus.submitted:
        raise OrganizerError(_("Only a submitted organizer can be marked reviewed."))
    organizer.status, organizer.reviewed_on, organizer.reviewed_by_id = OrganizerStatus.reviewed, datetime.now(), user.id
    db.session.commit()


def previous(organizer):
    """{question key: (question, answer)} of last year's organizer of the same template for the entity."""
    before = db.session.scalar(select(Organizer.id).where(
        Organizer.family_id == organizer.family_id, Organizer.entity_id == organizer.entity_id,
        Organizer.id != organizer.id, Organizer.tax_year < organizer.tax_year)
        .order_by(Organizer.tax_year.desc(), Organizer.id.desc()).limit(1))
    if before is None:
        return {}
    rows = db.session.execute(select(OrganizerQuestion, OrganizerAnswer)
                              .join(OrganizerAnswer, OrganizerAnswer.question_id == OrganizerQuestion.id)
                              .where(OrganizerAnswer.organizer_id == before)).all()
    return {q.key: (q, a) for q, a in rows}


def changed(answer, last):
    """Whether this year's answer differs from last year's (`last`: a (question, answer) pair or None)."""
    if last is None:
        return answer is not None and (answer.value or answer.not_applicable)
    before = last[1]
    if answer is None:
        return True
    return (answer.value, answer.not_applicable) != (before.value, before.not_applicable)


def counts_by_status(user):
    """{family id: {status: count}} of the organizers in the user's scope (one grouped query)."""
    from sqlalchemy import func
    rows = db.session.execute(select(Organizer.family_id, Organizer.status, func.count())
                              .where(access.scope(user, Organizer)).group_by(Organizer.family_id, Organizer.status))
    counts = {}
    for family, status, number in rows:
        counts.setdefault(family, {})[status] = number
    return counts


def template_family(family_id):
    """The current version of a template family, or None."""
    return db.session.scalar(select(OrganizerTemplate).where(OrganizerTemplate.family_id == family_id,
                                                             OrganizerTemplate.is_current.is_(True)))
