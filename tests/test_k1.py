"""K-1 distribution, staff and portal side: partners only for partnerships, S-corps and trusts, K-1
documents of the same entity, distribution by Entity Collaborators only (403 for Entity Access, 404
for another entity's partners), link mails without codes, bounces, secrets out of jobs and logs,
and a fixed number of queries."""
import io
import logging
import re
import smtplib
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask_appbuilder.security.sqla.models import User
from rq import SimpleWorker
from sqlalchemy import func, insert, select
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.jobs import queue
from app.models import ActivityEvent, Document, K1Recipient, K1Status
from app.models.documents import Visibility
from app.models.entities import EntityKind
from app.redis_conn import get_redis
from app.security import roles as R
from app.services import access_codes, documents
from app.services import k1 as k1_service
from tests import factories as f
from tests.conftest import csrf_token
from tests.documents_helpers import PDF

PAGE = "/portal/k1"
ADD = "/k1recipientview/add"
LIST = "/k1recipientview/list/"
pytestmark = pytest.mark.usefixtures("fresh_redis")

def k1_pdf(entity, user, name, visibility=Visibility.staff_only):
    """A real PDF document of `entity` (staff only unless told)."""
    return documents.upload(entity, FileStorage(io.BytesIO(PDF), name), user, visibility=visibility)


def partner(entity, name, document=None, share="25"):
    """A K-1 recipient of `entity`."""
    row = K1Recipient(entity=entity, name=name, email=f"{name.split()[0].lower()}@partners.example",
                      share=Decimal(share), document=document)
    db.session.add(row)
    db.session.commit()
    return row


