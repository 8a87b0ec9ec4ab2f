"""The new-task form: entity, what to do, by when, and how often."""
from flask_appbuilder.fields import QuerySelectField
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.extensions import db
from app.models import Entity
from app.security import access
from app.security import roles as R
from app.services import tasks as task_service
from app.models.tasks import Frequency
from app.services.recurrence import Rule
from app.views.choices import ChoicesField

FREQUENCY_LABELS = {
    Frequency.once: _l("One time"),
    Frequency.monthly: _l("Every month"),
    Frequency.quarterly: _l("Every quarter"),
    Frequency.yearly: _l("Every year"),
    Frequency.every_n_days: _l("Every N days"),
    Frequency.every_n_weeks: _l("Every N weeks"),
    Frequency.every_n_months: _l("Every N months"),
}


def _staff():
    from flask_appbuilder.security.sqla.models import User

    return db.session.scalars(access.visible(current_user, User).where(User.active.is_(True))
                              .order_by(User.first_name)).all()


class NewTaskForm(FlaskForm):
    """What a new task needs; recurrence fields apply when a repeat is chosen."""

    entity = ChoicesField(_l("Entity"), [DataRequired()], model=Entity, action=R.WORK, endpoint="TaskView",
                          form_kind="new", allow_blank=False)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)])
    deadline = DateField(_l("Deadline"), validators=[Optional()])
    responsible = QuerySelectField(_l("Responsible"), query_func=_staff, get_pk_func=lambda u: u.id,
                                   get_label=lambda u: f"{u.first_name} {u.last_name}", allow_blank=True,
                                   blank_text=_l("The entity's responsible member"))
    checklist = TextAreaField(_l("Checklist (one item per line)"), validators=[Optional(), Length(max=10000)])
    auto_complete = BooleanField(_l("Close the task when the client marks it done"))
    assign_now = BooleanField(_l("Assign to the client's portal now"))
    frequency = SelectField(_l("Repeat"), choices=[(f.name, label) for f, label in FREQUENCY_LABELS.items()],
                            default=Frequency.once.name)
    interval = IntegerField(_l("N (for every N days, weeks or months)"), default=1,
                            validators=[Optional(), NumberRange(min=1, max=366)])
    until = DateField(_l("Repeat until"), validators=[Optional()])
    count = IntegerField(_l("Number of occurrences"), validators=[Optional(), NumberRange(min=1, max=1000)])


def new_task_from_form(form, user):
    """Create the task (or the series and its first occurrence) a validated form describes."""
    fields = dict(description=form.description.data or None, responsible=form.responsible.data,
                  auto_complete=form.auto_complete.data,
                  checklist=[line for line in (form.checklist.data or "").splitlines() if line.strip()])
    frequency = Frequency[form.frequency.data]
    if frequency is Frequency.once:
        task = task_service.create_task(form.entity.data, form.title.data, user, deadline=form.deadline.data, **fields)
    else:
        if form.deadline.data is None:
            raise task_service.TaskError(_l("A repeating task needs a first deadline."))
        interval = form.interval.data or 1 if frequency.name.startswith("every_n") else 1
        rule = Rule(frequency, interval, form.until.data, form.count.data)
        task = task_service.create_series(form.entity.data, form.title.data, rule, form.deadline.data, user, **fields)
    if form.assign_now.data:
        task_service.assign(task, user)
    return task
