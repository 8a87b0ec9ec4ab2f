"""Marshmallow fields the API's schemas share: ids within the databases' range, times with their offset."""
from datetime import datetime

from marshmallow import fields, validate

from app.security.guard import MAX_PK


class Id(fields.Integer):
    """A row id: a whole number from 1 to 2**63-1 (a larger one is a validation error, never an overflow)."""

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


class StrictBoolean(fields.Boolean):
    """A boolean in a JSON body: true or false only (no "yes", 1 or "true")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
