"""Organizers: template versions, conditions, required answers, autosave races, submit and prefill."""
import pytest

from app.extensions import db
from app.models import Organizer, OrganizerTemplate
from app.models.organizers import OrganizerStatus
from app.security import roles as R
from app.services import events
from app.services import organizer_templates as templates
from app.services import organizer_sending, organizers
from tests import factories as f
from tests.organizer_helpers import question, send, template


@pytest.fixture
def setup(ctx):
    """An accountant, an entity with a collaborating contact, and a template."""
    acc = f.staff(R.STAFF)
    entity = f.entity("Alpha Co", responsible=acc)
    cora = f.portal_contact(entity, R.ENTITY_COLLABORATOR, first="Cora")
    return acc, entity, cora, template(acc)


def test_hidden_required_question_does_not_block_submit(setup):
    """A required question hidden by its condition never blocks submit; shown, it does."""
    acc, entity, cora, row = setup
    item = send(acc, row, entity)
    organizers.save_answer(item, question(row, "dependants").id, cora.user, 0, "no")
    organizers.save_answer(item, question(row, "wages").id, cora.user, 0, "1200.5")
    assert organizers.missing(item) == []
    organizers.save_answer(item, question(row, "dependants").id, cora.user, 1, "yes")
    assert [q.key for q in organizers.missing(item)] == ["how_many"]
    with pytest.raises(organizers.OrganizerError):
        organizers.submit(item, cora, cora.user)
    organizers.save_answer(item, question(row, "how_many").id, cora.user, 0, "2")
    seen = []
    events.subscribe(events.ORGANIZER_SUBMITTED, lambda **kw: seen.append(kw["url"]))
    try:
        organizers.submit(item, cora, cora.user, review_url="/organizers/review/1")
    finally:
        events._handlers[events.ORGANIZER_SUBMITTED].clear()
    assert item.status is OrganizerStatus.submitted and seen == ["/organizers/review/1"]
    assert item.task.client_status.name == "done"
    with pytest.raises(organizers.OrganizerError):
        organizers.save_answer(item, question(row, "wages").id, cora.user, 1, "5")


def test_required_question_blocks_until_answered_or_not_applicable(setup):
    """A required question needs a value or "does not apply"."""
    acc, entity, cora, row = setup
    item = send(acc, row, entity)
    assert {q.key for q in organizers.missing(item)} == {"dependants", "wages"}
    organizers.save_answer(item, question(row, "dependants").id, cora.user, 0, not_applicable=True)
    organizers.save_answer(item, question(row, "wages").id, cora.user, 0, "")
    assert [q.key for q in organizers.missing(item)] == ["wages"]


def test_stale_save_is_refused_and_overwrites_nothing(setup):
    """Two tabs: the second save from the same version gets StaleAnswer with the first tab's answer."""
    acc, entity, cora, row = setup
    item = send(acc, row, entity)
    wages = question(row, "wages").id
    first = organizers.save_answer(item, wages, cora.user, 0, "100")
    assert first.version == 1
    with pytest.raises(organizers.StaleAnswer) as stale:
        organizers.save_answer(item, wages, cora.user, 0, "999")
    assert stale.value.answer.value == "100.00"
    organizers.save_answer(item, wages, cora.user, 1, "200")
    with pytest.raises(organizers.StaleAnswer):
        organizers.save_answer(item, wages, cora.user, 1, "300")
    assert organizers.answers(item)[wages].value == "200.00"


@pytest.mark.parametrize("kind_key,value", [("wages", "lots"), ("dependants", "maybe"), ("how_many", "1e999")])
def test_bad_values_are_refused(setup, kind_key, value):
    """Values that do not fit the question's kind are refused, nothing stored."""
    acc, entity, cora, row = setup
    item = send(acc, row, entity)
    with pytest.raises(organizers.OrganizerError):
        organizers.save_answer(item, question(row, kind_key).id, cora.user, 0, value)
    assert organizers.answers(item) == {}


def test_editing_a_sent_template_makes_a_new_version(setup):
    """A sent version is frozen: the edit lands in version 2 with the same keys, the organizer keeps v1."""
    acc, entity, cora, row = setup
    item = send(acc, row, entity)
    wages = question(row, "wages")
    new = templates.save_question(row, acc, wages.section_id, {"label": "Wages and salary", "kind": "money"},
                                  question_id=wages.id)
    assert new.id != row.id and new.version == 2 and new.family_id == row.family_id
    assert question(new, "wages").label == "Wages and salary"
    db.session.refresh(row)
    assert question(row, "wages").label == "Wages" and not row.is_current
    assert db.session.get(Organizer, item.id).template_id == row.id
    again = templates.add_section(new, acc, "Property")
    assert again.id == new.id  # unsent: edited in place
    with pytest.raises(templates.TemplateError):
        templates.add_section(row, acc, "Old version")


def test_reorder_keeps_conditions_after_their_question(setup):
    """Moving a question above the one its condition names is refused; a valid reorder is kept."""
    acc, entity, cora, row = setup
    about = row.sections[0]
    dependants, how_many = about.questions
    with pytest.raises(templates.TemplateError):
        templates.reorder(row, acc, about.id, [how_many.id, dependants.id])
    row = templates.move(row, acc, "section", row.sections[1].id, -1)
    assert [s.title for s in row.sections] == ["Income", "About you"]
    income = row.sections[0]
    wages, w2 = income.questions
    row = templates.reorder(row, acc, income.id, [w2.id, wages.id])
    assert [q.key for q in row.sections[0].questions] == ["w2", "wages"]


