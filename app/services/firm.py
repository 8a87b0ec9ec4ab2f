"""The firm's single settings row."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import FirmSettings


def get_settings():
    """The settings row, created with defaults on first use. Read from the database once per change
    in each process (grants_cache keeps a copy while its version stands)."""
    from app.security import access

    return access.config_row("firm-settings", _load_settings)


def _load_settings():
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

    def inspect(head, path):  # runs on the spooled file, before anything is stored
        kind = detect(head, path, clean_filename(file_storage.filename))
        if kind.key not in LOGO_TYPES:
            raise UploadRefused(_("The logo must be a PNG, JPEG or GIF image."))
        return kind

    blob = backend().save(file_storage.stream, LOGO_MAX_BYTES, inspect=inspect)
    settings = get_settings()
    old, settings.logo_key = settings.logo_key, f"{blob.inspected.key}:{blob.key}"
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        backend().delete(blob.key)
        raise
    if old:
        backend().delete(old.split(":", 1)[1])
    return settings


def logo():
    """(storage key, mime type) of the firm's logo, or None."""
    from app.services.filetypes import ALLOWED

    key = get_settings().logo_key
    if not key:
        return None
    kind, blob = key.split(":", 1)
    return blob, ALLOWED[kind].mime


def logo_keys():
    """The storage keys the firm settings reference (kept by the orphan sweep, copied by migration)."""
    key = db.session.scalar(select(FirmSettings.logo_key).where(FirmSettings.id == 1))
    return [key.split(":", 1)[1]] if key else []
