"""Forms of the portal's signing pages: consent, confirm who you are, adopt and sign, decline."""
import base64
import binascii

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

DATA_URL = "data:image/png;base64,"
MAX_DATA_URL = 300_000


class ConsentForm(FlaskForm):
    """The signer agrees to sign electronically."""

    agree = BooleanField(_l("I have read the documents and agree to sign electronically"),
                         validators=[InputRequired(message=_l("Tick the box to agree, or decline to sign."))])


class PinForm(FlaskForm):
    """Confirm who you are with your portal PIN."""

    pin = PasswordField(_l("Your PIN"), validators=[DataRequired(message=_l("Enter your 6-digit PIN.")),
                                                    Length(max=20)])


class CodeForm(FlaskForm):
    """Confirm who you are with the code just mailed to you."""

    code = StringField(_l("Code from the e-mail"), validators=[DataRequired(message=_l("Enter the 8-digit code.")),
                                                               Length(max=20)])


class SendCodeForm(FlaskForm):
    """Only the CSRF token: mail me a code."""


def png_from_data_url(value):
    """PNG bytes of a canvas data URL, None for an empty one; ValueError for anything else."""
    value = (value or "").strip()
    if not value:
        return None
    if not value.startswith(DATA_URL) or len(value) > MAX_DATA_URL:
        raise ValueError("not a PNG data URL")
    try:
        return base64.b64decode(value[len(DATA_URL):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("bad base64")


class SignForm(FlaskForm):
    """Adopt a signature (typed, or drawn with a typed name under it) and sign; field values are read apart."""

    style = RadioField(_l("How do you want to sign?"), choices=[("typed", _l("Type my name")),
                                                                ("drawn", _l("Draw my signature"))], default="typed")
    signature_text = StringField(_l("Your full name"), validators=[
        DataRequired(message=_l("Type your full name.")), Length(max=200)])
    initials = StringField(_l("Your initials"), validators=[Length(max=10)])
    drawing = HiddenField()

    def validate_drawing(self, field):
        """A drawn signature must come as a PNG from the drawing pad."""
        try:
            image = png_from_data_url(field.data)
        except ValueError:
            raise ValidationError(_l("The drawing could not be read. Draw it again or type your name."))
        if self.style.data == "drawn" and image is None:
            raise ValidationError(_l("Draw your signature in the box, or choose to type your name."))
        field.image = image if self.style.data == "drawn" else None


class DeclineForm(FlaskForm):
    """Decline to sign, with a reason for the firm."""

    reason = TextAreaField(_l("Why do you decline?"), validators=[
        DataRequired(message=_l("Tell the firm why you decline.")), Length(max=500)])
