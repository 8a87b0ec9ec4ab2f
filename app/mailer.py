"""Outgoing mail: Flask-Mail to the configured SMTP server, or (development default, no MAIL_SERVER)
.eml files in instance/mail so `make run` shows every mail without a mail server."""
import os
import re
import socket
import time

from flask import current_app
from flask_mail import Mail, Message

mail = Mail()
SMTP_TIMEOUT = 10  # Flask-Mail has no timeout setting; a hung server must not hang a worker


def init_mail(app):
    """Bind Flask-Mail (read at init: MAIL_SUPPRESS_SEND must already be set)."""
    app.config.setdefault("MAIL_SUPPRESS_SEND", False)
    mail.init_app(app)


def mail_folder():
    """Where development mails are written."""
    return os.path.join(current_app.instance_path, "mail")


def send(to, subject, text, html):
    """Send one mail (text and HTML twins); raise on SMTP failure so the job can retry."""
    message = Message(subject=subject, recipients=[to], body=text, html=html,
                      sender=current_app.config["MAIL_DEFAULT_SENDER"])
    if not current_app.config.get("MAIL_SERVER"):
        if not current_app.config["DEV_MAIL"]:
            raise RuntimeError("MAIL_SERVER is not set: no mail can be sent")
        os.makedirs(mail_folder(), exist_ok=True)
        safe_to = re.sub(r"[^A-Za-z0-9._-]", "_", to.replace("@", "_at_"))  # a local part may hold "/"
        name = f"{time.time():.6f}-{safe_to}.eml"
        with open(os.path.join(mail_folder(), name), "w", encoding="utf-8") as out:
            out.write(message.as_string())
        return
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(SMTP_TIMEOUT)
    try:
        mail.send(message)
    finally:
        socket.setdefaulttimeout(previous)
