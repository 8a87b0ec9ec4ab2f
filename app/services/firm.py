"""The firm's single settings row."""
from app.extensions import db
from app.models import FirmSettings


def get_settings():
    """The settings row, created with defaults on first use."""
    settings = db.session.get(FirmSettings, 1)
    if settings is None:
        settings = FirmSettings(id=1, firm_name="Portico")
        db.session.add(settings)
        db.session.commit()
    return settings
