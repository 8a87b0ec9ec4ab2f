"""Forms of the portal's settings pages: profile, e-mail preferences, addresses (Flask-WTF: CSRF on each)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.services import events
from app.services.portal import settings as portal_settings
from app.views.contacts import PHONE_PATTERN, language_choices
from app.views.portal.forms import EMAIL


class ProfileForm(FlaskForm):
    """The contact's own details; nothing else of the Contact row can be set from here."""

    first_name = StringField(_l("First name"), validators=[DataRequired(message=_l("Enter your first name.")),
                                                          Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(message=_l("Enter your last name.")),
                                                        Length(max=100)])
    phone = StringField(_l("Phone"), validators=[
        Optional(), Length(max=50), Regexp(PHONE_PATTERN, message=_l("Enter a phone number, e.g. +372 5555 1234."))])
    language = SelectField(_l("Language"), choices=language_choices)


# What each event means to a client (the staff wording in app.views.bells speaks of "clients").
EVENT_LABELS = {
    events.TASK_ASSIGNED: _l("The firm gives me a new task"),
    events.TASK_WITHDRAWN: _l("The firm takes a task back"),
    events.MESSAGE_POSTED: _l("The firm writes me a message"),
    events.FILE_REQUEST_CREATED: _l("The firm asks me for files"),
    events.DEADLINE_APPROACHING: _l("A deadline of my task is coming up"),
    events.VOUCHER_DUE: _l("A tax payment is coming due"),
    events.SIGNATURE_REQUESTED: _l("The firm asks me to sign documents"),
    events.ORGANIZER_REOPENED: _l("The firm gives my organizer back to me to change"),
}


class PreferencesForm(FlaskForm):
    """All e-mail on/off, then one "also by e-mail" checkbox per event (added below)."""

    notify_by_email = BooleanField(_l("Send me e-mail about updates"))


for _event in portal_settings.CONTACT_EVENTS:
    setattr(PreferencesForm, _event, BooleanField(EVENT_LABELS.get(_event, _event)))
del _event


def _stripped(value):
    """Spaces pasted around an address are not part of it."""
    return value.strip() if isinstance(value, str) else value


class NewEmailForm(FlaskForm):
    """An address to add, or the new sign-in address."""

    email = EmailField(_l("E-mail address"), validators=EMAIL, filters=[_stripped])
