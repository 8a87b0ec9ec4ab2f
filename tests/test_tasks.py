"""Client work services: task lifecycle, recurrence spawning, threads, file requests, requests."""
import io
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import ActivityEvent, ClientRequest, Document, Message, MessageKind, RequestStatus, Task
from app.models.tasks import ClientStatus, PortalState, StaffStatus, TaskKind
from app.security import access
from app.security import roles as R
from app.services import events, file_requests, messages, requests, task_reminders, tasks
from app.models.tasks import Frequency
from app.services.recurrence import Rule
from tests import factories as f


@pytest.fixture
def work(ctx):
    """An accountant's entity with a collaborator and a reader; a second entity with its own contact."""
    accountant = f.staff(R.STAFF)
    entity, other = f.entity("Client A", responsible=accountant), f.entity("Client B")
    collaborator, reader, stranger = (f.contact(first=n, with_user=True) for n in ("Cora", "Rhea", "Stan"))
    f.share(entity, R.ENTITY_COLLABORATOR, contact=collaborator)
    f.share(entity, R.ENTITY_ACCESS, contact=reader)
    f.share(other, R.ENTITY_COLLABORATOR, contact=stranger)
    return dict(accountant=accountant, entity=entity, other=other, collaborator=collaborator, reader=reader,
                stranger=stranger)


def _verbs():
    return [e.verb for e in db.session.query(ActivityEvent).order_by(ActivityEvent.id)]


def test_assign_withdraw_reassign(work):
    """Assign shows the task to its assignees, withdraw hides it, reassign shows it again; events recorded."""
    task = tasks.create_task(work["entity"], "Send receipts", work["accountant"])
    assert {c.id for c in task.assignees} == {work["collaborator"].id, work["reader"].id}
    user = work["collaborator"].user
    assert not access.can(user, R.VIEW, task)
    tasks.assign(task, work["accountant"])
    assert task.portal_state is PortalState.assigned and access.can(user, R.VIEW, task)
    tasks.withdraw(task, work["accountant"])
    assert not access.can(user, R.VIEW, task)
    with pytest.raises(tasks.TaskError):
        tasks.withdraw(task, work["accountant"])
    tasks.assign(task, work["accountant"])
    assert access.can(user, R.VIEW, task) and task.withdrawn_on is None
    assert _verbs() == ["work.task_assigned", "work.task_withdrawn", "work.task_assigned"]


@pytest.mark.parametrize("auto_complete", [False, True])
def test_client_done_with_and_without_auto_complete(work, auto_complete):
    """Client done closes the task for staff only with auto_complete; otherwise it awaits staff."""
    task = tasks.create_task(work["entity"], "Sign form", work["accountant"], auto_complete=auto_complete)
    tasks.assign(task, work["accountant"])
    tasks.client_complete(task, work["reader"], work["reader"].user)
    assert task.client_status is ClientStatus.done and task.client_done_by_id == work["reader"].id
    assert (task.staff_status is StaffStatus.done) is auto_complete
    assert task.awaiting_staff() is (not auto_complete)
    assert "work.client_completed" in _verbs()


def test_client_cannot_complete_a_task_not_assigned_to_them(work):
    """A contact of another entity, or before assignment, cannot mark the task done."""
    task = tasks.create_task(work["entity"], "Private", work["accountant"])
    with pytest.raises(tasks.TaskError):
        tasks.client_complete(task, work["reader"], work["reader"].user)
    tasks.assign(task, work["accountant"])
    with pytest.raises(tasks.TaskError):
        tasks.client_complete(task, work["stranger"], work["stranger"].user)


def test_reopen_and_deadline_overdue(work):
    """Reopen resets both sides; a past deadline counts as overdue only while the task is open."""
    task = tasks.create_task(work["entity"], "Q3 VAT", work["accountant"], deadline=date.today() - timedelta(days=1))
    assert task.is_overdue()
    tasks.complete(task, work["accountant"])
    assert not task.is_overdue()
    tasks.reopen(task, work["accountant"])
    assert task.staff_status is StaffStatus.open and task.client_status is ClientStatus.pending
    assert task.is_overdue()


def test_assignees_must_see_the_entity(work):
    """A contact of another entity cannot be an assignee."""
    with pytest.raises(tasks.TaskError):
        tasks.create_task(work["entity"], "X", work["accountant"], assignees=[work["stranger"]])


