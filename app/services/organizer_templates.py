"""Organizer templates: sections and questions, their order and conditions, and versions.

A version that has been sent is frozen: the first edit after sending copies it into the next version
(same question keys) and edits the copy, so organizers already sent keep the questions they were sent
with. Every function takes the version the screen showed and returns the version it changed.
"""
import secrets

from flask_babel import gettext as _
from sqlalchemy import exists, select

from app.extensions import db
from app.models import Organizer, OrganizerQuestion, OrganizerSection, OrganizerTemplate
from app.models.organizers import QuestionKind

CHOICE_KINDS = (QuestionKind.single_choice, QuestionKind.multiple_choice)
MAX_FILES = 20


class TemplateError(ValueError):
    """A refused template edit; the message is for the user."""


def create(user, name, language="en", description=None):
    """A new template family with its first (empty) version."""
    if not (name or "").strip():
        raise TemplateError(_("Give the template a name."))
    row = OrganizerTemplate(name=name.strip()[:200], language=(language or "en")[:10], description=description,
                            created_by_id=getattr(user, "id", None))
    db.session.add(row)
    db.session.flush()
    row.family_id = row.id
    db.session.commit()
    return row


def current_templates():
    """The current version of every template family, by name."""
    return db.session.scalars(select(OrganizerTemplate).where(OrganizerTemplate.is_current.is_(True))
                              .order_by(OrganizerTemplate.name, OrganizerTemplate.id)).all()


def is_sent(template):
    """Whether an organizer was sent with this version (it is frozen then)."""
    return db.session.scalar(select(exists().where(Organizer.template_id == template.id)))


def _editable(template, user):
    """`template` itself while unsent; else its next version, and maps of old → new section and question ids."""
    if not template.is_current:
        raise TemplateError(_("This is an old version of the template; edit the current one."))
    if not is_sent(template):
        return template, {s.id: s for s in template.sections}, {q.id: q for s in template.sections for q in s.questions}
    copy = OrganizerTemplate(family_id=template.family_id, version=template.version + 1, name=template.name,
                             language=template.language, description=template.description,
                             created_by_id=getattr(user, "id", None))
    template.is_current = False
    db.session.add(copy)
    db.session.flush()  # the copy's id, which its questions carry
    sections, questions = {}, {}
    for section in template.sections:
        new = OrganizerSection(position=section.position, title=section.title, help=section.help)
        new.questions = [OrganizerQuestion(template_id=copy.id, **_fields(q)) for q in section.questions]
        sections[section.id] = new
        questions.update(zip([q.id for q in section.questions], new.questions))
        copy.sections.append(new)
    return copy, sections, questions


def _fields(question):
    return {name: getattr(question, name) for name in ("position", "key", "kind", "label", "help", "required",
                                                       "choices", "max_files", "condition_key", "condition_value")}


def _finish(version):
    """Commit the edit; returns the version edited."""
    db.session.commit()
    return version


def _find(mapping, item_id):
    item = mapping.get(item_id)
    if item is None:
        raise TemplateError(_("That item is not part of this template."))
    return item


def add_section(template, user, title, help_text=None):
    """A new section at the end."""
    if not (title or "").strip():
        raise TemplateError(_("Give the section a title."))
    version, _sections, _questions = _editable(template, user)
    version.sections.append(OrganizerSection(position=len(version.sections), title=title.strip()[:200],
                                             help=help_text))
    return _finish(version)


def edit_section(template, user, section_id, title, help_text=None):
    """Rename a section or change its help."""
    if not (title or "").strip():
        raise TemplateError(_("Give the section a title."))
    version, sections, _questions = _editable(template, user)
    section = _find(sections, section_id)
    section.title, section.help = title.strip()[:200], help_text
    return _finish(version)


def delete_section(template, user, section_id):
    """Remove a section and its questions."""
    version, sections, _questions = _editable(template, user)
    version.sections.remove(_find(sections, section_id))
    _renumber(version.sections)
    return _finish(version)


