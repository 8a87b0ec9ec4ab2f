"""Build a large firm on PostgreSQL with set-based SQL (INSERT ... SELECT generate_series), for bench/scale.py.

Row ids are explicit (1..n per table) so that rows can point at each other arithmetically; the
sequences are moved past them at the end. Staff and the portal contact's account go through the
security manager (a handful of rows, real password and PIN hashes); everything else is SQL.
"""
import time
from datetime import date

from sqlalchemy import text

DEFAULTS = {"entities": 100_000, "contacts": 150_000, "shares": 290_000, "documents": 1_000_000,
            "tasks": 300_000, "messages": 1_000_000, "notifications": 500_000, "series": 30_000,
            "requests": 50_000, "vouchers": 100_000, "events": 300_000}
STAFF, SCOPED = 50, 40
PORTAL = {"documents": 5_000, "tasks": 500, "thread": 3_000}
PASSWORD = "bench-password-2026"
PIN = "135790"
PORTAL_EMAIL = "bench.portal@bench.example"
WORDS = ("'{Alder,Birch,Cedar,Delta,Ember,Falcon,Granite,Harbor,Iris,Juniper,Kestrel,Linden,Maple,"
         "Nordic,Oak,Pine,Quarry,Raven,Summit,Tundra,Union,Vale,Willow,Yarrow,Zenith,Atlas}'::text[]")
DOMAIN_TABLES = ("message_attachment", "message", "task_assignee", "checklist_item", "file_request_answer",
                 "task_attachment", "client_request_attachment", "client_request", "task", "task_series",
                 "document_version", "document", "folder", "notification", "activity_event", "tax_voucher",
                 "k1_recipient", "entity_share", "contact_group_member", "contact_email", "access_code",
                 "trusted_device", "notification_preference", "contact", "entity")


def sizes(factor):
    """The row counts at `factor` times the defaults (at least a few rows each)."""
    return {k: max(int(v * factor), 20) for k, v in DEFAULTS.items()}


def _word(expr):
    return f"({WORDS})[1 + ({expr}) % 26]"


def build(app, factor, log=print):
    """Empty the domain tables, then fill them; returns the sizes used."""
    from app.extensions import db

    n = sizes(factor)
    with app.app_context():
        staff_ids = _staff(app)
        conn = db.session.connection()
        conn.execute(text("SET statement_timeout = 0"))  # the timeout is for the pages, not the build
        conn.execute(text("TRUNCATE " + ", ".join(DOMAIN_TABLES) + " RESTART IDENTITY CASCADE"))
        roles = dict(conn.execute(text("SELECT name, id FROM ab_role")).all())
        params = dict(n, today=date.today(), staff_lo=min(staff_ids), staff_hi=max(staff_ids),
                      scoped_lo=staff_ids[-SCOPED], owner=roles["Owner"], viewer=roles["Viewer"],
                      access=roles["Entity Access"], collab=roles["Entity Collaborator"], nstaff=len(staff_ids))
        for label, sql in _steps(n):
            started = time.perf_counter()
            conn.execute(text(sql), params)
            log(f"  {label:<28} {time.perf_counter() - started:6.1f} s")
        _sequences(conn)
        db.session.commit()
        _portal_contact(app, n)
        conn = db.session.connection()
        conn.execute(text("SET statement_timeout = 0"))
        _sequences(conn)
        started = time.perf_counter()
        conn.execute(text("ANALYZE"))
        db.session.commit()
        log(f"  {'analyze':<28} {time.perf_counter() - started:6.1f} s")
    return n


def _staff(app):
    """50 staff: 4 Admins, 3 Staff Admins, 3 Entities Admins and 40 scoped Staff (bench.staffNN)."""
    from app.extensions import db
    from app.security import roles as R

    sm = app.appbuilder.sm
    plan = [R.ADMIN] * 4 + [R.STAFF_ADMIN] * 3 + [R.ENTITIES_ADMIN] * 3 + [R.STAFF] * SCOPED
    ids = []
    for i, role_name in enumerate(plan, 1):
        username = f"bench.staff{i:02d}"
        user = sm.find_user(username=username) or sm.add_user(
            username, "Bench", f"Staff{i:02d}", f"{username}@firm.example", sm.find_role(role_name), password=PASSWORD)
        ids.append(user.id)
    db.session.commit()
    return ids


