"""Mails written directly (app.mail_bytes) are byte for byte what Flask-Mail's MIME objects flatten to."""
import email
import re
from email import policy
from io import BytesIO

import pytest

from app import mailer

SUBJECTS = ["Portico: New task", "Portico: " + "a long subject line " * 6, "Tähtaeg: tuludeklaratsioon " * 3,
            "Ülevaade 🎉", "=?utf-8?q?looks_encoded?="]
BODIES = ["", "Tere!\n", "no newline at the end", "trailing spaces  \nand tabs\t\n", "crlf\r\nline ends\r\n",
          "x" * 76 + "\n" + "y" * 75 + "=\n" + "z" * 2000, "From the start\n.\n..dots\n", "ä" * 300,
          "mixed = signs and ünïcödé 🎉\n\n\nblank lines\n", " leading space\n"]


def _generic(message):
    """The mail flattened from Flask-Mail's MIME objects by the generator (the path for any other mail)."""
    out = BytesIO()
    mailer.QuickGenerator(out, mangle_from_=False, policy=mailer.COMPAT32_SMTP).flatten(message._message())
    return out.getvalue()


@pytest.fixture(params=[0, 1_000, 123_456], ids=["first mails", "1,000th mail", "123,456th mail"])
def boundaries(request, monkeypatch):
    """The process-wide boundary counter at a given mail (a long-running worker's boundaries grow:
    past four digits the multipart/alternative header folds)."""
    import itertools

    monkeypatch.setattr(mailer, "_boundaries", itertools.count(request.param))


@pytest.mark.usefixtures("boundaries")
@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("reply_to", [None, "Mari Maasikas <mari@firm.example>", "Märt Õun <mart@firm.example>"])
def test_direct_bytes_equal_the_generators(app, subject, reply_to):
    """For every subject, reply-to and pair of bodies the direct bytes equal the generator's, boundaries included."""
    with app.app_context():
        for text, html in zip(BODIES, reversed(BODIES)):
            message = mailer.message("client@example.com", subject, text, html or "<p></p>", reply_to=reply_to)
            message.date, message.msgId = 1_700_000_000.0, "<1@portico.example>"
            expected = _generic(message)
            outer, inner = re.findall(rb'boundary="([^"]+)"', expected)
            written = mailer.alternative_bytes(message, outer.decode(), inner.decode(), mailer.COMPAT32_SMTP)
            assert written == expected, (subject, text)


def test_a_mail_reads_back_with_its_texts(app):
    """Parsed as a mail client would, the direct bytes give back the subject, both texts and the reply-to."""
    with app.app_context():
        built = mailer.message("client@example.com", "Tähtaeg 🎉", "Tere, Mari!\nrida kaks\n", "<p>Tere, Mari!</p>",
                               reply_to="Märt Õun <mart@firm.example>").freeze()
    parsed = email.message_from_bytes(built.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Tähtaeg 🎉" and parsed["Reply-To"] == "Märt Õun <mart@firm.example>"
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Tere, Mari!\nrida kaks\n"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Tere, Mari!</p>"


def test_a_mail_with_an_attachment_goes_through_the_generator(app):
    """An attachment (or any other shape) is not the plain alternative: the MIME objects write it."""
    with app.app_context():
        built = mailer.message("client@example.com", "Files", "see attached", "<p>see attached</p>",
                               attachments=[("a.pdf", "application/pdf", b"%PDF-1.4")])
        assert not mailer.is_plain_alternative(built)
        parsed = email.message_from_bytes(built.as_bytes(), policy=policy.default)
    assert [part.get_filename() for part in parsed.iter_attachments()] == ["a.pdf"]
