"""The firm's single settings row."""
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import FirmSettings


def get_settings():
    """The settings row, created with defaults on first use."""
    settings = db.session.get(FirmSettings, 1)
    if settings is None:
        try:
            db.session.add(FirmSettings(id=1, firm_name="Portico"))
            db.session.commit()
        except IntegrityError:  # another request created it first
            db.session.rollback()
        settings = db.session.get(FirmSettings, 1)
    return settings
