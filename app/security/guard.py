"""The one policy that turns access answers into HTTP answers, for staff, portal and guest pages.

A row outside the user's scope is 404 (its existence is never confirmed); a row in scope without
the right asked for is 403; a malformed id is 404 like an unknown one.
"""
from flask import abort

from app.extensions import db
from app.security import access
from app.security import roles as R

# The largest id the databases hold: ids are INTEGER columns (int4 on PostgreSQL, where comparing one
# with a larger number fails with "integer out of range"); larger numbers are simply unknown rows.
MAX_PK = 2**31 - 1


def parse_pk(raw):
    """A primary key from a URL or form: a plain ASCII integer in the 64-bit range, else 404."""
    raw = str(raw)
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_PK:
        abort(404)
    return int(raw)


def load(user, model, pk, action=R.VIEW):
    """The `model` row `pk` if `user` sees it (else 404) and may take `action` on it (else 403)."""
    row = db.session.scalar(access.visible(user, model).where(model.id == parse_pk(pk)))
    if row is None:
        abort(404)
    require(user, action, row)
    return row


def require(user, action, obj):
    """403 unless `user` may take `action` on `obj` (a row already known to be in their scope)."""
    if action != R.VIEW and not access.can(user, action, obj):
        abort(403)
    return obj