def _steps(n):
    """(label, SQL) in dependency order; :params come from build()."""
    staff = "(:staff_lo + ({}) % :nstaff)"
    scoped = "(:scoped_lo + ({}) % 40)"
    return [
        ("entities", f"""INSERT INTO entity (id, name, kind, tax_id, status, responsible_id, created_on)
            SELECT i, {_word('i')} || ' ' || {_word('i / 26')} || ' ' || i ||
                   (ARRAY[' LLC',' Inc',' LP',' Trust',''])[1 + i % 5],
                   (ARRAY['individual','company','partnership','s_corp','trust'])[1 + i % 5],
                   lpad((i * 7919 % 1000000000)::text, 9, '0'), 'active', {scoped.format('i')},
                   now() - (i % 1500) * interval '1 day'
            FROM generate_series(1, :entities) i"""),
        ("contacts", f"""INSERT INTO contact (id, first_name, last_name, username, language, notify_by_email,
                   portal_state, created_on)
            SELECT i, {_word('i * 3')}, {_word('i * 7')} || 'son', 'bench.c' || i, 'en', true,
                   CASE WHEN i % 3 = 0 THEN 'active' ELSE 'invited' END, now() - (i % 900) * interval '1 day'
            FROM generate_series(1, :contacts) i"""),
        ("contact e-mails", """INSERT INTO contact_email (id, contact_id, email, is_primary)
            SELECT i, i, 'c' || i || '@bench.example', true FROM generate_series(1, :contacts) i"""),
        ("staff shares (Viewer)", f"""INSERT INTO entity_share (entity_id, role_id, user_id, created_on)
            SELECT i, :viewer, {scoped.format('i')}, now() FROM generate_series(1, :entities) i"""),
        ("contact shares", """INSERT INTO entity_share (entity_id, role_id, contact_id, created_on)
            SELECT 1 + (i - 1) % :entities, CASE WHEN i % 2 = 0 THEN :access ELSE :collab END,
                   1 + (i - 1) % :contacts, now()
            FROM generate_series(1, greatest(:shares - :entities, 1)) i"""),
        ("folders", """INSERT INTO folder (id, entity_id, parent_id, name, created_on)
            SELECT i, 1 + (i - 1) / 2, NULL, (ARRAY['Tax returns','Bank statements'])[1 + i % 2], now()
            FROM generate_series(1, :entities * 2) i"""),
        ("documents", f"""INSERT INTO document (id, entity_id, folder_id, name, file_type, mime, size, sha256,
                   direction, status, visibility, version_count, created_on, updated_on, created_by_id)
            SELECT i, e, CASE WHEN i % 3 = 0 THEN NULL ELSE 2 * e - i % 2 END,
                   {_word('i')} || ' ' || (ARRAY['invoice','statement','return','receipt','W-2','1099'])[1 + i % 6]
                   || ' ' || i || '.pdf', 'pdf', 'application/pdf', 1000 + i % 500000, md5(i::text) || md5(i::text),
                   CASE WHEN i % 2 = 0 THEN 'from_firm' ELSE 'from_client' END,
                   (ARRAY['received','reviewed','awaiting_signature','signed'])[1 + i % 4],
                   CASE WHEN i % 4 = 0 THEN 'staff_only' ELSE 'portal' END, 1,
                   now() - (i % 1100) * interval '1 day' - (i % 86400) * interval '1 second',
                   now() - (i % 1100) * interval '1 day', {staff.format('i')}
            FROM (SELECT i, 1 + (i - 1) % :entities AS e FROM generate_series(1, :documents) i) s"""),
        ("document versions", """INSERT INTO document_version (id, document_id, number, storage_key, original_name,
                   file_type, mime, size, sha256, uploaded_on)
            SELECT id, id, 1, 'bench/' || id, name, file_type, mime, size, sha256, created_on FROM document"""),
        ("task series", """INSERT INTO task_series (id, entity_id, title, start, frequency, "interval", created_on)
            SELECT i, 1 + (i - 1) % :entities, 'Monthly bookkeeping ' || i, :today - 400 + i % 365,
                   'monthly', 1, now() FROM generate_series(1, :series) i"""),
        ("tasks", f"""INSERT INTO task (id, entity_id, kind, title, deadline, responsible_id, staff_status,
                   portal_state, assigned_on, client_status, auto_complete, series_id, occurrence, created_on)
            SELECT i, e, CASE WHEN i % 5 = 0 THEN 'file_request' ELSE 'task' END,
                   {_word('i * 5')} || ' ' || (ARRAY['return','payroll','bookkeeping','audit'])[1 + i % 4] || ' ' || i,
                   :today - 300 + (i * 37) % 420, {scoped.format('e')},
                   CASE WHEN i % 3 = 0 THEN 'done' ELSE 'open' END,
                   CASE WHEN i % 2 = 0 THEN 'assigned' ELSE 'not_assigned' END,
                   CASE WHEN i % 2 = 0 THEN now() - interval '10 days' END,
                   CASE WHEN i % 6 = 0 THEN 'done' ELSE 'pending' END, false,
                   CASE WHEN i <= :series THEN i END, CASE WHEN i <= :series THEN 1 END, now() - (i % 700) * interval '1 day'
            FROM (SELECT i, 1 + (i - 1) % :entities AS e FROM generate_series(1, :tasks) i) s"""),
        ("series deadlines", """UPDATE task SET deadline = :today + 1 + id % 60
            WHERE series_id IS NOT NULL AND id % 100 <> 0"""),
        ("task assignees", """INSERT INTO task_assignee (task_id, contact_id)
            SELECT t.id, s.contact_id FROM task t JOIN entity_share s ON s.entity_id = t.entity_id
            WHERE t.portal_state = 'assigned' AND s.contact_id IS NOT NULL"""),
        ("client requests", """INSERT INTO client_request (id, entity_id, contact_id, subject, body, status, created_on)
            SELECT i, 1 + (i - 1) % :entities, 1 + (i - 1) % :entities, 'Question ' || i, 'Body of request ' || i,
                   (ARRAY['new','open','closed'])[1 + i % 3], now() - (i % 500) * interval '1 day'
            FROM generate_series(1, :requests) i"""),
        ("messages", f"""INSERT INTO message (id, task_id, request_id, kind, body, author_user_id, author_contact_id,
                   created_on)
            SELECT i, CASE WHEN i % 5 <> 0 THEN 1 + (i - 1) % :tasks END,
                   CASE WHEN i % 5 = 0 THEN 1 + (i - 1) % :requests END,
                   (ARRAY['portal','internal','email','portal'])[1 + i % 4], 'Message body ' || i,
                   CASE WHEN i % 2 = 0 THEN {staff.format('i')} END,
                   CASE WHEN i % 2 = 1 THEN 1 + (i - 1) % :entities END,
                   now() - (i % 1000) * interval '1 day' - (i % 86400) * interval '1 second'
            FROM generate_series(1, :messages) i"""),
        ("message attachments", """INSERT INTO message_attachment (message_id, document_id)
            SELECT i * 10, i * 10 FROM generate_series(1, least(:messages, :documents) / 10) i"""),
        ("notifications", """INSERT INTO notification (id, recipient_user_id, recipient_contact_id, event, entity_id,
                   object_type, object_id, channel, send_after, state, attempts, sent_on, read_at, idempotency_key,
                   created_on)
            SELECT i, CASE WHEN i % 2 = 0 THEN :staff_lo + i % :nstaff END, CASE WHEN i % 2 = 1 THEN 1 + i % :contacts END,
                   'message_posted', 1 + i % :entities, 'Message', i, CASE WHEN i % 3 = 0 THEN 'email' ELSE 'in_app' END,
                   now() - (i % 400) * interval '1 day', 'sent', 1, now() - (i % 400) * interval '1 day',
                   CASE WHEN i % 10 <> 0 THEN now() END,
                   'message_posted:Message:' || i || ':' || CASE WHEN i % 2 = 0 THEN 'u' ELSE 'c' END || i || ':in_app:',
                   now() - (i % 400) * interval '1 day'
            FROM generate_series(1, :notifications) i"""),
        ("activity events", f"""INSERT INTO activity_event (id, created_on, actor_id, entity_id, verb, object_type,
                   object_id, summary)
            SELECT i, now() - (i % 700) * interval '1 day' - (i % 86400) * interval '1 second', {staff.format('i')},
                   1 + i % :entities, 'document.download', 'Document', i, 'Document ' || i
            FROM generate_series(1, :events) i"""),
        ("tax vouchers", """INSERT INTO tax_voucher (id, entity_id, tax_year, authority, form_period, amount, due_date,
                   status, created_on)
            SELECT i, 1 + (i - 1) % :entities, 2026, 'IRS', '1040-ES Q' || (1 + i % 4), 100 + i % 5000,
                   :today - 100 + i % 365, CASE WHEN i % 3 = 0 THEN 'paid' ELSE 'unpaid' END, now()
            FROM generate_series(1, :vouchers) i"""),
    ]


