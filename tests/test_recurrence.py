"""Recurring deadlines: month-end anchoring, end conditions, next_deadline, validation, descriptions."""
import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.models.tasks import Frequency

from app.services.recurrence import Rule, describe, next_deadline, occurrences

F = Frequency
MONTH_BASED = [F.monthly, F.quarterly, F.yearly, F.every_n_months]


def _last_day(year, month):
    return calendar.monthrange(year, month)[1]


def _month_index(day):
    return day.year * 12 + day.month


# --- month ends ---------------------------------------------------------------------------------

def test_monthly_from_31st_uses_month_ends_and_returns_to_31st():
    """A series on the 31st gives the last day of shorter months (Feb 28 in 2026) and comes back."""
    got = occurrences(date(2026, 1, 31), Rule(F.monthly), limit=13)
    assert got == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30),
                   date(2026, 5, 31), date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31),
                   date(2026, 9, 30), date(2026, 10, 31), date(2026, 11, 30), date(2026, 12, 31),
                   date(2027, 1, 31)]


def test_monthly_from_31st_in_leap_year_gives_29_february():
    """In a leap year the 31st series lands on 29 February, then 31 March."""
    got = occurrences(date(2024, 1, 31), Rule(F.monthly), limit=3)
    assert got == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]


def test_monthly_from_30th_gives_end_of_february_then_30th():
    """A series on the 30th gives 28/29 February and the 30th in every other month."""
    got = occurrences(date(2027, 11, 30), Rule(F.monthly), limit=16)
    assert got[:5] == [date(2027, 11, 30), date(2027, 12, 30), date(2028, 1, 30), date(2028, 2, 29),
                       date(2028, 3, 30)]
    assert got[14:] == [date(2029, 1, 30), date(2029, 2, 28)]
    assert all(d.day == 30 for d in got if d.month != 2)


def test_monthly_from_29th_across_leap_and_common_years():
    """A series on the 29th keeps 29 February in leap years and uses 28 February otherwise."""
    got = occurrences(date(2027, 1, 29), Rule(F.monthly), limit=26)
    februaries = [d for d in got if d.month == 2]
    assert februaries == [date(2027, 2, 28), date(2028, 2, 29), date(2029, 2, 28)]
    assert all(d.day == 29 for d in got if d.month != 2)
    assert len({_month_index(d) for d in got}) == 26  # no month skipped


def test_yearly_from_29_february_over_8_years():
    """A series on 29 February falls on the 28th in common years and the 29th in leap years."""
    got = occurrences(date(2024, 2, 29), Rule(F.yearly), limit=9)
    assert got == [date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28),
                   date(2028, 2, 29), date(2029, 2, 28), date(2030, 2, 28), date(2031, 2, 28),
                   date(2032, 2, 29)]


def test_quarterly_from_31_january():
    """Quarterly from 31 January: 30 April, 31 July, 31 October, 31 January."""
    got = occurrences(date(2026, 1, 31), Rule(F.quarterly), limit=5)
    assert got == [date(2026, 1, 31), date(2026, 4, 30), date(2026, 7, 31), date(2026, 10, 31),
                   date(2027, 1, 31)]


def test_quarterly_from_15_march():
    """Quarterly from a mid-month day keeps that day every three months."""
    got = occurrences(date(2026, 3, 15), Rule(F.quarterly), limit=5)
    assert got == [date(2026, 3, 15), date(2026, 6, 15), date(2026, 9, 15), date(2026, 12, 15),
                   date(2027, 3, 15)]


def test_every_2_months_from_31st():
    """Every 2 months from 31 December: 28 February, 30 April, 30 June, 31 August."""
    got = occurrences(date(2025, 12, 31), Rule(F.every_n_months, interval=2), limit=5)
    assert got == [date(2025, 12, 31), date(2026, 2, 28), date(2026, 4, 30), date(2026, 6, 30),
                   date(2026, 8, 31)]


def test_every_2_weeks():
    """Every 2 weeks is a fixed 14-day step, across a year boundary."""
    got = occurrences(date(2026, 12, 17), Rule(F.every_n_weeks, interval=2), limit=4)
    assert got == [date(2026, 12, 17), date(2026, 12, 31), date(2027, 1, 14), date(2027, 1, 28)]


def test_every_10_days():
    """Every 10 days is a fixed 10-day step, across the end of February."""
    got = occurrences(date(2028, 2, 15), Rule(F.every_n_days, interval=10), limit=4)
    assert got == [date(2028, 2, 15), date(2028, 2, 25), date(2028, 3, 6), date(2028, 3, 16)]


# --- end conditions -----------------------------------------------------------------------------

def test_until_is_inclusive():
    """A deadline falling exactly on `until` is part of the series; nothing after it is."""
    got = occurrences(date(2026, 1, 31), Rule(F.monthly, until=date(2026, 4, 30)))
    assert got == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]


def test_until_before_second_occurrence_gives_only_start():
    """An `until` before the second deadline leaves just the first one."""
    assert occurrences(date(2026, 1, 31), Rule(F.monthly, until=date(2026, 2, 27))) == [date(2026, 1, 31)]


