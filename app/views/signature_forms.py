"""Forms of the staff signature screens: a new request, a field on a page, void."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.models.signatures import FIELD_LABELS, FieldKind, SigningOrder


class NewRequestForm(FlaskForm):
    """What to sign, by whom, in which order, with which message, deadline and consent text.
    Documents and signers come as checkbox lists (doc-<id>, signer-<id> with order-<id>) read by the view."""

    title = StringField(_l("Title"), validators=[DataRequired(message=_l("Give the request a title.")),
                                                 Length(max=200)])
    signing_order = RadioField(_l("Order"), choices=[(SigningOrder.sequential.name, _l("One after the other")),
                                                     (SigningOrder.parallel.name, _l("All at once"))],
                               default=SigningOrder.sequential.name)
    message = TextAreaField(_l("Message to the signers"), validators=[Optional(), Length(max=2000)])
    deadline = DateField(_l("Deadline"), validators=[Optional()])
    consent_text = TextAreaField(_l("Consent to sign electronically"),
                                 validators=[DataRequired(), Length(max=4000)])


class FieldForm(FlaskForm):
    """A field placed on a page: where (percent of the page from its top-left), what, for whom."""

    number = IntegerField(_l("Document"), validators=[InputRequired(), NumberRange(min=0)])
    page = IntegerField(_l("Page"), validators=[InputRequired(), NumberRange(min=1)])
    kind = SelectField(_l("Field"), choices=[(k.name, FIELD_LABELS[k]) for k in FieldKind])
    signer_id = IntegerField(_l("Signer"), validators=[InputRequired()])
    left = DecimalField(_l("From the left (%)"), validators=[InputRequired(), NumberRange(min=0, max=100)])
    top = DecimalField(_l("From the top (%)"), validators=[InputRequired(), NumberRange(min=0, max=100)])
    label = StringField(_l("Label for the signer"), validators=[Optional(), Length(max=100)])


class VoidForm(FlaskForm):
    """Why the request is withdrawn."""

    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])


class PlainForm(FlaskForm):
    """Only the CSRF token."""
