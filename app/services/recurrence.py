"""Recurring deadlines: a series is a first deadline (`start`) plus a Rule, built on dateutil's rrule.

Month-based series keep their anchor day and fall back to the last day of shorter months: a series
anchored on the 31st gives 28/29 February, 30 April, then the 31st again (plain rrule would skip the
short months instead).
"""
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule
from flask_babel import gettext as _
from flask_babel import ngettext

from app.models.tasks import Frequency

MAX_INTERVAL = 366
# Only these take an interval; the fixed ones would be ambiguous ("quarterly, interval 2").
_WITH_INTERVAL = {Frequency.every_n_days, Frequency.every_n_weeks, Frequency.every_n_months}
# Months between deadlines for the month-based frequencies (every_n_months uses the interval).
_MONTH_STEP = {Frequency.monthly: 1, Frequency.quarterly: 3, Frequency.yearly: 12}


def _is_int(value):
    # bool is an int subclass, but Rule(interval=True) is a bug, not "every 1".
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Rule:
    """How a series repeats; ends at `until` (inclusive) or after `count` deadlines, whichever is first."""

    frequency: Frequency
    interval: int = 1
    until: date | None = None
    count: int | None = None

    def validate(self) -> None:
        """Raise ValueError with an English message if the rule is unusable."""
        if not isinstance(self.frequency, Frequency):
            raise ValueError(f"frequency must be a Frequency, got {self.frequency!r}")
        if not _is_int(self.interval) or not 1 <= self.interval <= MAX_INTERVAL:
            raise ValueError(f"interval must be a whole number from 1 to {MAX_INTERVAL}, "
                             f"got {self.interval!r}")
        if self.interval != 1 and self.frequency not in _WITH_INTERVAL:
            raise ValueError(f"interval must be 1 for {self.frequency.name} (got {self.interval}); "
                             "use every_n_days, every_n_weeks or every_n_months for other intervals")
        # datetime is a date subclass, but comparing it with dates raises TypeError later on.
        if self.until is not None and (not isinstance(self.until, date) or isinstance(self.until, datetime)):
            raise ValueError(f"until must be a date or None, got {self.until!r}")
        if self.count is not None and (not _is_int(self.count) or self.count < 1):
            raise ValueError(f"count must be a whole number of at least 1, or None, got {self.count!r}")


def _check(start, rule):
    if not isinstance(start, date) or isinstance(start, datetime):
        raise ValueError(f"start must be a date, got {start!r}")
    rule.validate()


def _rrule(start, rule):
    """The unbounded-by-count rrule of the series (count is applied by _series)."""
    dtstart = datetime(start.year, start.month, start.day)
    # The first task already exists, so `start` stays in the series even if `until` precedes it.
    until = None if rule.until is None else datetime.combine(max(rule.until, start), datetime.min.time())
    if rule.frequency is Frequency.once:
        return rrule(DAILY, dtstart=dtstart, count=1)
    if rule.frequency is Frequency.every_n_days:
        return rrule(DAILY, dtstart=dtstart, interval=rule.interval, until=until)
    if rule.frequency is Frequency.every_n_weeks:
        return rrule(WEEKLY, dtstart=dtstart, interval=rule.interval, until=until)
    # Anchor day or the month's last day, whichever comes first: bysetpos=1 takes the earlier of
    # the two candidates, and a day the month lacks (31 in April) is simply not a candidate.
    month_end = {"bymonthday": (start.day, -1), "bysetpos": 1, "until": until}
    if rule.frequency is Frequency.yearly:
        return rrule(YEARLY, dtstart=dtstart, bymonth=start.month, **month_end)
    step = _MONTH_STEP.get(rule.frequency, rule.interval)
    return rrule(MONTHLY, dtstart=dtstart, interval=step, **month_end)


def _series(start, rule):
    """Iterate the series' deadlines as dates, stopping after `count`."""
    # count is applied here, not in rrule: dateutil deprecates passing both count and until.
    dates = (moment.date() for moment in _rrule(start, rule))
    return dates if rule.count is None else islice(dates, rule.count)


def occurrences(start: date, rule: Rule, limit: int = 1000) -> list[date]:
    """The series' deadlines in order, starting with `start`; at most `limit` of them."""
    _check(start, rule)
    if not _is_int(limit) or limit < 0:
        raise ValueError(f"limit must be a whole number of at least 0, got {limit!r}")
    return list(islice(_series(start, rule), limit))


def next_deadline(start: date, rule: Rule, previous: date) -> date | None:
    """The first deadline of the series strictly after `previous`, or None once the series has ended."""
    _check(start, rule)
    if not isinstance(previous, date) or isinstance(previous, datetime):
        raise ValueError(f"previous must be a date, got {previous!r}")
    # Walks from `start` so month-end anchoring stays on the series' own anchor day: starting from
    # a clipped deadline (28 February) would lose the 31st. Every series either ends or passes any
    # date, so this terminates.
    return next((deadline for deadline in _series(start, rule) if deadline > previous), None)


def _every(rule):
    """The repeat part of the description, without the end condition."""
    n = rule.interval
    fixed = {Frequency.monthly: _("Every month"), Frequency.quarterly: _("Every quarter"),
             Frequency.yearly: _("Every year")}
    if rule.frequency in fixed:
        return fixed[rule.frequency]
    # An interval of 1 gets its own msgid: in some languages the plural "one" form also covers 21.
    if rule.frequency is Frequency.every_n_days:
        return _("Every day") if n == 1 else ngettext("Every %(num)d day", "Every %(num)d days", n)
    if rule.frequency is Frequency.every_n_weeks:
        return _("Every week") if n == 1 else ngettext("Every %(num)d week", "Every %(num)d weeks", n)
    return _("Every month") if n == 1 else ngettext("Every %(num)d month", "Every %(num)d months", n)


def describe(rule: Rule) -> str:
    """A short description such as "Every 2 weeks" or "Every quarter, 4 times" (translated when possible)."""
    rule.validate()
    if rule.frequency is Frequency.once:
        return _("Once")
    every = _every(rule)
    until = rule.until.isoformat() if rule.until is not None else None
    if rule.count is not None and until is not None:
        return ngettext("%(every)s until %(until)s, at most %(num)d time",
                        "%(every)s until %(until)s, at most %(num)d times", rule.count,
                        every=every, until=until)
    if rule.count is not None:
        return ngettext("%(every)s, %(num)d time", "%(every)s, %(num)d times", rule.count, every=every)
    if until is not None:
        return _("%(every)s until %(until)s", every=every, until=until)
    return every
