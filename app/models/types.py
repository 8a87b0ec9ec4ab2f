"""Column types shared by the models."""
from sqlalchemy import Enum


def enum_column_type(enum_class, name):
    """A Python Enum stored by member name in a VARCHAR(20) (no native DB enum to migrate)."""
    return Enum(enum_class, name=name, native_enum=False, length=20)
