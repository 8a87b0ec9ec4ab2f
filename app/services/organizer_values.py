"""Organizer answers as stored: each kind's value checked and normalised (numbers, money to cents, ISO
dates, yes/no, the listed choices; a JSON list for multiple choice)."""
import json
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

from app.models.organizers import QuestionKind

MAX_TEXT = 10_000


class OrganizerError(ValueError):
    """A refused organizer operation (here: an answer that does not fit its question); the message is for
    the user. app.services.organizers raises it too."""


def _list(value):
    try:
        items = json.loads(value or "[]")
    except ValueError:
        return []
    return [str(i) for i in items] if isinstance(items, list) else []


def clean_value(question, raw):
    """The value to store for `raw` (a string, or a list for multiple choice), checked against the kind."""
    kind = question.kind
    if kind is QuestionKind.multiple_choice:
        items = raw if isinstance(raw, list) else ([raw] if raw else [])
        if any(str(i) not in question.choice_list() for i in items):
            raise OrganizerError(_("Choose among the listed answers."))
        return json.dumps([c for c in question.choice_list() if c in items])
    raw = ("" if raw is None else str(raw)).strip()
    if not raw:
        return None
    if len(raw) > MAX_TEXT or (kind is QuestionKind.short_text and len(raw) > 500):
        raise OrganizerError(_("The answer is too long."))
    if kind in (QuestionKind.number, QuestionKind.money):
        try:
            number = Decimal(raw.replace(" ", "").replace(",", "."))
        except InvalidOperation:
            raise OrganizerError(_("Write a number.")) from None
        if not number.is_finite() or abs(number) >= 10**15:
            raise OrganizerError(_("Write a number."))
        return str(number.quantize(Decimal("0.01"))) if kind is QuestionKind.money else str(number.normalize())
    if kind is QuestionKind.date:
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            raise OrganizerError(_("Write a date as YYYY-MM-DD.")) from None
    if kind is QuestionKind.yes_no and raw not in ("yes", "no"):
        raise OrganizerError(_("Answer yes or no."))
    if kind is QuestionKind.single_choice and raw not in question.choice_list():
        raise OrganizerError(_("Choose among the listed answers."))
    if kind is QuestionKind.file_upload:
        raise OrganizerError(_("Upload the files for this question."))
    return raw
