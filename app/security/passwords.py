"""Staff password policy (NIST SP 800-63B: length over composition rules)."""
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import gettext as _

MIN_LENGTH = 12
MAX_LENGTH = 128


def validate_password(password):
    """Refuse passwords shorter than 12 or longer than 128 characters, or all one character."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        raise PasswordComplexityValidationError(
            _("The password must be at least %(n)d characters long.", n=MIN_LENGTH)
        )
    if len(password) > MAX_LENGTH:
        raise PasswordComplexityValidationError(
            _("The password must be at most %(n)d characters long.", n=MAX_LENGTH)
        )
    if len(set(password)) == 1:
        raise PasswordComplexityValidationError(_("The password cannot be one repeated character."))