def save_question(template, user, section_id, data, question_id=None):
    """Add a question to a section (question_id None) or change one; `data` holds the question's fields."""
    version, sections, questions = _editable(template, user)
    section = _find(sections, section_id)
    question = _find(questions, question_id) if question_id is not None else None
    ordered = [q for s in version.sections for q in s.questions]
    earlier = ordered[:ordered.index(question)] if question is not None else \
        [q for s in version.sections[:version.sections.index(section) + 1] for q in s.questions]
    clean = _clean_question(data, earlier)
    if question is None:
        question = OrganizerQuestion(template_id=version.id, position=len(section.questions), key=data.get("key") or _new_key(), **clean)
        section.questions.append(question)
    else:
        for name, value in clean.items():
            setattr(question, name, value)
    return _finish(version)


def _new_key():
    return "q" + secrets.token_hex(6)


def _clean_question(data, earlier):
    """The question's fields from `data`, checked; a condition may only name an earlier question."""
    label = (data.get("label") or "").strip()
    if not label:
        raise TemplateError(_("Write the question."))
    try:
        kind = QuestionKind[data.get("kind") or ""]
    except KeyError:
        raise TemplateError(_("Choose what kind of answer the question asks for.")) from None
    choices = "\n".join(line.strip()[:200] for line in (data.get("choices") or "").splitlines() if line.strip())
    if kind in CHOICE_KINDS and not choices:
        raise TemplateError(_("List the choices, one per line."))
    max_files = data.get("max_files") or 1
    if kind is QuestionKind.file_upload and not 1 <= int(max_files) <= MAX_FILES:
        raise TemplateError(_("A question takes between 1 and %(max)d files.", max=MAX_FILES))
    condition_key = (data.get("condition_key") or "").strip() or None
    if condition_key is not None and condition_key not in {q.key for q in earlier}:
        raise TemplateError(_("A condition can only depend on an earlier question."))
    return {"label": label[:500], "kind": kind, "help": (data.get("help") or "").strip() or None,
            "required": bool(data.get("required")), "choices": choices or None, "max_files": int(max_files),
            "condition_key": condition_key,
            "condition_value": (data.get("condition_value") or "").strip()[:200] if condition_key else None}


def delete_question(template, user, question_id):
    """Remove a question (conditions that named it are dropped: the question they hid now always shows)."""
    version, _sections, questions = _editable(template, user)
    question = _find(questions, question_id)
    section = next(s for s in version.sections if question in s.questions)
    section.questions.remove(question)
    for other in (q for s in version.sections for q in s.questions):
        if other.condition_key == question.key:
            other.condition_key = other.condition_value = None
    _renumber(section.questions)
    return _finish(version)


def move(template, user, what, item_id, delta):
    """Move a section or a question one place up (delta -1) or down (+1): the keyboard's reordering."""
    version, sections, questions = _editable(template, user)
    if what == "section":
        rows, item = version.sections, _find(sections, item_id)
    else:
        item = _find(questions, item_id)
        rows = next(s for s in version.sections if item in s.questions).questions
    index = rows.index(item)
    target = index + (1 if delta > 0 else -1)
    if 0 <= target < len(rows):
        rows.insert(target, rows.pop(index))
        _renumber(rows)
    _check_conditions(version)
    return _finish(version)


def reorder(template, user, section_id, question_ids):
    """Put a section's questions in the order given (drag and drop sends the whole order)."""
    version, sections, questions = _editable(template, user)
    section = _find(sections, section_id)
    wanted = [_find(questions, pk) for pk in question_ids]
    if sorted(id(q) for q in wanted) != sorted(id(q) for q in section.questions):
        raise TemplateError(_("The order must list every question of the section once."))
    section.questions[:] = wanted
    _renumber(section.questions)
    _check_conditions(version)
    return _finish(version)


def _check_conditions(version):
    """Refuse an order where a condition depends on a later question."""
    seen = set()
    for question in (q for s in version.sections for q in s.questions):
        if question.condition_key and question.condition_key not in seen:
            db.session.rollback()
            raise TemplateError(_("“%(label)s” depends on a question that would come after it.",
                                  label=question.label))
        seen.add(question.key)


def _renumber(rows):
    for position, row in enumerate(rows):
        row.position = position
