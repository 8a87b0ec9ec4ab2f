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


LOGO_TYPES = ("png", "jpg", "gif")
LOGO_MAX_BYTES = 512 * 1024


def set_logo(file_storage):
    """Store an uploaded PNG, JPEG or GIF (≤ 512 KB) as the firm's logo, replacing the old one."""
    from flask_babel import gettext as _

    from app.services.filetypes import UploadRefused, clean_filename, detect
    from app.storage import backend

    blob = backend().save(file_storage.stream, LOGO_MAX_BYTES)
    try:
        kind = detect(blob.head, backend().path(blob.key), clean_filename(file_storage.filename))
        if kind.key not in LOGO_TYPES:
            raise UploadRefused(_("The logo must be a PNG, JPEG or GIF image."))
    except BaseException:
        backend().delete(blob.key)
        raise
    settings = get_settings()
    old, settings.logo_key = settings.logo_key, f"{kind.key}:{blob.key}"
    db.session.commit()
    if old:
        backend().delete(old.split(":", 1)[1])
    return settings


def logo():
    """(path, mime type) of the firm's logo, or None."""
    from app.services.filetypes import ALLOWED
    from app.storage import backend

    key = get_settings().logo_key
    if not key:
        return None
    kind, blob = key.split(":", 1)
    return backend().path(blob), ALLOWED[kind].mime
