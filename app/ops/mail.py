"""The ops console's view of development mail: the .eml files written when no MAIL_SERVER is set."""
import email
import os
from email import policy

from flask import abort
from flask_admin import BaseView, expose

from app.mailer import mail_folder
from app.ops.base import AdminOnlyMixin

SHOWN = 100


def _read(path):
    with open(path, "rb") as handle:
        return email.message_from_binary_file(handle, policy=policy.default)


class DevMailView(AdminOnlyMixin, BaseView):
    """The newest development mails (subject, recipient, time) and each one's text."""

    def _files(self):
        folder = mail_folder()
        names = sorted((n for n in os.listdir(folder) if n.endswith(".eml")), reverse=True) if os.path.isdir(folder) else []
        return names[:SHOWN], len(names)

    @expose("/")
    def index(self):
        names, total = self._files()
        mails = []
        for name in names:
            message = _read(os.path.join(mail_folder(), name))
            mails.append({"name": name, "to": message["To"], "subject": message["Subject"], "date": message["Date"]})
        return self.render("ops/mail.html", mails=mails, total=total, folder=mail_folder())

    @expose("/<filename>")
    def show(self, filename):
        names, _total = self._files()
        if filename not in names:  # only names the folder listing gave: no path tricks
            abort(404)
        message = _read(os.path.join(mail_folder(), filename))
        body = message.get_body(("plain",))
        return self.render("ops/mail_show.html", message=message, text=body.get_content() if body else "")
