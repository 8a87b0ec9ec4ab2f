"""The bytes of Portico's usual mail — text and HTML twins, no attachments — written directly, the
same bytes as Flask-Mail's MIME objects flattened by the compat32 generator (a test compares them):
building and walking those objects was a third of a mail drain's CPU."""
from email import quoprimime
from email.utils import formatdate

import flask_mail


def header_line(name, value, policy):
    """One header as the compat32 generator writes it: a short one-line ASCII value as it is (the
    generator would pass it through email.header.Header to learn that), anything else folded."""
    if (isinstance(value, str) and value.isascii() and len(name) + len(value) < 76
            and "\n" not in value and "\r" not in value):
        return f"{name}: {value}\r\n".encode("ascii")
    return policy.fold_binary(name, value)


def is_plain_alternative(message):
    """Whether `message` (a Flask-Mail Message) is the usual shape this module writes."""
    return (not message.attachments and not message.cc and not message.extra_headers and not message.charset
            and set(message.alts) == {"html"} and message.body is not None)


def _part(subtype, text):
    # What MIMEText(text, subtype, utf-8 with quoted-printable) flattens to (CRLF line ends).
    encoded = "\r\n".join(quoprimime.body_encode(text.encode("utf-8").decode("latin-1")).split("\n"))
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{encoded}").encode("ascii")


def alternative_bytes(message, outer, inner, policy):
    """The flattened mail of a plain alternative `message`, with the multipart boundaries `outer`
    (multipart/mixed) and `inner` (multipart/alternative)."""
    headers = [("Content-Type", f'multipart/mixed; boundary="{outer}"'), ("MIME-Version", "1.0")]
    if message.subject:
        headers.append(("Subject", flask_mail.sanitize_subject(flask_mail.force_text(message.subject), "utf-8")))
    headers += [("From", flask_mail.sanitize_address(message.sender, "utf-8")),
                ("To", ", ".join(set(flask_mail.sanitize_addresses(message.recipients, "utf-8")))),
                ("Date", formatdate(message.date, localtime=True)), ("Message-ID", message.msgId)]
    if message.reply_to:
        headers.append(("Reply-To", flask_mail.sanitize_address(message.reply_to, "utf-8")))
    head = b"".join(header_line(name, value, policy) for name, value in headers)
    alternative = header_line("Content-Type", f'multipart/alternative; boundary="{inner}"', policy) + \
        f"MIME-Version: 1.0\r\n\r\n--{inner}\r\n".encode("ascii") + _part("plain", message.body) + \
        f"\r\n--{inner}\r\n".encode("ascii") + _part("html", message.html) + f"\r\n--{inner}--\r\n".encode("ascii")
    return head + f"\r\n--{outer}\r\n".encode("ascii") + alternative + f"\r\n--{outer}--\r\n".encode("ascii")