def test_until_before_start_still_keeps_start():
    """The first deadline already exists, so it stays even if `until` precedes it."""
    rule = Rule(F.monthly, until=date(2025, 12, 31))
    assert occurrences(date(2026, 1, 31), rule) == [date(2026, 1, 31)]
    assert next_deadline(date(2026, 1, 31), rule, date(2026, 1, 31)) is None


def test_count_1_gives_only_start():
    """count=1 is the first deadline alone, and next_deadline has nothing after it."""
    rule = Rule(F.monthly, count=1)
    assert occurrences(date(2026, 5, 31), rule) == [date(2026, 5, 31)]
    assert next_deadline(date(2026, 5, 31), rule, date(2026, 5, 31)) is None


def test_count_4_quarterly_gives_4_dates():
    """count counts the first deadline: count=4 quarterly is a year of quarters."""
    got = occurrences(date(2026, 3, 31), Rule(F.quarterly, count=4))
    assert got == [date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30), date(2026, 12, 31)]


def test_count_and_until_whichever_ends_first():
    """With both count and until the series stops at whichever is reached first."""
    start = date(2026, 1, 15)
    assert len(occurrences(start, Rule(F.monthly, count=3, until=date(2026, 12, 31)))) == 3
    got = occurrences(start, Rule(F.monthly, count=10, until=date(2026, 2, 15)))
    assert got == [start, date(2026, 2, 15)]


def test_once_is_only_start():
    """A one-off task has a single deadline and no next one."""
    rule = Rule(F.once)
    assert occurrences(date(2026, 6, 30), rule) == [date(2026, 6, 30)]
    assert next_deadline(date(2026, 6, 30), rule, date(2026, 6, 30)) is None
    assert next_deadline(date(2026, 6, 30), rule, date(2030, 1, 1)) is None


def test_limit_caps_an_endless_series():
    """An endless series returns at most `limit` deadlines (1000 by default)."""
    assert len(occurrences(date(2026, 1, 1), Rule(F.every_n_days))) == 1000
    assert len(occurrences(date(2026, 1, 1), Rule(F.monthly), limit=7)) == 7
    assert occurrences(date(2026, 1, 1), Rule(F.monthly), limit=0) == []


# --- next_deadline ------------------------------------------------------------------------------

def test_next_deadline_after_each_occurrence_is_the_following_one():
    """From every deadline of a month-end series, next_deadline returns the one after it."""
    start, rule = date(2026, 1, 31), Rule(F.monthly, count=14)
    got = occurrences(start, rule)
    for previous, following in zip(got, got[1:]):
        assert next_deadline(start, rule, previous) == following


def test_next_deadline_after_last_occurrence_is_none():
    """Once the last deadline (by until or by count) is done, there is no next one."""
    start = date(2026, 1, 31)
    by_until = Rule(F.quarterly, until=date(2026, 12, 31))
    assert next_deadline(start, by_until, occurrences(start, by_until)[-1]) is None
    by_count = Rule(F.every_n_weeks, interval=2, count=5)
    assert next_deadline(start, by_count, occurrences(start, by_count)[-1]) is None


def test_next_deadline_between_occurrences_is_the_later_one():
    """A previous date between two deadlines gives the later deadline (and one before start gives start)."""
    start, rule = date(2026, 1, 31), Rule(F.monthly)
    assert next_deadline(start, rule, date(2026, 2, 27)) == date(2026, 2, 28)
    assert next_deadline(start, rule, date(2026, 3, 1)) == date(2026, 3, 31)
    assert next_deadline(start, rule, date(2026, 1, 30)) == start
    # Far ahead, the series is still anchored on the 31st, not on a clipped day like the 28th.
    assert next_deadline(start, rule, date(2031, 3, 1)) == date(2031, 3, 31)


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [
    Rule(F.every_n_days, interval=0),
    Rule(F.every_n_weeks, interval=400),
    Rule(F.every_n_months, interval=-1),
    Rule(F.monthly, count=0),
    Rule(F.monthly, interval=2),
    Rule(F.quarterly, interval=3),
    Rule(F.yearly, interval=2),
    Rule(F.once, interval=2),
    Rule(F.every_n_days, interval=True),
    Rule(F.every_n_days, interval=2.0),
    Rule("monthly"),
])
def test_validate_rejects_bad_rules(rule):
    """Bad intervals, counts and frequencies raise ValueError, also from occurrences()."""
    with pytest.raises(ValueError):
        rule.validate()
    with pytest.raises(ValueError):
        occurrences(date(2026, 1, 1), rule)


def test_validate_messages_say_what_to_do():
    """The messages name the field and, for a fixed frequency with an interval, the alternative."""
    with pytest.raises(ValueError, match="interval must be a whole number from 1 to 366"):
        Rule(F.every_n_days, interval=0).validate()
    with pytest.raises(ValueError, match="count must be a whole number of at least 1"):
        Rule(F.monthly, count=0).validate()
    with pytest.raises(ValueError, match="use every_n_days, every_n_weeks or every_n_months"):
        Rule(F.monthly, interval=2).validate()


