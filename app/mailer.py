"""Outgoing mail: Flask-Mail to the configured SMTP server, or (development default, no MAIL_SERVER)
.eml files in instance/mail so `make run` shows every mail without a mail server.

`Outgoing` sends many mails over one SMTP connection (Flask-Mail's `mail.connect()`, recycled
after MAIL_MAX_EMAILS), opened on the first mail; `send` is the one-off form of it."""
import email.utils
import itertools
import os
import re
import secrets
import smtplib
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from email import charset, policy
from email.generator import BytesGenerator
from email.mime.text import MIMEText
from io import BytesIO
from functools import lru_cache

import flask_mail
from babel import Locale
from flask import current_app
from flask_babel import force_locale
from flask_mail import Connection, Mail, Message

from app.mail_bytes import alternative_bytes, header_line, is_plain_alternative

mail = Mail()
UTF8_QP = charset.Charset("utf-8")
UTF8_QP.body_encoding = charset.QP
COMPAT32_SMTP = policy.compat32.clone(linesep="\r\n")  # SMTP wants CRLF; smtplib sends bytes as they are
SMTP_TIMEOUT = 10  # Flask-Mail has no timeout setting; a hung server must not hang a worker
MAILS_PER_CONNECTION = 500  # MAIL_MAILS_PER_CONNECTION default: a long drain reconnects now and then


@lru_cache(maxsize=1)
def local_hostname():
    """This host's name for EHLO and Message-IDs, looked up once per process (not twice per mail)."""
    return socket.getfqdn()


# Flask-Mail builds each Message-ID with make_msgid(), which looks the host name up every time.
flask_mail.make_msgid = lambda: email.utils.make_msgid(domain=local_hostname())

# A bare ASCII address (dot-atoms, no display name): what Flask-Mail's sanitize_address returns unchanged.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\Z")
_sanitize_address = flask_mail.sanitize_address


def quick_sanitize_address(addr, encoding="utf-8"):
    """Flask-Mail's sanitize_address, which parses and re-formats every address four times per mail;
    a bare ASCII address comes back unchanged, so it skips the parse."""
    if isinstance(addr, str) and _PLAIN_ADDRESS.match(addr):
        return addr
    return _sanitize_address(addr, encoding)


flask_mail.sanitize_address = quick_sanitize_address


class QuickGenerator(BytesGenerator):
    """compat32's generator, writing a header that needs no folding as it is (app.mail_bytes.header_line):
    compat32 passes every header through email.header.Header to fold it."""

    def _write_headers(self, msg):
        for name, value in msg.raw_items():
            self._fp.write(header_line(name, value, self.policy))
        self.write(self._NL)


@lru_cache(maxsize=64)
def _locale(language):
    return Locale.parse(language)


def in_language(language):
    """Render a mail in `language` (a context manager); the parsed locale is kept, because parsing
    it again looks for its data file on disk, once per mail."""
    return force_locale(_locale(language or current_app.config["BABEL_DEFAULT_LOCALE"]))


class NotConnected(Exception):
    """The SMTP server could not be reached or refused the session: no mail was handed over."""


class MailRefused(Exception):
    """The SMTP server refused this one mail (bad recipient, message rejected); the connection lives on."""

    def __init__(self, code, text):
        super().__init__(f"{code} {text}")
        self.code, self.permanent = code, 500 <= int(code or 0) < 600


def render_mail(name, **context):
    """A mail template rendered by the app's Jinja environment alone (same autoescaping and gettext):
    a mail needs no request, and Flask's render_template runs every context processor per call (FAB's
    loads the current user) — two thirds of the cost of rendering a notification."""
    return current_app.jinja_env.get_template(name).render(**context)


def init_mail(app):
    """Bind Flask-Mail (read at init: MAIL_SUPPRESS_SEND must already be set)."""
    app.config.setdefault("MAIL_SUPPRESS_SEND", False)
    mail.init_app(app)


def mail_folder():
    """Where development mails are written."""
    return os.path.join(current_app.instance_path, "mail")


class _Message(Message):
    """Flask-Mail's message, flattened with the compat32 policy: Flask-Mail already encodes every
    header it writes, and the SMTP policy would parse each header again on every flatten (most of
    the cost of a mail)."""

    def _mimetext(self, text, subtype="plain"):
        """Quoted-printable parts: lines stay under SMTP's 998-octet limit whatever the text."""
        return MIMEText(text, _subtype=subtype, _charset=UTF8_QP)

    frozen = None

    def as_bytes(self):
        """The mail as SMTP sends it (CRLF line ends): text and HTML twins written directly
        (app.mail_bytes), any other mail flattened by QuickGenerator; once `freeze` ran, the bytes it made."""
        if self.frozen is not None:
            return self.frozen
        if is_plain_alternative(self):
            return alternative_bytes(self, _boundary(), _boundary(), COMPAT32_SMTP)
        out = BytesIO()
        QuickGenerator(out, mangle_from_=False, policy=COMPAT32_SMTP).flatten(self._message())
        return out.getvalue()

    def freeze(self):
        """Flatten now (Date and Message-ID fixed), so that sending does no more than transmit."""
        self.date = self.date or time.time()
        self.frozen = self.as_bytes()
        return self

    def _message(self):
        built = super()._message()
        built.policy = COMPAT32_SMTP
        for part in built.walk():  # a boundary set here spares the generator a regex per part and mail
            if part.is_multipart():
                part.set_boundary(_boundary())
        return built


