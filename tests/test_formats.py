"""One way to write a date, a moment and an amount, in the reader's language."""
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from flask_babel import force_locale

from app import formats

TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"


def test_dates_moments_and_amounts_read_the_same_everywhere_in_each_language(app):
    """English and Estonian forms of a day, a moment to the minute and an amount in the firm's currency."""
    with app.test_request_context():
        assert formats.day(date(2026, 12, 5)) == "Dec 5, 2026"
        assert formats.moment(datetime(2026, 12, 5, 19, 53, 12)) == "Dec 5, 2026 7:53\u202fPM"
        assert formats.money(Decimal("1000.35")) == "$1,000.35"
        assert formats.day(None) == formats.moment(None) == formats.money(None) == ""
        with force_locale("et"):
            assert formats.day(date(2026, 12, 5)) == "5. dets 2026"
            assert formats.moment(datetime(2026, 12, 5, 19, 53)) == "5. dets 2026 19:53"


def test_the_firms_currency_is_a_setting(app):
    """CURRENCY names the currency amounts are shown in."""
    app.config["CURRENCY"] = "EUR"
    try:
        with app.test_request_context(), force_locale("et"):
            assert formats.money(Decimal("1000.35")) == "1\xa0000,35\xa0€"
    finally:
        app.config["CURRENCY"] = "USD"


def test_portal_and_mail_templates_format_dates_only_through_the_filters():
    """No portal page or mail writes a date with strftime, isoformat text or another Babel style."""
    pattern = re.compile(r"strftime\(|\|dateformat|\|datetimeformat|\.isoformat\(\) *}}(?!\")")
    offenders = [p.name for folder in ("portal", "email", "k1") for p in (TEMPLATES / folder).rglob("*.*")
                 if pattern.search(p.read_text())]
    assert offenders == []
