"""The two marks an outbox mail gets around its hand-off to the SMTP server: "sending" (committed
before the hand-off) and "sent" (with the next mark), one UPDATE per mail.

On PostgreSQL the marks go through a connection of their own in autocommit, with
synchronous_commit off: one round trip per mail instead of four (BEGIN, SET, UPDATE, COMMIT), and no
wait for the disk (2 ms here, more than a mail takes to send). A killed worker loses no mark (the
server has the commit); a crash of the database server may lose the last ones, which the sweep then
treats as unknown (app.services.delivery_sweep). The session never holds uncommitted writes to the
rows when a mark is written, so the two connections cannot wait on each other."""
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.models.notifications import NotificationState

SENDING, PENDING = NotificationState.sending, NotificationState.pending
_SENT = text("UPDATE notification SET state = 'sent', claim_token = NULL, claimed_until = NULL "
             "WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
_SENDING = text("UPDATE notification SET state = 'sending', sent_on = :now "
                "WHERE id IN :ids AND claim_token = :token AND state = 'pending'").bindparams(
    bindparam("ids", expanding=True))
# The previous mail's "sent" and this mail's "sending" in one statement (SET reads the old row).
_SENT_AND_SENDING = text(
    "UPDATE notification SET state = CASE WHEN state = 'sending' THEN 'sent' ELSE 'sending' END, "
    "sent_on = CASE WHEN state = 'sending' THEN sent_on ELSE :now END, "
    "claim_token = CASE WHEN state = 'sending' THEN NULL ELSE claim_token END, "
    "claimed_until = CASE WHEN state = 'sending' THEN NULL ELSE claimed_until END "
    "WHERE (id IN :sent AND state = 'sending') OR (id IN :ids AND claim_token = :token AND state = 'pending')"
).bindparams(bindparam("sent", expanding=True), bindparam("ids", expanding=True))
_UNDO_SENDING = text("UPDATE notification SET state = 'pending' "
                     "WHERE id IN :ids AND claim_token = :token AND state = 'sending'").bindparams(
    bindparam("ids", expanding=True))


def record_sent(delivered):
    """Write "sent" for the mails handed over since the last mark (the caller commits the session)."""
    if delivered:
        db.session.connection().execute(_SENT, {"ids": [r.id for r in delivered]})
        _sent_in_memory(delivered)


def _sent_in_memory(delivered):
    for row in delivered:
        set_committed_value(row, "state", NotificationState.sent)
    delivered.clear()


def mark_sending(group, delivered):
    """In one committed statement: the previous mails' "sent" and this mail's "sending" (only if the
    rows are still ours). Returns whether they were."""
    params = {"ids": [r.id for r in group], "token": group[0].claim_token, "now": datetime.now()}
    own = _own_connection()
    connection = own or db.session.connection()
    if delivered:
        sent = [r.id for r in delivered]
        done = connection.execute(_SENT_AND_SENDING, dict(params, sent=sent)).rowcount - len(sent)
        _sent_in_memory(delivered)
    else:
        done = connection.execute(_SENDING, params).rowcount
    if done != len(group):  # the lease ran out and another worker took some: leave the mail to it
        connection.execute(_UNDO_SENDING, params)
    if own is None:
        db.session.commit()
    for row in group:  # what the UPDATE wrote, so the ORM writes every later change of state
        set_committed_value(row, "state", SENDING if done == len(group) else PENDING)
    return done == len(group)


def _own_connection():
    """PostgreSQL: the marks' autocommit connection, opened at the first mark of this session; None
    elsewhere (SQLite commits a mark as cheaply on the session's own connection)."""
    if db.engine.dialect.name != "postgresql":
        return None
    connection = db.session.info.get("delivery_marks")
    if connection is None:
        connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("SET synchronous_commit TO OFF")
        db.session.info["delivery_marks"] = connection
    return connection


def close():
    """Give the marks' connection back to the pool, as it was (called when a drain ends)."""
    connection = db.session.info.pop("delivery_marks", None)
    if connection is not None:
        try:
            connection.exec_driver_sql("RESET synchronous_commit")
        finally:
            connection.close()
