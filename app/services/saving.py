"""Committing a change that the database may refuse because of a concurrent one."""
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.extensions import db


def commit_or(error_class):
    """Commit; when the database refuses it (a concurrent change broke a unique or foreign key), roll back
    and raise `error_class` with a message for the user: nothing was saved."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise error_class(_("The change could not be saved; someone may have changed the same data.")) from exc
