"""A staff "Send e-mail" on a thread is mailed at once: sender, Reply-To, text, attachments or links,
the client's language, the record on the thread, and a refusal shown on the message."""
import io

import pytest
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import Message, MessageKind, Notification
from app.models.notifications import Channel
from app.security import roles as R
from app.services import messages, tasks
from app.services.messages_mail import mail_message
from tests import factories as f

PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"


@pytest.fixture
def thread(ctx):
    """A task assigned to an English and an Estonian contact, written by an accountant with an address."""
    accountant = f.staff(R.STAFF)
    entity = f.entity("Mail Co", responsible=accountant)
    ann = f.contact(first="Ann", email="ann@client.example")
    mari = f.contact(first="Mari", email="mari@client.example")
    mari.language = "et"
    db.session.commit()
    for person in (ann, mari):
        f.share(entity, R.ENTITY_COLLABORATOR, contact=person)
    task = tasks.create_task(entity, "Year end", accountant)
    tasks.assign(task, accountant)
    return dict(accountant=accountant, task=task, ann=ann, mari=mari)


def _post(thread, files=()):
    uploads = [FileStorage(io.BytesIO(data), filename=name) for name, data in files]
    return messages.post_with_files(thread["task"], thread["accountant"], "Please sign the **letter**.",
                                    MessageKind.email, uploads)


def test_send_email_mails_each_client_now_with_reply_to_and_attachment(thread, smtp, app):
    """One mail per client at once (no outbox row, no delay): firm sender, Reply-To the author, the
    text, the PDF attached, in each client's language; the thread records whom it reached."""
    message = _post(thread, [("letter.pdf", PDF)])
    assert db.session.query(Notification).filter_by(channel=Channel.email, object_type="Message").count() == 0
    assert mail_message(message.id) == "sent" and mail_message(message.id) == "skipped"
    by_to = {m["To"]: m for m in smtp.messages}
    assert sorted(by_to) == ["ann@client.example", "mari@client.example"]
    ann = by_to["ann@client.example"]
    assert ann["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert ann["Reply-To"] == thread["accountant"].email
    assert "Please sign the **letter**." in ann.get_body(("plain",)).get_content()
    assert [p.get_filename() for p in ann.iter_attachments()] == ["letter.pdf"]
    assert "Message about Year end" in ann["Subject"] and "Year end" in by_to["mari@client.example"]["Subject"]
    assert "kirjutas" in by_to["mari@client.example"].get_body(("plain",)).get_content()
    row = db.session.get(Message, message.id)
    assert row.mail_state == "sent" and row.mailed_to == "ann@client.example, mari@client.example"


def test_a_file_over_the_limit_becomes_a_portal_link(thread, smtp, app, monkeypatch):
    """Past MAIL_ATTACH_MAX_BYTES the file is not attached; the mail links to it in the portal."""
    monkeypatch.setitem(app.config, "MAIL_ATTACH_MAX_BYTES", 1000)
    message = _post(thread, [("big.pdf", PDF)])
    mail_message(message.id)
    mail = smtp.messages[0]
    assert list(mail.iter_attachments()) == []
    doc_id = message.attachments[0].id
    assert f"{app.config['PORTAL_BASE_URL']}/portal/documents/{doc_id}" in mail.get_body(("plain",)).get_content()


def test_a_refused_address_shows_on_the_message_in_the_staff_thread(thread, smtp, app, client, login):
    """The server refuses one client's address: the other gets the mail, the refusal shows on the thread."""
    smtp.refuse = {"mari@client.example"}
    message = _post(thread)
    assert mail_message(message.id) == "sent"
    assert [m["To"] for m in smtp.messages] == ["ann@client.example"]
    row = db.session.get(Message, message.id)
    assert "mari@client.example" in row.mail_error and "550" in row.mail_error
    task_id, accountant_id = thread["task"].id, thread["accountant"].id
    db.session.remove()
    login(client, accountant_id)
    page = client.get(f"/taskview/show/{task_id}").get_data(as_text=True)
    assert "E-mailed to ann@client.example" in page and "Not delivered:" in page and "mari@client.example: 550" in page