def _portal_contact(app, n):
    """The bench portal contact: two own entities, 5,000 shared documents, 500 assigned tasks, a
    3,000-message thread (on the first of them)."""
    from app.extensions import db
    from app.models import Contact
    from app.models.contacts import PortalState
    from app.security import roles as R
    from app.services.portal import auth as portal_auth

    sm = app.appbuilder.sm
    contact = Contact(first_name="Bench", last_name="Portal", username="bench.portal")
    contact.primary_email = PORTAL_EMAIL
    contact.user = sm.find_user(username="bench.portal") or sm.add_user(
        "bench.portal", "Bench", "Portal", PORTAL_EMAIL, sm.find_role(R.CLIENT), password=PASSWORD)
    contact.portal_state = PortalState.active
    portal_auth.set_pin(contact, PIN)
    db.session.add(contact)
    db.session.commit()
    roles = dict(db.session.execute(text("SELECT name, id FROM ab_role")).all())
    p = dict(c=contact.id, e1=n["entities"] + 1, collab=roles["Entity Collaborator"], today=date.today(),
             docs=PORTAL["documents"], tasks=PORTAL["tasks"], thread=PORTAL["thread"], t0=n["tasks"],
             d0=n["documents"], m0=n["messages"], f0=n["entities"] * 2, staff=_first_staff(db))
    for sql in _portal_steps():
        db.session.execute(text(sql), p)
    db.session.commit()


