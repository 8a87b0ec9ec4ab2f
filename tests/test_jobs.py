"""The periodic jobs do the work that is due and no more: their statements do not grow with the rows that
are not due, and a second run the same day writes nothing."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification, Task, TaxVoucher
from app.models.vouchers import VoucherStatus
from app.security import roles as R
from app.services import task_occurrences, task_reminders, tasks, voucher_reminders
from app.services.firm import get_settings
from app.services.recurrence import Frequency, Rule
from tests import factories as f

TODAY = date(2026, 3, 2)


@pytest.fixture
def firm(ctx):
    """An accountant's entity with one portal contact; mails without delay."""
    get_settings().notification_delay = 0
    db.session.commit()
    accountant = f.staff(R.STAFF)
    entity = f.entity("Client A", responsible=accountant)
    f.share(entity, R.ENTITY_COLLABORATOR, contact=f.contact(first="Cora", with_user=True))
    return dict(accountant=accountant, entity=entity)


def _assigned_task(firm, deadline, title="Task"):
    task = tasks.create_task(firm["entity"], title, firm["accountant"], deadline=deadline)
    tasks.assign(task, firm["accountant"])
    return task


def _notifications(event="deadline_approaching"):
    return db.session.scalar(select(func.count(Notification.id)).where(Notification.event == event))


def _statements(count_queries, job):
    with count_queries() as n:
        result = job()
    return n(), result


def test_deadline_reminders_cost_the_same_whatever_the_tasks_not_due(firm, count_queries):
    """One task due in 3 days among 2, then 12, open assigned tasks not reminded of today (due later, or
    overdue by days that are not whole weeks): the same number of statements."""
    _assigned_task(firm, TODAY + timedelta(days=3), "Due")
    late = iter(d for d in range(1, 60) if d % 7)
    costs = []
    for extra in (2, 10):
        for i in range(extra):
            _assigned_task(firm, TODAY + timedelta(days=20 + i), f"Later {i}")
            _assigned_task(firm, TODAY - timedelta(days=next(late)), f"Late {i}")
        db.session.execute(Notification.__table__.delete().where(Notification.event == "deadline_approaching"))
        db.session.commit()
        costs.append(_statements(count_queries, lambda: task_reminders.emit_deadline_events(TODAY)))
    assert costs[0] == costs[1]
    assert len(costs[0][1]) == 1


def test_deadline_reminders_run_twice_write_once(firm):
    """A second run the same day adds no notification (exact idempotency keys)."""
    _assigned_task(firm, TODAY, "Due today")
    _assigned_task(firm, TODAY - timedelta(days=14), "Two weeks late")
    task_reminders.emit_deadline_events(TODAY)
    written = _notifications()
    task_reminders.emit_deadline_events(TODAY)
    assert written == _notifications() and written == 4  # two tasks x (in-app + e-mail) for Cora


def test_set_based_reminders_write_the_keys_notify_writes_and_log_once(firm):
    """The rows carry exactly the outbox keys notify() would write (so either path writes a reminder once),
    one activity line per task reminded, and none again on a second run."""
    from app.models import ActivityEvent
    from app.models.notifications import Channel
    from app.services import notifications

    task = _assigned_task(firm, TODAY - timedelta(days=7), "A week late")
    task_reminders.emit_deadline_events(TODAY)
    keys = set(db.session.scalars(select(Notification.idempotency_key).where(
        Notification.event == "deadline_approaching")))
    assert keys == {notifications.idempotency_key("deadline_approaching", task, contact, channel,
                                                  f"{task.deadline.isoformat()}:-7")
                    for contact in task.assignees for channel in Channel} and len(keys) == 2
    task_reminders.emit_deadline_events(TODAY)
    lines = db.session.scalars(select(ActivityEvent).where(ActivityEvent.verb == "work.deadline_approaching")).all()
    assert [(line.object_id, line.summary, line.actor_id) for line in lines] == [(task.id, "A week late", None)]


def _series(firm, start, title):
    return tasks.create_series(firm["entity"], title, Rule(Frequency.monthly), start, firm["accountant"])


