"""How dates, moments and amounts read, in the reader's language: one format each, everywhere
(templates use the filters `day`, `moment` and `money`)."""
from flask import current_app
from flask_babel import format_currency, format_date, format_time


def day(value):
    """A date (or the date of a moment): "Dec 5, 2026", "5. dets 2026"."""
    return "" if value is None else format_date(value, "medium")


def moment(value):
    """A date and time to the minute: "Dec 5, 2026 7:53 AM", "5. dets 2026 07:53"."""
    return "" if value is None else f"{format_date(value, 'medium')} {format_time(value, 'short')}"


def money(value):
    """An amount in the firm's currency (CURRENCY), two decimals, the reader's digit grouping."""
    return "" if value is None else format_currency(value, current_app.config["CURRENCY"])


def register(app):
    """Offer the formats as Jinja filters."""
    app.jinja_env.filters.update(day=day, moment=moment, money=money)
