"""Marshmallow fields the API's schemas share: ids within the databases' range, times with their offset."""
from datetime import datetime

from marshmallow import fields, validate

from app.security.guard import MAX_PK


class Id(fields.Integer):
    """A row id: a whole number from 1 to 2**31-1, the INTEGER columns' range (a larger one is a validation
    error, never an overflow)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_PK))
        super().__init__(**kwargs)


class StrictId(Id):
    """An id in a JSON body: a JSON integer only (no "12" strings, no 12.0)."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)


class Timestamp(fields.DateTime):
    """A stored local time, written as RFC 3339 with the server's UTC offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.astimezone()
        return value.isoformat()


def text(max_length, required=False, allow_none=False, **kwargs):
    """A string field of at most `max_length` characters (blank refused when required)."""
    checks = [validate.Length(min=1 if required else 0, max=max_length)]
    return fields.String(required=required, allow_none=allow_none, validate=checks, **kwargs)


def storable(value, depth=0):
    """Whether every string in a JSON value can be stored: no NUL character, valid UTF-8 (no lone surrogate)."""
    if isinstance(value, str):
        return "\x00" not in value and _encodes(value)
    if isinstance(value, list) and depth < 20:
        return all(storable(item, depth + 1) for item in value)
    if isinstance(value, dict) and depth < 20:
        return all(storable(k, depth + 1) and storable(v, depth + 1) for k, v in value.items())
    return not isinstance(value, (list, dict))


def _encodes(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class StrictBoolean(fields.Boolean):
    """A boolean in a JSON body: true or false only (no "yes", 1 or "true")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