def test_checklist_ticked_by_staff_and_assignee_only(work):
    """Staff and an assignee of an assigned task tick the checklist; others cannot."""
    task = tasks.create_task(work["entity"], "Year end", work["accountant"], checklist=["Bank", "Payroll"])
    first = task.checklist[0]
    with pytest.raises(tasks.TaskError):
        tasks.tick(first, work["reader"].user, True)  # not assigned yet
    tasks.assign(task, work["accountant"])
    tasks.tick(first, work["reader"].user, True)
    tasks.tick(task.checklist[1], work["accountant"], True)
    with pytest.raises(tasks.TaskError):
        tasks.tick(first, work["stranger"].user, False)
    assert [i.done for i in task.checklist] == [True, True]


def test_recurring_series_spawns_one_next_occurrence_copying_checklist_and_assignees(work):
    """The spawn job run twice gives one next occurrence, with the checklist and assignees copied."""
    from app.jobs import spawn_next_occurrence

    first = tasks.create_series(work["entity"], "Monthly bookkeeping", Rule(Frequency.monthly, count=3),
                                date(2026, 1, 31), work["accountant"], checklist=["Bank feed", "Receipts"],
                                assignees=[work["collaborator"]])
    second_id = spawn_next_occurrence(first.id)
    assert spawn_next_occurrence(first.id) == second_id
    second = db.session.get(Task, second_id)
    assert second.deadline == date(2026, 2, 28) and second.occurrence == 2
    assert [i.text for i in second.checklist] == ["Bank feed", "Receipts"]
    assert [c.id for c in second.assignees] == [work["collaborator"].id]
    third = tasks.spawn_next(second.id)
    assert third.deadline == date(2026, 3, 31)
    assert tasks.spawn_next(third.id) is None  # count reached
    assert db.session.query(Task).filter_by(series_id=first.series_id).count() == 3


def test_editing_a_series_changes_future_occurrences_only(work):
    """A new title on the series reaches the next occurrence, not the existing ones."""
    first = tasks.create_series(work["entity"], "Quarterly VAT", Rule(Frequency.quarterly), date(2026, 3, 31),
                                work["accountant"])
    tasks.edit_series(first.series, title="Quarterly VAT return")
    second = tasks.spawn_next(first.id)
    assert first.title == "Quarterly VAT" and second.title == "Quarterly VAT return"
    assert second.deadline == date(2026, 6, 30)


KIND = st.sampled_from(list(MessageKind))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(KIND, min_size=1, max_size=8), on_request=st.booleans())
def test_internal_messages_never_reach_a_contact(work, kinds, on_request):
    """Whatever the order and mix of kinds, a contact's view of a thread holds no internal message."""
    if on_request:
        thread = requests.create_request(work["entity"], work["collaborator"], work["collaborator"].user,
                                         "Question", "Hello")
    else:
        thread = tasks.create_task(work["entity"], "Thread", work["accountant"])
        tasks.assign(thread, work["accountant"])
    for n, kind in enumerate(kinds):
        messages.post(thread, work["accountant"], f"secret {n}" if kind is MessageKind.internal else f"m{n}", kind)
    seen = messages.thread_messages(thread, work["collaborator"].user)
    assert all(m.kind is not MessageKind.internal for m in seen)
    assert len(seen) == sum(k is not MessageKind.internal for k in kinds)
    assert not any("secret" in m.body for m in db.session.scalars(access.visible(work["collaborator"].user, Message)))
    assert len(messages.thread_messages(thread, work["accountant"])) == len(kinds)


def test_a_contact_cannot_post_an_internal_message_and_deleted_messages_disappear(work):
    """A crafted kind from a contact becomes a portal message; a deleted message is hidden from clients."""
    task = tasks.create_task(work["entity"], "T", work["accountant"])
    tasks.assign(task, work["accountant"])
    reply = messages.post(task, work["reader"].user, "Here you go", kind=MessageKind.internal)
    assert reply.kind is MessageKind.portal and reply.author_contact_id == work["reader"].id
    note = messages.post(task, work["accountant"], "Thanks", MessageKind.portal)
    messages.delete(note, work["accountant"])
    assert [m.body for m in messages.thread_messages(task, work["reader"].user)] == ["Here you go"]
    with pytest.raises(messages.MessageError):
        messages.post(task, work["stranger"].user, "Let me in")


