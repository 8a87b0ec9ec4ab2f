"""bench/load.py's helpers: the virtual users' contacts, an SMTP sink that keeps access codes, free ports."""
import os
import re
import socket
import sys
import threading
import time
from email import message_from_bytes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PIN = "135790"
ENTITY_NAME = "Bench Portal Holdings 0"


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 keeping the latest access code mailed to each address."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.port = free_port()  # aiosmtpd does not take port 0
        self.codes, self.lock = {}, threading.Condition()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = message_from_bytes(envelope.content)
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                found = re.search(r"^(\d{8})\s*$", part.get_payload(decode=True).decode(), re.M)
                if found:
                    with self.lock:
                        for address in envelope.rcpt_tos:
                            self.codes[address.lower()] = found.group(1)
                        self.lock.notify_all()
        return "250 OK"

    def wait_code(self, address, timeout):
        """The code mailed to `address` (waiting up to `timeout` s), or None."""
        end = time.monotonic() + timeout
        with self.lock:
            while address not in self.codes and time.monotonic() < end:
                self.lock.wait(timeout=max(end - time.monotonic(), 0.01))
            return self.codes.pop(address, None)

    def stop(self):
        self.controller.stop()


def prepare_users(count):
    """[(e-mail, task id)] of `count` active portal contacts on the bench entity, each assigned a task
    of its own (created on the first run; set-based SQL, one PIN hash shared by all)."""
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db
    from app.models import Contact
    from app.services.portal import auth as portal_auth

    app = create_app()
    with app.app_context():
        probe = Contact(first_name="x", last_name="x", username="x")
        portal_auth.set_pin(probe, PIN)
        params = {"n": count, "pin": probe.pin_hash, "entity": ENTITY_NAME}
        for sql in _SETUP:
            db.session.execute(text(sql), params)
        db.session.commit()
        rows = db.session.execute(text(
            "SELECT e.email, min(a.task_id) FROM contact c JOIN contact_email e ON e.contact_id = c.id "
            "JOIN task_assignee a ON a.contact_id = c.id WHERE c.username LIKE 'bench.load%' "
            "GROUP BY e.email, c.id ORDER BY c.id LIMIT :n"), params).all()
    return [(email, task_id) for email, task_id in rows]


_SETUP = [
    """INSERT INTO ab_user (first_name, last_name, username, email, active, created_on, changed_on)
       SELECT 'Load', 'User ' || i, 'bench.load' || i, 'bench.load' || i || '@bench.example', true, now(), now()
       FROM generate_series(1, :n) i ON CONFLICT DO NOTHING""",
    """INSERT INTO ab_user_role (user_id, role_id)
       SELECT u.id, r.id FROM ab_user u, ab_role r WHERE u.username LIKE 'bench.load%' AND r.name = 'Client'
       AND NOT EXISTS (SELECT 1 FROM ab_user_role x WHERE x.user_id = u.id)""",
    """INSERT INTO contact (first_name, last_name, username, language, notify_by_email, portal_state, user_id,
           created_on, pin_hash, pin_changed_on)
       SELECT 'Load', 'User ' || i, 'bench.load' || i, 'en', true, 'active', u.id, now(), :pin, now()
       FROM generate_series(1, :n) i JOIN ab_user u ON u.username = 'bench.load' || i
       ON CONFLICT DO NOTHING""",
    """INSERT INTO contact_email (contact_id, email, is_primary)
       SELECT c.id, c.username || '@bench.example', true FROM contact c WHERE c.username LIKE 'bench.load%'
       ON CONFLICT DO NOTHING""",
    """INSERT INTO entity_share (entity_id, role_id, contact_id, created_on)
       SELECT e.id, r.id, c.id, now() FROM contact c, entity e, ab_role r
       WHERE c.username LIKE 'bench.load%' AND e.name = :entity AND r.name = 'Entity Collaborator'
       ON CONFLICT DO NOTHING""",
    """INSERT INTO task (entity_id, kind, title, deadline, staff_status, portal_state, assigned_on, client_status,
           auto_complete, created_on)
       SELECT e.id, 'task', 'Load task for ' || c.username, current_date + 10, 'open', 'assigned', now(), 'pending',
           false, now()
       FROM contact c JOIN entity e ON e.name = :entity
       WHERE c.username LIKE 'bench.load%' AND NOT EXISTS (SELECT 1 FROM task_assignee a WHERE a.contact_id = c.id)""",
    """INSERT INTO task_assignee (task_id, contact_id)
       SELECT t.id, c.id FROM task t JOIN contact c ON t.title = 'Load task for ' || c.username
       WHERE c.username LIKE 'bench.load%' ON CONFLICT DO NOTHING""",
]