def test_spawn_costs_the_same_whatever_the_series_not_due(firm, count_queries):
    """One series due among 2, then 8, series whose latest deadline is ahead: the same number of statements."""
    today = date.today()
    costs = []
    for extra in (2, 6):
        for i in range(extra):
            _series(firm, today + timedelta(days=10 + i), f"Later {i}")
        due = _series(firm, today - timedelta(days=1), f"Due {extra}")
        costs.append(_statements(count_queries, lambda: task_occurrences.spawn_due_occurrences(today))[0])
        assert db.session.scalar(select(func.count(Task.id)).where(Task.series_id == due.series_id)) == 2
    assert costs[0] == costs[1]


def test_spawn_run_twice_creates_one_occurrence(firm):
    """The sweep run twice creates the next occurrence once."""
    first = _series(firm, date.today() - timedelta(days=1), "Monthly")
    assert task_occurrences.spawn_due_occurrences() == 1
    assert task_occurrences.spawn_due_occurrences() == 0
    assert db.session.scalar(select(func.count(Task.id)).where(Task.series_id == first.series_id)) == 2


def test_spawn_costs_the_same_for_3_or_30_series_due(firm, app):
    """Occurrences are created a chunk at a time: 3, then 30, series due cost the same statements (on
    SQLite, which cannot batch INSERTs that return new ids, the same apart from the task INSERTs)."""
    from sqlalchemy import event

    today, costs = date.today(), []
    for due in (3, 30):
        for i in range(due):
            _series(firm, today - timedelta(days=1), f"Due {due}.{i}")
        statements = []
        listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert task_occurrences.spawn_due_occurrences(today) == due
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        batched = db.engine.dialect.name == "postgresql"
        costs.append(len([s for s in statements if batched or not s.startswith("INSERT INTO task (")]))
    assert costs[0] == costs[1]


def test_an_occurrence_created_meanwhile_by_another_worker_is_not_doubled(firm, monkeypatch):
    """Another worker creates one occurrence while the sweep's chunk is being built: the chunk rolls back,
    is done one task at a time, and each series gets exactly one next occurrence."""
    today = date.today()
    first = _series(firm, today - timedelta(days=1), "Raced")
    second = _series(firm, today - timedelta(days=1), "Quiet")
    seeing = task_occurrences._contacts_seeing

    def meanwhile(entity_ids):
        result = seeing(entity_ids)
        tasks.spawn_next(first.id)  # what the job scheduled at the deadline does, committed first
        return result

    monkeypatch.setattr(task_occurrences, "_contacts_seeing", meanwhile)
    assert task_occurrences.spawn_due_occurrences(today) == 2
    for task in (first, second):
        occurrences = db.session.scalars(select(Task.occurrence).where(Task.series_id == task.series_id)).all()
        assert sorted(occurrences) == [1, 2]


def _voucher(entity, due, status=VoucherStatus.unpaid):
    db.session.add(TaxVoucher(entity_id=entity.id, tax_year=due.year, authority="IRS", form_period="Q1",
                              amount=Decimal("10.00"), due_date=due, status=status,
                              paid_on=due if status is VoucherStatus.paid else None))
    db.session.commit()


def test_voucher_reminders_cost_the_same_whatever_the_vouchers_not_due(firm, count_queries):
    """One due voucher among 2, then 12, vouchers due later or paid: the same statements; a re-run adds nothing."""
    _voucher(firm["entity"], TODAY + timedelta(days=3))
    costs = []
    for extra in (2, 10):
        for i in range(extra):
            _voucher(firm["entity"], TODAY + timedelta(days=30 + i))
            _voucher(firm["entity"], TODAY + timedelta(days=3), VoucherStatus.paid)
        db.session.execute(Notification.__table__.delete().where(Notification.event == "voucher_due"))
        db.session.commit()
        costs.append(_statements(count_queries, lambda: voucher_reminders.remind(TODAY, days_before=(3, 0))))
    assert costs[0] == costs[1] and costs[0][1] == 1
    assert voucher_reminders.remind(TODAY, days_before=(3, 0)) == 0