def test_last_years_answers_prefill(setup):
    """Next year's organizer (a newer version) finds last year's answer by question key."""
    acc, entity, cora, row = setup
    last = send(acc, row, entity, 2025)
    organizers.save_answer(last, question(row, "wages").id, cora.user, 0, "5000")
    new = templates.add_section(row, acc, "Crypto")
    this = send(acc, new, entity, 2026)
    before = organizers.previous(this)
    assert before["wages"][1].value == "5000.00"
    assert organizers.previous(last) == {}
    answer = organizers.save_answer(this, question(new, "wages").id, cora.user, 0, before["wages"][1].value)
    assert not organizers.changed(answer, before["wages"])
    assert organizers.changed(None, before["wages"])


def test_send_refuses_duplicates_and_foreign_entities(setup):
    """The same template and year twice, or an entity the sender cannot work on, sends nothing."""
    acc, entity, cora, row = setup
    send(acc, row, entity)
    with pytest.raises(organizers.OrganizerError):
        organizer_sending.send(acc, row, [entity], 2026)
    other = f.entity("Beta Co")
    f.portal_contact(other, R.ENTITY_ACCESS)
    with pytest.raises(organizers.OrganizerError):
        organizer_sending.send(acc, row, [other], 2027)
    assert db.session.query(Organizer).count() == 1
    assert db.session.query(OrganizerTemplate).count() == 1


def test_submit_tells_the_responsible_staff_member(setup):
    """Submitting completes the task on the client's side: the responsible accountant gets a notification."""
    from app.models import Notification

    acc, entity, cora, row = setup
    item = send(acc, row, entity)
    organizers.save_answer(item, question(row, "dependants").id, cora.user, 0, "no")
    organizers.save_answer(item, question(row, "wages").id, cora.user, 0, "1")
    organizers.submit(item, cora, cora.user, review_url="/organizers/1")
    told = db.session.query(Notification).filter_by(recipient_user_id=acc.id, event=events.CLIENT_COMPLETED).all()
    assert told and {n.object_id for n in told} == {item.task_id}


def test_reopen_tells_the_assigned_contacts_in_their_language_with_the_note(setup, smtp):
    """Reopening writes in-app and e-mail rows for the task's contacts (not another entity's, not staff);
    the Estonian contact's mail is in Estonian and carries the note; a second reopen is told again."""
    from app.models import Notification
    from app.models.notifications import Channel
    from app.services import delivery
    from app.services.firm import get_settings

    acc, entity, cora, row = setup
    get_settings().notification_delay = 0
    cora.language = "et"
    db.session.commit()
    f.portal_contact(f.entity("Beta Co", responsible=acc), R.ENTITY_COLLABORATOR, first="Stan")
    item = send(acc, row, entity)
    for told in db.session.query(Notification).filter_by(channel=Channel.email).all():
        delivery.deliver(told.id)  # the assignment's mail went out long ago
    for key, value in (("dependants", "no"), ("wages", "1")):
        organizers.save_answer(item, question(row, key).id, cora.user, 0, value)
    organizers.submit(item, cora, cora.user)
    smtp.clear()
    organizers.reopen(item, acc, "Add the <W-2s>")
    rows = db.session.query(Notification).filter_by(event=events.ORGANIZER_REOPENED).all()
    assert {(n.recipient_contact_id, n.channel) for n in rows} == {(cora.id, Channel.in_app), (cora.id, Channel.email)}
    assert {(n.object_type, n.object_id) for n in rows} == {("Task", item.task_id)}
    delivery.deliver(next(n.id for n in rows if n.channel is Channel.email))
    [mail] = smtp.messages
    assert mail["Subject"].endswith("Küsimustik uuesti avatud: Individual tax organizer 2026")
    assert "Add the <W-2s>" in mail.get_body(("plain",)).get_content()
    assert "Add the &lt;W-2s&gt;" in mail.get_body(("html",)).get_content()
    organizers.submit(item, cora, cora.user)
    organizers.reopen(item, acc, "And the 1099s")
    assert db.session.query(Notification).filter_by(event=events.ORGANIZER_REOPENED).count() == 4


def test_a_refused_reopen_tells_nobody(setup):
    """Reopening an organizer that is not submitted, or without a note, writes no notification."""
    from app.models import Notification

    acc, entity, cora, row = setup
    item = send(acc, row, entity)
    with pytest.raises(organizers.OrganizerError):
        organizers.reopen(item, acc, "Too early")
    organizers.save_answer(item, question(row, "dependants").id, cora.user, 0, "no")
    organizers.save_answer(item, question(row, "wages").id, cora.user, 0, "1")
    organizers.submit(item, cora, cora.user)
    with pytest.raises(organizers.OrganizerError):
        organizers.reopen(item, acc, "  ")
    assert db.session.query(Notification).filter_by(event=events.ORGANIZER_REOPENED).count() == 0