def _first_staff(db):
    return db.session.scalar(text("SELECT id FROM ab_user WHERE username = 'bench.staff11'"))


def _portal_steps():
    return [
        """INSERT INTO entity (id, name, kind, status, responsible_id, created_on)
           SELECT :e1 + k, 'Bench Portal Holdings ' || k, 'company', 'active', :staff, now()
           FROM generate_series(0, 1) k""",
        """INSERT INTO entity_share (entity_id, role_id, contact_id, created_on)
           SELECT :e1 + k, :collab, :c, now() FROM generate_series(0, 1) k""",
        """INSERT INTO folder (id, entity_id, name, created_on) SELECT :f0 + k, :e1 + k % 2,
           (ARRAY['2024','2025','2026','Payroll'])[1 + (k - 1) / 2], now() FROM generate_series(1, 8) k""",
        """INSERT INTO document (id, entity_id, folder_id, name, file_type, mime, size, sha256, direction, status,
               visibility, version_count, created_on, updated_on)
           SELECT :d0 + i, :e1 + i % 2, CASE WHEN i % 5 = 0 THEN NULL ELSE :f0 + 1 + i % 8 END,
               'Portal statement ' || i || '.pdf', 'pdf', 'application/pdf', 2000 + i, md5(i::text) || md5(i::text),
               'from_firm', 'received', 'portal', 1, now() - i * interval '1 hour', now()
           FROM generate_series(1, :docs) i""",
        """INSERT INTO document_version (id, document_id, number, storage_key, original_name, file_type, mime,
               size, sha256, uploaded_on)
           SELECT id, id, 1, 'bench/' || id, name, file_type, mime, size, sha256, created_on FROM document
           WHERE id > :d0""",
        """INSERT INTO task (id, entity_id, kind, title, deadline, responsible_id, staff_status, portal_state,
               assigned_on, client_status, auto_complete, created_on)
           SELECT :t0 + i, :e1 + i % 2, 'task', 'Portal task ' || i, :today + i % 90 - 30, :staff,
               'open', 'assigned', now() - interval '1 day', CASE WHEN i % 4 = 0 THEN 'done' ELSE 'pending' END,
               false, now() - i * interval '1 hour'
           FROM generate_series(1, :tasks) i""",
        """INSERT INTO task_assignee (task_id, contact_id) SELECT :t0 + i, :c FROM generate_series(1, :tasks) i""",
        """INSERT INTO message (id, task_id, kind, body, author_user_id, author_contact_id, created_on)
           SELECT :m0 + i, :t0 + 1, 'portal', 'Thread message ' || i, CASE WHEN i % 2 = 0 THEN :staff END,
               CASE WHEN i % 2 = 1 THEN :c END, now() - (:thread - i) * interval '1 minute'
           FROM generate_series(1, :thread) i""",
    ]


def _sequences(conn):
    """Move the sequences past the explicit ids."""
    for table in ("entity", "contact", "contact_email", "entity_share", "folder", "document", "document_version",
                  "task_series", "task", "client_request", "message", "notification", "activity_event",
                  "tax_voucher"):
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                          f"greatest((SELECT max(id) FROM {table}), 1))"))