# A boundary must only never occur in its mail's content, and "=_" cannot occur in quoted-printable or
# base64 text: a counter does (drawing 16 random bytes per part cost a sixth of a drain here).
_BOUNDARY_PREFIX, _boundaries = secrets.token_hex(8), itertools.count()


def _boundary():
    return f"=_portico_{_BOUNDARY_PREFIX}_{next(_boundaries)}"


def message(to, subject, text, html, reply_to=None, attachments=()):
    """A text + HTML mail from the firm's sender address; attachments are (name, type, bytes)."""
    built = _Message(subject=subject, recipients=[to], body=text, html=html, reply_to=reply_to,
                    sender=current_app.config["MAIL_DEFAULT_SENDER"])
    for name, content_type, data in attachments:
        built.attach(name, content_type, data)
    return built


class _Connection(Connection):
    """Flask-Mail's connection with a timeout and EHLO name set once (no host lookup per connection)."""

    def configure_host(self):
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, local_hostname=local_hostname(), timeout=SMTP_TIMEOUT)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


class Outgoing:
    """A context for sending many mails over one connection, opened at the first mail and renewed
    after MAIL_MAILS_PER_CONNECTION; the development default (no MAIL_SERVER) writes .eml files."""

    def __init__(self):
        self.connection, self.sent, self.courier = None, 0, None
        self.to_files = not current_app.config.get("MAIL_SERVER")
        self.per_connection = int(current_app.config.get("MAIL_MAILS_PER_CONNECTION", MAILS_PER_CONNECTION))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.courier is not None:  # let the mail in flight finish before saying QUIT
            self.courier.shutdown(wait=True)
            self.courier = None
        self.close()

    def open(self):
        """Connect now (if not yet); raise NotConnected when the server cannot be reached."""
        if self.to_files or self.connection is not None:
            return
        try:
            self.connection = _Connection(current_app.extensions["mail"]).__enter__()
        except (smtplib.SMTPException, OSError) as exc:
            raise NotConnected(f"{type(exc).__name__}: {exc}") from exc

    def send_later(self, built):
        """Hand one Message to a sending thread and return its future (`result()` returns or raises
        as `send` does): the caller prepares the next mail while the server answers this one.
        One mail at a time: read the result before calling again, or `open`/`close`."""
        if self.courier is None:
            app = current_app._get_current_object()
            self.courier = ThreadPoolExecutor(1, "smtp", initializer=lambda: app.app_context().push())
        return self.courier.submit(self.send, built)

    def close(self):
        """Say QUIT (best effort: a dead connection is simply dropped); the sending thread calls it
        too, when a connection has carried its share of mails, so it never waits for that thread."""
        connection, self.connection, self.sent = self.connection, None, 0
        if connection is not None and connection.host is not None:
            try:
                connection.host.quit()
            except (smtplib.SMTPException, OSError):
                connection.host.close()

    def send(self, built):
        """Hand one Message to the server; raise MailRefused when the server refuses this mail only,
        NotConnected when it cannot be reached, and other SMTP/OS errors when the connection broke
        during the mail (then nobody can tell whether it arrived)."""
        if self.to_files:
            return _write_file(built)
        self.open()
        try:
            self.connection.send(built)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise MailRefused(code, text.decode(errors="replace") if isinstance(text, bytes) else text) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise MailRefused(exc.smtp_code, exc.smtp_error.decode(errors="replace")) from exc
        except (smtplib.SMTPException, OSError):
            broken, self.connection = self.connection, None
            if broken.host is not None:
                broken.host.close()
            raise
        self.sent += 1
        if self.sent >= self.per_connection:
            self.close()


def _write_file(built):
    if not current_app.config["DEV_MAIL"]:  # production: no MAIL_SERVER is an error, never a mail folder
        raise RuntimeError("MAIL_SERVER is not set: no mail can be sent")
    os.makedirs(mail_folder(), exist_ok=True)
    to = built.recipients[0]
    safe_to = re.sub(r"[^A-Za-z0-9._-]", "_", to.replace("@", "_at_"))  # a local part may hold "/"
    name = f"{time.time():.6f}-{safe_to}.eml"
    with open(os.path.join(mail_folder(), name), "wb") as out:
        out.write(built.as_bytes())


def send(to, subject, text, html, reply_to=None, attachments=()):
    """Send one mail (text and HTML twins) on its own connection; raise on SMTP failure so the job can retry."""
    with Outgoing() as outgoing:
        outgoing.send(message(to, subject, text, html, reply_to, attachments))