def test_contact_of_one_entity_sees_nothing_of_another(work):
    """Tasks, messages and requests of entity B are invisible to a contact of entity A."""
    f.share(work["other"], R.VIEWER, user=work["accountant"])
    task = tasks.create_task(work["other"], "B's task", work["accountant"])
    tasks.assign(task, work["accountant"])
    messages.post(task, work["accountant"], "For B", MessageKind.portal)
    requests.create_request(work["other"], work["stranger"], work["stranger"].user, "B asks", "Hi")
    user = work["collaborator"].user
    for model in (Task, Message, ClientRequest):
        assert db.session.scalars(access.visible(user, model)).all() == []


def test_file_request_recipients_and_document_update(work):
    """Only Entity Collaborators can be chosen; an answer becomes the attached document's next version."""
    rows = {c.id: (ok, reason) for c, ok, reason in file_requests.recipients(work["entity"])}
    assert rows[work["collaborator"].id] == (True, None)
    assert rows[work["reader"].id][0] is False and "Entity Collaborator" in rows[work["reader"].id][1]
    with pytest.raises(tasks.TaskError):
        file_requests.create(work["entity"], work["accountant"], [work["reader"]], "Bank statements")
    request = file_requests.create(work["entity"], work["accountant"], [work["collaborator"]], "Bank statements",
                                   additional_message="Extra", new_file=FileStorage(io.BytesIO(b"v,1\n"), "bank.csv"))
    assert request.kind is TaskKind.file_request and request.additional_message is None  # detailed mails off
    assert file_requests.outstanding(request) == [work["collaborator"]]
    file_requests.answer(request, work["collaborator"], work["collaborator"].user,
                         FileStorage(io.BytesIO(b"v,2\n"), "bank.csv"))
    doc = db.session.get(Document, request.update_document_id)
    assert doc.version_count == 2 and file_requests.outstanding(request) == []
    assert request.client_status is ClientStatus.done
    assert "work.file_request_created" in _verbs()


def test_convert_a_request_keeps_thread_and_files(work):
    """Converting moves the messages and files to the new task and marks the request converted."""
    request = requests.create_request(work["entity"], work["collaborator"], work["collaborator"].user,
                                      "New employee", "How do I add payroll?",
                                      files=[FileStorage(io.BytesIO(b"name,start\n"), "staff.csv")])
    messages.post(request, work["accountant"], "Looking into it", MessageKind.portal)
    task = requests.convert(request, work["accountant"])
    assert request.status is RequestStatus.converted and request.task_id == task.id
    assert [m.body for m in messages.thread_messages(task, work["accountant"])] == ["Looking into it"]
    assert [d.name for d in task.attachments] == ["staff.csv"]
    assert requests.convert(request, work["accountant"]).id == task.id


def test_an_entity_access_contact_cannot_create_a_request(work):
    """Creating a request needs Entity Collaborator."""
    with pytest.raises(requests.RequestError):
        requests.create_request(work["entity"], work["reader"], work["reader"].user, "Hi", "There")


def test_domain_events_reach_subscribers_in_the_transaction(work):
    """A subscriber gets each event with its payload; unknown events are refused."""
    received = []

    def handler(**payload):
        received.append(payload)

    events.subscribe(events.TASK_ASSIGNED, handler)
    try:
        task = tasks.create_task(work["entity"], "Notify me", work["accountant"])
        tasks.assign(task, work["accountant"])
    finally:
        events.unsubscribe(events.TASK_ASSIGNED, handler)
    assert received[0]["obj"] is task and {c.id for c in received[0]["recipients"]} == {
        work["collaborator"].id, work["reader"].id}
    with pytest.raises(ValueError):
        events.emit("made_up", work["entity"], task)


def test_deadline_approaching_is_emitted_for_assigned_open_tasks_only(work):
    """Three days before and on the day, for assigned open tasks; not for done or unassigned ones."""
    today = date(2026, 3, 1)
    soon = tasks.create_task(work["entity"], "Due soon", work["accountant"], deadline=today + timedelta(days=3))
    due = tasks.create_task(work["entity"], "Due today", work["accountant"], deadline=today)
    done = tasks.create_task(work["entity"], "Done", work["accountant"], deadline=today)
    tasks.create_task(work["entity"], "Not assigned", work["accountant"], deadline=today)
    for task in (soon, due, done):
        tasks.assign(task, work["accountant"])
    tasks.complete(done, work["accountant"])
    found = task_reminders.emit_deadline_events(today)
    assert {db.session.get(Task, task_id).title for task_id in found} == {"Due soon", "Due today"}
    assert _verbs().count("work.deadline_approaching") == 2
