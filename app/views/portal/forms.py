"""Forms of the portal's sign-in, sign-up and security steps (Flask-WTF: CSRF on every one)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Regexp

EMAIL = [DataRequired(message=_l("Enter your e-mail address.")),
         Email(message=_l("Enter an e-mail address like name@example.com.")), Length(max=254)]
PIN = [DataRequired(message=_l("Enter your 6-digit PIN.")),
       Regexp(r"^\d{6}$", message=_l("The PIN is exactly 6 digits."))]
CODE = [DataRequired(message=_l("Enter the 8-digit code from the mail.")),
        Regexp(r"^\s*\d{8}\s*$", message=_l("The code is 8 digits."))]


class EmailForm(FlaskForm):
    """First sign-in step."""

    email = EmailField(_l("E-mail address"), validators=EMAIL)


class PinForm(FlaskForm):
    """The PIN, asked on a browser not trusted yet."""

    pin = PasswordField(_l("PIN"), validators=PIN)


class CodeForm(FlaskForm):
    """The access code from the mail."""

    code = StringField(_l("Access code"), validators=CODE)


class SignUpForm(FlaskForm):
    """Who is signing up."""

    first_name = StringField(_l("First name"), validators=[DataRequired(message=_l("Enter your first name.")),
                                                          Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(message=_l("Enter your last name.")),
                                                        Length(max=100)])
    email = EmailField(_l("E-mail address"), validators=EMAIL)


class NewPinForm(FlaskForm):
    """Choose a PIN (sign-up, or a change)."""

    pin = PasswordField(_l("New PIN"), validators=PIN)
    confirm = PasswordField(_l("Repeat the new PIN"), validators=PIN)


class ChangePinForm(NewPinForm):
    """Change the PIN: the current one first."""

    current = PasswordField(_l("Current PIN"), validators=PIN)


class BlankForm(FlaskForm):
    """A button-only form (sign out, resend, switch): just the CSRF token."""
