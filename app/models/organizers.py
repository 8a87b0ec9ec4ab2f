"""Organizers: questionnaires a firm sends its clients each season, prefilled from last year.

A template is versioned: every version is a row of its family (`family_id`); a version that has been
sent is never edited again (an edit makes the next version), so a sent organizer keeps the questions
it was sent with. Questions carry a `key` kept across versions: last year's answer is the one to the
question with the same key in an organizer of the same family for the same entity.
"""
import enum
import json

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import relationship

from app.models.types import enum_column_type


class QuestionKind(enum.Enum):
    """What a question asks for (stored by name)."""

    short_text = "short_text"
    long_text = "long_text"
    number = "number"
    money = "money"
    date = "date"
    yes_no = "yes_no"
    single_choice = "single_choice"
    multiple_choice = "multiple_choice"
    file_upload = "file_upload"


KIND_LABELS = {
    QuestionKind.short_text: _l("Short text"),
    QuestionKind.long_text: _l("Long text"),
    QuestionKind.number: _l("Number"),
    QuestionKind.money: _l("Money"),
    QuestionKind.date: _l("Date"),
    QuestionKind.yes_no: _l("Yes / no"),
    QuestionKind.single_choice: _l("Single choice"),
    QuestionKind.multiple_choice: _l("Multiple choice"),
    QuestionKind.file_upload: _l("File upload"),
}


class OrganizerStatus(enum.Enum):
    """Where an organizer stands."""

    not_started = "not_started"
    in_progress = "in_progress"
    submitted = "submitted"
    reviewed = "reviewed"


STATUS_LABELS = {
    OrganizerStatus.not_started: _l("Not started"),
    OrganizerStatus.in_progress: _l("In progress"),
    OrganizerStatus.submitted: _l("Submitted"),
    OrganizerStatus.reviewed: _l("Reviewed"),
}


class OrganizerTemplate(Model):
    """One version of a questionnaire; `is_current` marks the version new organizers are sent with."""

    __tablename__ = "organizer_template"
    __table_args__ = (UniqueConstraint("family_id", "version", name="uq_organizer_template_version"),)

    id = Column(Integer, primary_key=True)
    family_id = Column(Integer, index=True)  # the first version's id; shared by every version
    version = Column(Integer, nullable=False, default=1)
    is_current = Column(Boolean, nullable=False, default=True)
    name = Column(String(200), nullable=False)
    language = Column(String(10), nullable=False, default="en")
    description = Column(Text)
    created_on = Column(DateTime, nullable=False, default=func.now())
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)

    sections = relationship("OrganizerSection", back_populates="template", cascade="all, delete-orphan",
                            order_by="OrganizerSection.position")

    def __repr__(self):
        return self.name


class OrganizerSection(Model):
    """A page of the questionnaire: the client fills one section at a time."""

    __tablename__ = "organizer_section"

    id = Column(Integer, primary_key=True)
    template_id = Column(Integer, ForeignKey("organizer_template.id", ondelete="CASCADE"), nullable=False, index=True)
    template = relationship("OrganizerTemplate", back_populates="sections")
    position = Column(Integer, nullable=False, default=0)
    title = Column(String(200), nullable=False)
    help = Column(Text)

    questions = relationship("OrganizerQuestion", back_populates="section", cascade="all, delete-orphan",
                             order_by="OrganizerQuestion.position")

    def __repr__(self):
        return self.title


class OrganizerQuestion(Model):
    """One question; shown only when `condition_key`'s answer equals `condition_value`, if set."""

    __tablename__ = "organizer_question"

    id = Column(Integer, primary_key=True)
    section_id = Column(Integer, ForeignKey("organizer_section.id", ondelete="CASCADE"), nullable=False, index=True)
    section = relationship("OrganizerSection", back_populates="questions")
    template_id = Column(Integer, ForeignKey("organizer_template.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    key = Column(String(40), nullable=False)  # the same across versions of the template
    kind = Column(enum_column_type(QuestionKind, "organizer_question_kind"), nullable=False)
    label = Column(String(500), nullable=False)
    help = Column(Text)
    required = Column(Boolean, nullable=False, default=False)
    choices = Column(Text)  # one choice per line (single and multiple choice)
    max_files = Column(Integer, nullable=False, default=1)
    condition_key = Column(String(40))
    condition_value = Column(String(200))

    def choice_list(self):
        """The choices as a list of non-empty lines."""
        return [line.strip() for line in (self.choices or "").splitlines() if line.strip()]

    def kind_label(self):
        """The kind in the reader's language."""
        return KIND_LABELS.get(self.kind, "")

    def __repr__(self):
        return self.label


class Organizer(Model):
    """A template version sent to an entity for a tax year, through an assigned task (its deadline and
    reminders are the task's)."""

    __tablename__ = "organizer"
    __table_args__ = (Index("ix_organizer_template_status", "template_id", "status"),)

    id = Column(Integer, primary_key=True)
    template_id = Column(Integer, ForeignKey("organizer_template.id", ondelete="RESTRICT"), nullable=False)
    template = relationship("OrganizerTemplate")
    family_id = Column(Integer, nullable=False, index=True)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False, index=True)
    entity = relationship("Entity")
    task_id = Column(Integer, ForeignKey("task.id", ondelete="SET NULL"), unique=True)
    task = relationship("Task")
    name = Column(String(200), nullable=False)
    tax_year = Column(Integer, nullable=False)
    status = Column(enum_column_type(OrganizerStatus, "organizer_status"), nullable=False,
                    default=OrganizerStatus.not_started)
    submitted_on = Column(DateTime)
    submitted_by_id = Column(Integer, ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    submitted_by = relationship("Contact")
    reviewed_on = Column(DateTime)
    reviewed_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    reopened_note = Column(Text)
    created_on = Column(DateTime, nullable=False, default=func.now())
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)

    def status_label(self):
        """The status in the reader's language."""
        return STATUS_LABELS.get(self.status, "")

    def is_open(self):
        """Whether the client may still change answers."""
        return self.status in (OrganizerStatus.not_started, OrganizerStatus.in_progress)

    def __repr__(self):
        return f"{self.name} {self.tax_year}"


class OrganizerAnswer(Model):
    """The answer to one question; `version` grows with every save (a stale save is refused)."""

    __tablename__ = "organizer_answer"
    __table_args__ = (UniqueConstraint("organizer_id", "question_id", name="uq_organizer_answer"),)

    id = Column(Integer, primary_key=True)
    organizer_id = Column(Integer, ForeignKey("organizer.id", ondelete="CASCADE"), nullable=False)
    question_id = Column(Integer, ForeignKey("organizer_question.id", ondelete="CASCADE"), nullable=False, index=True)
    value = Column(Text)  # text as typed; a JSON list for multiple choice
    not_applicable = Column(Boolean, nullable=False, default=False)
    document_ids = Column(Text, nullable=False, default="[]")  # JSON list of the uploads' document ids
    version = Column(Integer, nullable=False, default=0)
    updated_on = Column(DateTime)
    updated_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)

    def documents(self):
        """The ids of the documents uploaded for the question."""
        return json.loads(self.document_ids or "[]")
