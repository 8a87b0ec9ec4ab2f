"""The "assign to many" form: what each task says, and which clients get one."""
from flask_appbuilder.fields import QuerySelectField
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.extensions import db
from app.models import ContactGroup
from app.models.entities import KIND_LABELS as ENTITY_KIND_LABELS
from app.models.entities import STATUS_LABELS as ENTITY_STATUS_LABELS
from app.models.entities import EntityKind, EntityStatus
from app.models.tasks import KIND_LABELS, Frequency, TaskKind
from app.security import access
from app.services.task_batches import Selection
from app.views.task_forms import FREQUENCY_LABELS

GROUP_CHOICES = 200  # groups offered in the select (by name); a firm with more narrows by name instead
ANY = ""


def _groups():
    return db.session.scalars(access.visible(current_user, ContactGroup).order_by(ContactGroup.name)
                              .limit(GROUP_CHOICES)).all()


class ClientsForm(FlaskForm):
    """Which clients: by name, kind, status, responsible member and/or contact group."""

    name = StringField(_l("Client name contains"), validators=[Optional(), Length(max=200)])
    entity_kind = SelectField(_l("Client kind"), choices=[(ANY, _l("Any kind"))] + [
        (k.name, label) for k, label in ENTITY_KIND_LABELS.items()], default=ANY)
    status = SelectField(_l("Client status"), choices=[(ANY, _l("Any status"))] + [
        (s.name, label) for s, label in ENTITY_STATUS_LABELS.items()], default=EntityStatus.active.name)
    responsible = SelectField(_l("Responsible"), choices=[(ANY, _l("Anyone")), ("me", _l("Me"))], default=ANY)
    group = QuerySelectField(_l("Contact group"), query_func=_groups, get_pk_func=lambda g: g.id,
                             get_label=lambda g: g.name, allow_blank=True, blank_text=_l("Any group"))

    def selection(self, user):
        """The clients the form chooses."""
        return Selection(
            name=(self.name.data or "").strip(),
            kind=EntityKind[self.entity_kind.data] if self.entity_kind.data else None,
            status=EntityStatus[self.status.data] if self.status.data else None,
            responsible_id=user.id if self.responsible.data == "me" else None,
            group_id=self.group.data.id if self.group.data is not None else None,
        )


class BatchForm(ClientsForm):
    """One task (or file request) per chosen client."""

    kind = SelectField(_l("What to create"), choices=[(k.name, label) for k, label in KIND_LABELS.items()],
                       default=TaskKind.task.name)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)])
    checklist = TextAreaField(_l("Checklist (one item per line)"), validators=[Optional(), Length(max=10000)])
    deadline = DateField(_l("Deadline"), validators=[Optional()])
    frequency = SelectField(_l("Repeat"), choices=[(f.name, label) for f, label in FREQUENCY_LABELS.items()],
                            default=Frequency.once.name)
    interval = IntegerField(_l("N (for every N days, weeks or months)"), default=1,
                            validators=[Optional(), NumberRange(min=1, max=366)])
    assign_now = BooleanField(_l("Assign to the client's portal now"))

    def task_fields(self):
        """What each task says, as task_batches.start takes it."""
        return dict(kind=TaskKind[self.kind.data], title=self.title.data, description=self.description.data or None,
                    checklist=self.checklist.data or None, deadline=self.deadline.data,
                    frequency=Frequency[self.frequency.data], interval=self.interval.data or 1,
                    assign_now=self.assign_now.data)


class OrganizerBatchForm(ClientsForm):
    """An organizer for each chosen client: the tax year and the deadline of its task."""

    tax_year = IntegerField(_l("Tax year"), validators=[DataRequired(), NumberRange(min=1990, max=2200)])
    deadline = DateField(_l("Deadline"), validators=[Optional()])