def build(app):
    """A partnership with two partners with K-1s and one without; a collaborator, a reader; another
    partnership (its own collaborator and partner); a company."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        lp = f.entity("Harbor LP", kind=EntityKind.partnership, responsible=accountant)
        other = f.entity("Other LP", kind=EntityKind.partnership, responsible=accountant)
        company = f.entity("Plain Co", kind=EntityKind.company, responsible=accountant)
        ids = SimpleNamespace(accountant=accountant.id, lp=lp.id, other=other.id, company=company.id)
        ids.cora = f.portal_contact(lp, first="Cora").id
        ids.rhea = f.portal_contact(lp, R.ENTITY_ACCESS, first="Rhea").id
        ids.fred = f.portal_contact(other, first="Fred").id
        ids.doc_ann = k1_pdf(lp, accountant, "K-1 2025 Ann secret-name.pdf").id
        ids.doc_bob = k1_pdf(lp, accountant, "K-1 2025 Bob.pdf").id
        ids.doc_other = k1_pdf(other, accountant, "K-1 2025 Olga.pdf").id
        ids.ann = partner(lp, "Ann Archer", db.session.get(Document, ids.doc_ann), "60").id
        ids.bob = partner(lp, "Bob Baker", db.session.get(Document, ids.doc_bob), "39.5").id
        ids.nora = partner(lp, "Nora Nodoc", None, "0.5").id
        ids.olga = partner(other, "Olga Other", db.session.get(Document, ids.doc_other), "100").id
        return ids


@pytest.fixture
def lp(app):
    """The partnership of `build`."""
    return build(app)


def run_jobs(app):
    """Run the queued mail jobs with a real rq worker, in this process."""
    with app.app_context():
        SimpleWorker([queue()], connection=get_redis()).work(burst=True)


def distribute(app, user_id, *recipient_ids):
    """Distribute through the service as `user_id`, then run the mail jobs."""
    with app.app_context():
        user = db.session.get(User, user_id)
        rows = [db.session.get(K1Recipient, rid) for rid in recipient_ids]
        k1_service.distribute(rows, user)
    run_jobs(app)


def mails_to(smtp, address):
    """(subject, plain text, html) of the mails `address` received, oldest first."""
    return [(m["Subject"], m.get_body(("plain",)).get_content(), m.get_body(("html",)).get_content())
            for m in smtp.messages if m["To"] == address]


def link_token(smtp, address):
    """The token of the latest K-1 link mailed to `address`."""
    tokens = [t for _, text, _ in mails_to(smtp, address) for t in re.findall(r"/k1/([A-Za-z0-9_-]{20,})", text)]
    assert tokens, f"no K-1 link mailed to {address}"
    return tokens[-1]


def row(app, rid):
    """A fresh copy of one recipient."""
    with app.app_context():
        item = db.session.get(K1Recipient, rid)
        db.session.expunge(item)
        return item


def page_token(client, path):
    """The CSRF token of any form on a page (WTForms' or a plain hidden input)."""
    body = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


# --- staff screens -------------------------------------------------------------------------------


def _add(client, **data):
    data.setdefault("csrf_token", csrf_token(client, ADD))
    data.setdefault("document", "__None")
    return client.post(ADD, data=data)


def _refused(response):
    """A 200 page with a form error (a forged choice reads as missing)."""
    body = response.get_data(as_text=True)
    return response.status_code == 200 and ("This field is required." in body or "Not a valid choice" in body)


def _count(app, **where):
    with app.app_context():
        return db.session.scalar(select(func.count(K1Recipient.id)).filter_by(**where))


def test_staff_adds_a_partner_with_a_k1_of_the_same_entity(app, client, login, lp):
    """Staff with the work right add a partner (name, e-mail, share, the entity's own K-1)."""
    login(client, lp.accountant)
    response = _add(client, entity=lp.lp, name="Cy Cole", email="cy@partners.example", share="12.3456",
                    document=lp.doc_bob)
    assert response.status_code == 302
    with app.app_context():
        item = db.session.scalar(select(K1Recipient).where(K1Recipient.name == "Cy Cole"))
        assert (item.entity_id, item.document_id, item.share, item.status) == \
            (lp.lp, lp.doc_bob, Decimal("12.3456"), K1Status.not_sent)
        assert db.session.scalar(select(ActivityEvent.verb).where(ActivityEvent.object_id == item.id)) == \
            "k1.partner_added"
    show = client.get(f"/k1recipientview/show/{item.id}").get_data(as_text=True)
    assert "Cy Cole" in show and "12.3456 %" in show and "Not sent" in show


def test_staff_cannot_add_a_partner_to_a_company_or_individual(app, client, login, lp):
    """A company (or individual) issues no K-1s: not offered, and a forged post is a form error."""
    with app.app_context():
        person = f.entity("Pat Person", kind=EntityKind.individual, responsible=db.session.get(
            User, lp.accountant)).id
    login(client, lp.accountant)
    form = client.get(ADD).get_data(as_text=True)
    assert "Harbor LP" in form and "Plain Co" not in form and "Pat Person" not in form
    for entity_id in (lp.company, person):
        assert _refused(_add(client, entity=entity_id, name="Cy Cole", email="cy@partners.example", share="10"))
    assert _count(app, name="Cy Cole") == 0


@pytest.mark.parametrize("kind, allowed", [
    (EntityKind.partnership, True), (EntityKind.s_corp, True), (EntityKind.trust, True),
    (EntityKind.company, False), (EntityKind.individual, False), (EntityKind.non_profit, False)])
def test_kind_rule_holds_beyond_the_choices(app, ctx, kind, allowed):
    """The service takes partners of partnerships, S-corps and trusts only, whatever a screen lets through."""
    item = K1Recipient(entity=f.entity(kind=kind), name="X", email="x@partners.example")
    if allowed:
        k1_service.check_recipient(item)
    else:
        with pytest.raises(k1_service.K1Error):
            k1_service.check_recipient(item)
    db.session.rollback()


def test_k1_document_of_another_entity_is_refused(app, client, login, lp):
    """Add and edit refuse a K-1 document that belongs to another entity."""
    login(client, lp.accountant)
    response = _add(client, entity=lp.lp, name="Cy Cole", email="cy@partners.example", share="10",
                    document=lp.doc_other)
    assert response.status_code == 200
    assert "Choose one of this entity" in response.get_data(as_text=True)
    assert _count(app, name="Cy Cole") == 0
    edit = f"/k1recipientview/edit/{lp.ann}"
    assert "Olga" not in client.get(edit).get_data(as_text=True)  # only the entity's own documents offered
    response = client.post(edit, data={"csrf_token": csrf_token(client, edit), "name": "Ann Archer",
                                       "email": "ann@partners.example", "share": "60", "document": lp.doc_other})
    assert response.status_code == 200
    assert row(app, lp.ann).document_id == lp.doc_ann


@pytest.mark.parametrize("share, message", [
    ("150", "between 0 and 100"), ("-1", "between 0 and 100"), ("12.34567", "at most 4 decimals"),
    ("abc", "Not a valid decimal value"), ("sNaN", "Enter the share as a number"),
    ("Infinity", "Enter the share as a number")])
def test_share_must_be_a_percentage_with_four_decimals(app, client, login, lp, share, message):
    """Out of range, too precise or not a number: a form error, never a 500 or a row."""
    login(client, lp.accountant)
    response = _add(client, entity=lp.lp, name="Cy Cole", email="cy@partners.example", share=share)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert _count(app, name="Cy Cole") == 0


def test_partner_email_is_validated(app, client, login, lp):
    """A partner's e-mail must look like an address."""
    login(client, lp.accountant)
    response = _add(client, entity=lp.lp, name="Cy Cole", email="not-an-address", share="1")
    assert response.status_code == 200 and "name@example.com" in response.get_data(as_text=True)
    assert _count(app, name="Cy Cole") == 0


def test_staff_without_the_work_right_cannot_add_or_change(app, client, login, lp):
    """A Staff Admin (read only) reaches no add form; another accountant gets 404 on a foreign partner."""
    with app.app_context():
        admin = f.staff(R.STAFF_ADMIN).id
        stranger = f.staff(R.STAFF).id
    login(client, admin)
    assert client.get(LIST).status_code == 200
    assert client.get(ADD).status_code in (302, 403)  # no add permission
    login(client, stranger)
    assert "Ann Archer" not in client.get(LIST).get_data(as_text=True)
    assert client.get(f"/k1recipientview/edit/{lp.ann}").status_code == 404
    assert _refused(_add(client, entity=lp.lp, name="Cy Cole", email="cy@partners.example", share="1"))
    assert _count(app, name="Cy Cole") == 0


def _bulk_partners(entity_id, n, start=0):
    db.session.execute(insert(K1Recipient), [
        {"entity_id": entity_id, "name": f"Bulk partner {i:04d}", "email": f"bulk{i}@partners.example",
         "share": Decimal("0.01"), "status": K1Status.not_sent, "created_on": datetime(2025, 1, 1)}
        for i in range(start, start + n)])
    db.session.commit()


def test_staff_list_query_count_does_not_grow(app, client, login, count_queries, lp):
    """The staff list runs as many queries with 10 partners as with 1,000."""
    def measure():
        with count_queries() as n:
            assert client.get(LIST).status_code == 200
        return n()

    with app.app_context():
        _bulk_partners(lp.lp, 10)
    login(client, lp.accountant)
    small = measure()
    with app.app_context():
        _bulk_partners(lp.lp, 990, start=10)
    assert measure() == small


# --- service: links, mails, bounces --------------------------------------------------------------


def test_distribute_stores_only_the_hash_and_mails_the_link_without_a_code(app, smtp, lp):
    """The row keeps sha256(token); the mail names firm and entity, has the link and no code."""
    distribute(app, lp.accountant, lp.ann)
    token = link_token(smtp, "ann@partners.example")
    item = row(app, lp.ann)
    assert item.link_hash == k1_service.token_hash(token) and token not in item.link_hash
    assert item.status is K1Status.sent and item.sent_by_id == lp.accountant
    assert (item.link_expires_on - item.sent_on).days == 30
    [(subject, text, html)] = mails_to(smtp, "ann@partners.example")
    assert "Harbor LP" in subject and "Harbor LP" in text and f"/k1/{token}" in html
    assert not re.search(r"\b\d{8}\b", text)
    with app.app_context():
        assert get_redis().get(f"portico:k1-link:{lp.ann}") is None  # the token left Redis once mailed


def test_link_lifetime_follows_the_firm_setting(app, smtp, lp):
    """Links last FirmSettings.k1_link_days."""
    with app.app_context():
        from app.services.firm import get_settings

        get_settings().k1_link_days = 7
        db.session.commit()
    distribute(app, lp.accountant, lp.bob)
    item = row(app, lp.bob)
    assert (item.link_expires_on - item.sent_on).days == 7


def test_token_never_reaches_job_arguments_or_logs(app, smtp, caplog, monkeypatch, lp):
    """The queued job holds only the partner id; no log line (worker included) holds the token."""
    worker_log = logging.getLogger("rq.worker")  # alembic's fileConfig disables it; rq stops its propagation
    monkeypatch.setattr(worker_log, "disabled", False)
    monkeypatch.setattr(worker_log, "propagate", True)
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        user = db.session.get(User, lp.accountant)
        k1_service.distribute([db.session.get(K1Recipient, lp.ann)], user)
        jobs = queue().jobs
        token = get_redis().get(f"portico:k1-link:{lp.ann}").decode()
    assert [(j.func_name, j.args, j.kwargs) for j in jobs] == [("app.jobs.send_k1_link", (lp.ann,), {})]
    assert all(token not in repr(j.args) + repr(j.kwargs) + (j.description or "") for j in jobs)
    run_jobs(app)
    assert link_token(smtp, "ann@partners.example") == token
    text = caplog.text + " ".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert "send_k1_link" in text or "send K-1 link" in text  # the worker did log its job
    assert token not in text


def test_a_partner_without_a_k1_cannot_be_sent(app, smtp, lp):
    """Distribution with a partner lacking a K-1 is refused whole: nothing changes, nothing is queued."""
    with app.app_context():
        user = db.session.get(User, lp.accountant)
        with pytest.raises(k1_service.K1Error, match="Nora Nodoc"):
            k1_service.distribute([db.session.get(K1Recipient, lp.ann), db.session.get(K1Recipient, lp.nora)],
                                  user)
        assert queue().count == 0
    assert row(app, lp.ann).status is K1Status.not_sent and row(app, lp.ann).link_hash is None


def test_redis_down_sends_nothing_and_changes_nothing(app, monkeypatch, lp):
    """Without Redis to carry the tokens, distribution is refused whole and no link is stored."""
    from redis.exceptions import ConnectionError as RedisDown

    class DeadPipe:
        def set(self, *args, **kwargs):
            return self

        def execute(self):
            raise RedisDown("down")

    monkeypatch.setattr(k1_service, "get_redis", lambda: SimpleNamespace(pipeline=DeadPipe))
    with app.app_context():
        with pytest.raises(k1_service.K1Error, match="Nothing was sent"):
            k1_service.distribute([db.session.get(K1Recipient, lp.ann)], db.session.get(User, lp.accountant))
    item = row(app, lp.ann)
    assert (item.status, item.link_hash, item.sent_on) == (K1Status.not_sent, None, None)


def test_refused_address_marks_the_partner_bounced(app, smtp, monkeypatch, lp):
    """When SMTP refuses the partner's address the status becomes bounced."""
    def refuse(to, *args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({to: (550, b"No such user")})

    monkeypatch.setattr("app.mailer.send", refuse)
    distribute(app, lp.accountant, lp.bob)
    assert row(app, lp.bob).status is K1Status.bounced
    with app.app_context():
        assert db.session.scalar(select(func.count(ActivityEvent.id)).where(ActivityEvent.verb == "k1.bounced")) == 1


def test_link_mail_job_is_idempotent_and_rechecks_the_link(app, smtp, lp):
    """A re-run sends nothing; a link revoked or replaced before its mail went out is not mailed."""
    with app.app_context():
        user = db.session.get(User, lp.accountant)
        ann, bob = db.session.get(K1Recipient, lp.ann), db.session.get(K1Recipient, lp.bob)
        k1_service.distribute([ann, bob], user)
        k1_service.revoke(bob, user)
        assert k1_service.send_link(lp.ann) is True
        assert k1_service.send_link(lp.ann) is False
        assert k1_service.send_link(lp.bob) is False
    assert len(mails_to(smtp, "ann@partners.example")) == 1
    assert mails_to(smtp, "bob@partners.example") == []


def test_code_mail_has_the_code_and_no_link(app, smtp, lp):
    """The K-1 access code comes in its own mail: the code, no link."""
    with app.app_context():
        code_id = access_codes.issue("k1", "ann@partners.example", subject_id=lp.ann, ip="198.51.100.9")
    run_jobs(app)
    [(subject, text, html)] = mails_to(smtp, "ann@partners.example")
    assert "K-1" in subject and re.search(r"^\d{8}\r?$", text, re.M)
    assert "/k1/" not in text + html and "<a " not in html
    assert code_id


# --- portal: Distribute K-1s ---------------------------------------------------------------------


def _statuses(app, *ids):
    return [row(app, rid).status for rid in ids]


def test_collaborator_sees_partners_with_status_and_no_staff_only_document_names(client, portal_login, lp):
    """The page lists the entity's partners, shares and statuses; staff-only K-1 names never appear."""
    portal_login(client, lp.cora)
    body = client.get(PAGE).get_data(as_text=True)
    assert "Ann Archer" in body and "ann@partners.example" in body and "60 %" in body and "39.5 %" in body
    assert "Not sent" in body and "No K-1 yet" in body and "Distribute to the selected partners" in body
    assert "secret-name" not in body and "Olga" not in body
    assert 'value="%d"' % lp.nora not in body  # no checkbox for a partner without a K-1
    assert "Distribute K-1s" in client.get("/portal/").get_data(as_text=True)


def test_collaborator_distributes_selected_partners(app, client, portal_login, smtp, lp):
    """Distribute sends each selected partner a link; the others stay not sent."""
    portal_login(client, lp.cora)
    response = client.post(PAGE + "/distribute", data={"csrf_token": page_token(client, PAGE),
                                                       "recipient_id": [str(lp.ann), str(lp.bob)]})
    assert response.status_code == 302
    assert _statuses(app, lp.ann, lp.bob, lp.nora) == [K1Status.sent, K1Status.sent, K1Status.not_sent]
    run_jobs(app)
    assert link_token(smtp, "ann@partners.example") != link_token(smtp, "bob@partners.example")
    body = client.get(PAGE).get_data(as_text=True)
    assert "Sent to 2 partners" in body and "Valid until" in body and "Revoke link" in body


def test_select_all_checks_every_sendable_partner_without_javascript(client, portal_login, lp):
    """"Select all" re-renders the page with every partner that has a K-1 checked."""
    portal_login(client, lp.cora)
    body = client.get(PAGE + "?select=all").get_data(as_text=True)
    assert len(re.findall(r'name="recipient_id" value="\d+" form="k1-distribute" checked', body)) == 2


def test_partner_without_k1_gives_a_clear_message(app, client, portal_login, lp):
    """Posting a partner without a K-1 sends nothing and says who lacks one."""
    portal_login(client, lp.cora)
    client.post(PAGE + "/distribute", data={"csrf_token": page_token(client, PAGE),
                                            "recipient_id": [str(lp.ann), str(lp.nora)]})
    assert "No K-1 document yet for: Nora Nodoc" in client.get(PAGE).get_data(as_text=True)
    assert _statuses(app, lp.ann, lp.nora) == [K1Status.not_sent, K1Status.not_sent]


def test_entity_access_contact_reads_but_cannot_distribute(app, client, portal_login, lp):
    """Entity Access: the list with an explanation, no buttons, no partner addresses or shares; every POST is
    403 and changes nothing."""
    distribute(app, lp.accountant, lp.bob)
    portal_login(client, lp.rhea)
    body = client.get(PAGE).get_data(as_text=True)
    assert "Ann Archer" in body and "does not include sending them" in body
    assert "@partners.example" not in body and "Ownership share" not in body and "39.5 %" not in body
    assert "Distribute to the selected" not in body and "Revoke link" not in body and 'name="recipient_id"' not in body
    token = page_token(client, PAGE)
    assert client.post(PAGE + "/distribute", data={"csrf_token": token, "recipient_id": str(lp.ann)}).status_code == 403
    assert client.post(f"{PAGE}/{lp.ann}/resend", data={"csrf_token": token}).status_code == 403
    assert client.post(f"{PAGE}/{lp.bob}/revoke", data={"csrf_token": token}).status_code == 403
    assert _statuses(app, lp.ann, lp.bob) == [K1Status.not_sent, K1Status.sent]
    assert row(app, lp.bob).link_revoked_on is None
    portal_login(client, lp.cora)  # the collaborator who distributes sees addresses and shares
    body = client.get(PAGE).get_data(as_text=True)
    assert "ann@partners.example" in body and "Ownership share" in body and "39.5 %" in body


def test_contact_of_another_entity_gets_404_for_these_partners(app, client, portal_login, lp):
    """Fred (collaborator of Other LP) posting Harbor LP's partner ids: 404, even mixed with his own."""
    portal_login(client, lp.fred)
    token = page_token(client, PAGE)
    assert "Ann Archer" not in client.get(PAGE).get_data(as_text=True)
    for ids in ([str(lp.ann)], [str(lp.olga), str(lp.ann)], ["abc"], [str(2**70)]):
        assert client.post(PAGE + "/distribute", data={"csrf_token": token, "recipient_id": ids}).status_code == 404
    assert client.post(f"{PAGE}/{lp.ann}/resend", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{PAGE}/{lp.ann}/revoke", data={"csrf_token": token}).status_code == 404
    assert _statuses(app, lp.ann, lp.olga) == [K1Status.not_sent, K1Status.not_sent]


def test_portal_posts_without_csrf_are_400(app, client, portal_login, lp):
    """Distribute, resend and revoke refuse a POST without the CSRF token."""
    distribute(app, lp.accountant, lp.bob)
    portal_login(client, lp.cora)
    assert client.post(PAGE + "/distribute", data={"recipient_id": str(lp.ann)}).status_code == 400
    assert client.post(f"{PAGE}/{lp.ann}/resend").status_code == 400
    assert client.post(f"{PAGE}/{lp.bob}/revoke").status_code == 400
    assert _statuses(app, lp.ann) == [K1Status.not_sent] and row(app, lp.bob).link_revoked_on is None


def test_revoke_and_resend_from_the_portal(app, client, portal_login, smtp, lp):
    """Revoke kills the link; Resend gives a new link and kills the old one."""
    distribute(app, lp.accountant, lp.ann)
    first = link_token(smtp, "ann@partners.example")
    portal_login(client, lp.cora)
    token = page_token(client, PAGE)
    assert client.post(f"{PAGE}/{lp.ann}/revoke", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert k1_service.find_by_token(first) is None
    assert "Revoked" in client.get(PAGE).get_data(as_text=True)
    assert client.post(f"{PAGE}/{lp.ann}/resend", data={"csrf_token": token}).status_code == 302
    run_jobs(app)
    second = link_token(smtp, "ann@partners.example")
    with app.app_context():
        assert second != first and k1_service.find_by_token(first) is None
        assert k1_service.find_by_token(second).id == lp.ann
        verbs = db.session.scalars(select(ActivityEvent.verb).where(ActivityEvent.object_id == lp.ann,
                                                                    ActivityEvent.verb.like("k1.%"))).all()
    assert sorted(verbs) == ["k1.revoked", "k1.sent", "k1.sent"]


def test_k1_events_stay_out_of_recent_activity(app, client, portal_login, lp):
    """Sending K-1s does not show up in the portal home's "Recent activity"."""
    portal_login(client, lp.cora)
    client.post(PAGE + "/distribute", data={"csrf_token": page_token(client, PAGE), "recipient_id": str(lp.ann)})
    body = client.get("/portal/").get_data(as_text=True)
    assert "Ann Archer" not in body


def test_portal_page_query_count_does_not_grow(app, client, portal_login, count_queries, lp):
    """/portal/k1 runs as many queries with 10 partners as with 1,000."""
    def measure():
        with count_queries() as n:
            assert client.get(PAGE).status_code == 200
            assert client.get(PAGE + "?page=2&select=all").status_code == 200
        return n()

    with app.app_context():
        _bulk_partners(lp.lp, 7)
    portal_login(client, lp.cora)
    small = measure()
    with app.app_context():
        _bulk_partners(lp.lp, 990, start=10)
    assert measure() == small