def test_validate_accepts_edge_values():
    """Interval 1 and 366, count 1 and until+count together are valid."""
    Rule(F.every_n_days, interval=1).validate()
    Rule(F.every_n_weeks, interval=366, count=1, until=date(2030, 1, 1)).validate()


# --- describe -----------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, text", [
    (Rule(F.once), "Once"),
    (Rule(F.monthly), "Every month"),
    (Rule(F.quarterly), "Every quarter"),
    (Rule(F.yearly), "Every year"),
    (Rule(F.every_n_days), "Every day"),
    (Rule(F.every_n_days, interval=10), "Every 10 days"),
    (Rule(F.every_n_weeks, interval=2), "Every 2 weeks"),
    (Rule(F.every_n_months, interval=2), "Every 2 months"),
    (Rule(F.quarterly, count=4), "Every quarter, 4 times"),
    (Rule(F.monthly, count=1), "Every month, 1 time"),
    (Rule(F.yearly, until=date(2030, 12, 31)), "Every year until 2030-12-31"),
    (Rule(F.monthly, until=date(2030, 12, 31), count=12), "Every month until 2030-12-31, at most 12 times"),
])
def test_describe_outside_a_request(rule, text):
    """describe() gives plain English with no app or request context (Flask-Babel falls back to msgids)."""
    assert describe(rule) == text


# --- properties ---------------------------------------------------------------------------------

STARTS = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
ENDS = st.one_of(st.none(), st.dates(min_value=date(1999, 1, 1), max_value=date(2110, 12, 31)))
COUNTS = st.one_of(st.none(), st.integers(min_value=1, max_value=40))


@st.composite
def month_rules(draw):
    frequency = draw(st.sampled_from(MONTH_BASED))
    interval = draw(st.integers(min_value=1, max_value=366)) if frequency is F.every_n_months else 1
    return Rule(frequency, interval=interval, until=draw(ENDS), count=draw(COUNTS))


@st.composite
def day_rules(draw):
    frequency = draw(st.sampled_from([F.every_n_days, F.every_n_weeks]))
    return Rule(frequency, interval=draw(st.integers(min_value=1, max_value=366)), until=draw(ENDS),
                count=draw(COUNTS))


def _month_step(rule):
    return {F.monthly: 1, F.quarterly: 3, F.yearly: 12}.get(rule.frequency, rule.interval)


def _check_ends_and_next(start, rule, got, limit):
    """Shared properties: start first, strictly increasing, count/until respected, next_deadline chains."""
    assert got[0] == start
    assert all(a < b for a, b in zip(got, got[1:]))
    # The bounded series is exactly the endless one cut by until and count.
    endless = occurrences(start, Rule(rule.frequency, interval=rule.interval), limit=limit)
    expected = [start] + [d for d in endless[1:] if rule.until is None or d <= rule.until]
    if rule.count is not None:
        expected = expected[:rule.count]
    assert got == expected
    for previous, following in zip(got, got[1:]):
        assert next_deadline(start, rule, previous) == following
    if len(got) < limit:  # the series really ended (not just cut by limit)
        assert next_deadline(start, rule, got[-1]) is None


@settings(max_examples=200, deadline=None)
@given(start=STARTS, rule=month_rules())
def test_month_based_series_properties(start, rule):
    """Month-based series: clipped anchor day, exact month steps, ends respected, next_deadline chains."""
    limit = 30
    got = occurrences(start, rule, limit=limit)
    for deadline in got:
        assert deadline.day == min(start.day, _last_day(deadline.year, deadline.month))
    for a, b in zip(got, got[1:]):
        assert _month_index(b) - _month_index(a) == _month_step(rule)
    _check_ends_and_next(start, rule, got, limit)


@settings(max_examples=200, deadline=None)
@given(start=STARTS, rule=day_rules())
def test_day_and_week_series_properties(start, rule):
    """Day/week series: gaps of exactly N or 7N days, ends respected, next_deadline chains."""
    limit = 30
    got = occurrences(start, rule, limit=limit)
    gap = timedelta(days=rule.interval * (7 if rule.frequency is F.every_n_weeks else 1))
    assert all(b - a == gap for a, b in zip(got, got[1:]))
    _check_ends_and_next(start, rule, got, limit)


@settings(max_examples=200, deadline=None)
@given(start=STARTS, rule=st.one_of(month_rules(), day_rules()), data=st.data())
def test_next_deadline_between_two_deadlines_is_the_later(start, rule, data):
    """Any date from one deadline up to the day before the next maps to that next deadline."""
    got = occurrences(start, rule, limit=10)
    if len(got) < 2:
        return
    i = data.draw(st.integers(min_value=0, max_value=len(got) - 2))
    previous = data.draw(st.dates(min_value=got[i], max_value=got[i + 1] - timedelta(days=1)))
    assert next_deadline(start, rule, previous) == got[i + 1]
