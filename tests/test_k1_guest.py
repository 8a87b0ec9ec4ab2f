"""Attacks on the K-1 guest pages: a link and its code show one partner's K-1 only; other ids,
unknown, revoked, expired and replaced links all get the same 404; the access code keeps the
sign-in rules; statuses move sent → opened → downloaded; no caching, no token in later URLs."""
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ActivityEvent, K1Recipient, K1Status
from app.services import access_codes
from app.services import k1 as k1_service
from tests.conftest import csrf_token
from tests.documents_helpers import PDF
from tests.test_k1 import build, distribute, link_token, mails_to, row, run_jobs  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_redis")

ANN, BOB = "ann@partners.example", "bob@partners.example"
DEAD = "This link is not valid any more. Ask the sender for a new one."
WRONG = "That code is not valid. Check the latest mail, or ask for a new code."


@pytest.fixture
def sent(app, smtp):
    """Harbor LP's Ann and Bob have been sent their links (tokens read from the mails)."""
    ids = build(app)
    distribute(app, ids.accountant, ids.ann, ids.bob)
    ids.ann_token, ids.bob_token = link_token(smtp, ANN), link_token(smtp, BOB)
    return ids


def page(rid):
    return f"/k1/p/{rid}"


def open_link(client, token):
    """Follow the mailed link; returns the response of /k1/<token>."""
    return client.get(f"/k1/{token}")


def ask_code(client, rid):
    """Press "Send me a code"."""
    return client.post(f"{page(rid)}/code", data={"csrf_token": csrf_token(client, page(rid))})


def latest_code(app, smtp, address):
    """Run the mail jobs, then the latest access code mailed to `address`."""
    run_jobs(app)
    codes = [m.group(1) for _, text, _ in mails_to(smtp, address) for m in [re.search(r"^(\d{8})\r?$", text, re.M)]
             if m]
    assert codes, f"no code mailed to {address}"
    return codes[-1]


def enter(client, rid, code):
    """Submit an access code on the partner's page."""
    return client.post(f"{page(rid)}/verify", data={"csrf_token": csrf_token(client, page(rid)), "code": code})


def download(client, rid):
    """Press Download."""
    return client.post(f"{page(rid)}/download", data={"csrf_token": csrf_token(client, page(rid))})


def unlock(app, client, smtp, token, rid, address=ANN):
    """The whole way in: link, code request, code."""
    assert open_link(client, token).status_code == 302
    assert ask_code(client, rid).status_code == 302
    response = enter(client, rid, latest_code(app, smtp, address))
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def test_link_and_code_show_only_that_partners_k1(app, client, smtp, sent):
    """Ann's link and code show her name, entity and K-1 and serve her file; nothing of Bob's."""
    response = open_link(client, sent.ann_token)
    assert response.status_code == 302 and response.headers["Location"].endswith(page(sent.ann))
    before = client.get(page(sent.ann)).get_data(as_text=True)
    assert "Harbor LP" in before and "Send me a code" in before and "a•••@partners.example" in before
    assert "Ann Archer" not in before and "secret-name" not in before  # nothing personal before the code
    unlock(app, client, smtp, sent.ann_token, sent.ann)
    body = client.get(page(sent.ann)).get_data(as_text=True)
    assert "Ann Archer" in body and "K-1 2025 Ann secret-name.pdf" in body and "60 %" in body
    assert "Bob" not in body and "Nora" not in body and "Olga" not in body
    file = download(client, sent.ann)
    assert file.status_code == 200 and file.data == PDF
    assert file.headers["Content-Disposition"].startswith('attachment; filename="K-1 2025 Ann secret-name.pdf"')
    assert file.headers["X-Content-Type-Options"] == "nosniff"
    assert file.headers["Cache-Control"] == "private, no-store"


def test_statuses_move_sent_opened_downloaded_and_never_back(app, client, smtp, sent):
    """sent → opened (right code) → downloaded (file); opening again later leaves it downloaded."""
    assert row(app, sent.ann).status is K1Status.sent
    unlock(app, client, smtp, sent.ann_token, sent.ann)
    item = row(app, sent.ann)
    assert item.status is K1Status.opened and item.opened_on is not None and item.downloaded_on is None
    download(client, sent.ann)
    item = row(app, sent.ann)
    assert item.status is K1Status.downloaded and item.downloaded_on >= item.opened_on
    with client.session_transaction() as session:
        session.clear()
    with app.app_context():
        redis_limits_reset()
    unlock(app, client, smtp, sent.ann_token, sent.ann)
    assert row(app, sent.ann).status is K1Status.downloaded
    with app.app_context():
        events = db.session.execute(select(ActivityEvent.verb, ActivityEvent.actor_id).where(
            ActivityEvent.object_id == sent.ann, ActivityEvent.verb.like("k1.%")).order_by(ActivityEvent.id)).all()
    assert [verb for verb, _ in events] == ["k1.sent", "k1.opened", "k1.downloaded", "k1.opened"]
    assert [actor for verb, actor in events if verb != "k1.sent"] == [None, None, None]


def redis_limits_reset():
    """Forget the code resend limits (a second visit within the minute)."""
    from app.redis_conn import get_redis

    for key in get_redis().scan_iter("LIMITS*"):
        get_redis().delete(key)


def test_another_partners_id_in_the_same_link_is_404(app, client, smtp, sent):
    """With Ann's link (even unlocked), Bob's id — or any other — is 404 on every step; Bob is untouched."""
    unlock(app, client, smtp, sent.ann_token, sent.ann)
    token = csrf_token(client, page(sent.ann))
    for rid in (sent.bob, sent.nora, sent.olga, 999999, "abc", str(2**70)):
        response = client.get(page(rid))
        assert response.status_code == 404 and DEAD in response.get_data(as_text=True)
        assert "Bob" not in response.get_data(as_text=True)
        for step in ("code", "verify", "download"):
            response = client.post(f"{page(rid)}/{step}", data={"csrf_token": token, "code": "12345678"})
            assert response.status_code == 404, (rid, step)
    assert row(app, sent.bob).status is K1Status.sent
    assert mails_to(smtp, BOB)[-1][0].endswith("Your Schedule K-1 from Harbor LP")  # no code mailed to Bob


def test_unknown_revoked_expired_and_replaced_links_get_one_answer(app, client, smtp, monkeypatch, sent):
    """Unknown, revoked, expired and replaced links: the same 404 page, word for word."""
    answers = [open_link(client, "x" * 43), open_link(client, "..%00" + "y" * 300)]
    with app.app_context():
        k1_service.revoke(db.session.get(K1Recipient, sent.bob), _user(sent))
    answers.append(open_link(client, sent.bob_token))
    later = k1_service._now() + timedelta(days=30, minutes=1)
    monkeypatch.setattr(k1_service, "_now", lambda: later)
    answers.append(open_link(client, sent.ann_token))
    monkeypatch.undo()
    distribute(app, sent.accountant, sent.ann)
    answers.append(open_link(client, sent.ann_token))
    assert {(r.status_code, r.get_data(as_text=True).count(DEAD)) for r in answers} == {(404, 1)}
    bodies = {re.sub(r'nonce="[^"]+"', "", r.get_data(as_text=True)) for r in answers}
    assert len(bodies) == 1
    assert open_link(client, link_token(smtp, ANN)).status_code == 302  # the new link works


def _user(ids):
    from flask_appbuilder.security.sqla.models import User

    return db.session.get(User, ids.accountant)


def test_resend_kills_a_link_already_opened_in_this_browser(app, client, smtp, sent):
    """After a resend the session of the old link is dead on every step; the new link works."""
    unlock(app, client, smtp, sent.ann_token, sent.ann)
    token = csrf_token(client, page(sent.ann))
    distribute(app, sent.accountant, sent.ann)
    assert client.get(page(sent.ann)).status_code == 404
    assert client.post(f"{page(sent.ann)}/download", data={"csrf_token": token}).status_code == 404
    assert open_link(client, sent.ann_token).status_code == 404
    assert open_link(client, link_token(smtp, ANN)).status_code == 302
    assert "Send me a code" in client.get(page(sent.ann)).get_data(as_text=True)  # a new link needs a new code


def test_revoke_or_expiry_after_the_code_stops_the_download(app, client, smtp, monkeypatch, sent):
    """A granted session loses the file as soon as the link is revoked or has expired."""
    unlock(app, client, smtp, sent.ann_token, sent.ann)
    token = csrf_token(client, page(sent.ann))
    later = k1_service._now() + timedelta(days=31)
    monkeypatch.setattr(k1_service, "_now", lambda: later)
    assert client.post(f"{page(sent.ann)}/download", data={"csrf_token": token}).status_code == 404
    monkeypatch.undo()
    with app.app_context():
        k1_service.revoke(db.session.get(K1Recipient, sent.ann), _user(sent))
    response = client.post(f"{page(sent.ann)}/download", data={"csrf_token": token})
    assert response.status_code == 404 and response.data != PDF
    assert row(app, sent.ann).status is K1Status.opened


def test_download_without_the_code_is_403(app, client, smtp, sent):
    """The link alone does not serve the file."""
    open_link(client, sent.ann_token)
    response = download(client, sent.ann)
    assert response.status_code == 403 and response.data != PDF
    ask_code(client, sent.ann)
    assert download(client, sent.ann).status_code == 403
    assert row(app, sent.ann).status is K1Status.sent


def test_wrong_codes_read_as_sign_in_and_five_kill_the_code(app, client, smtp, sent):
    """A wrong code gets the sign-in message; after 5 wrong tries the right code no longer works."""
    open_link(client, sent.ann_token)
    ask_code(client, sent.ann)
    code = latest_code(app, smtp, ANN)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for _ in range(5):
        response = enter(client, sent.ann, wrong)
        assert response.status_code == 200 and WRONG in response.get_data(as_text=True)
    response = enter(client, sent.ann, code)
    assert WRONG in response.get_data(as_text=True)
    assert row(app, sent.ann).status is K1Status.sent


def test_a_used_code_cannot_be_used_again(app, client, smtp, sent):
    """The code that unlocked the page is spent: another browser with the same link cannot use it."""
    unlock(app, client, smtp, sent.ann_token, sent.ann)
    code = latest_code(app, smtp, ANN)
    other = app.test_client()
    open_link(other, sent.ann_token)
    assert WRONG in enter(other, sent.ann, code).get_data(as_text=True)
    assert download(other, sent.ann).status_code == 403


def test_an_expired_code_fails(app, client, smtp, monkeypatch, sent):
    """A code older than 10 minutes fails like a wrong one."""
    open_link(client, sent.ann_token)
    ask_code(client, sent.ann)
    code = latest_code(app, smtp, ANN)
    later = access_codes._now() + timedelta(minutes=10)
    monkeypatch.setattr(access_codes, "_now", lambda: later)
    assert WRONG in enter(client, sent.ann, code).get_data(as_text=True)
    assert row(app, sent.ann).status is K1Status.sent


def test_a_code_for_one_partner_does_not_open_another_with_the_same_address(app, client, smtp, sent):
    """Two partners sharing one address: the code is bound to the partner it was asked for."""
    with app.app_context():
        db.session.get(K1Recipient, sent.bob).email = ANN
        db.session.commit()
    open_link(client, sent.ann_token)
    open_link(client, sent.bob_token)
    ask_code(client, sent.ann)
    code = latest_code(app, smtp, ANN)
    assert WRONG in enter(client, sent.bob, code).get_data(as_text=True)
    assert enter(client, sent.ann, code).status_code == 302
    assert download(client, sent.bob).status_code == 403


def test_codes_too_soon_get_the_sign_in_message(app, client, smtp, sent):
    """Asking again within a minute sends nothing and says so."""
    open_link(client, sent.ann_token)
    ask_code(client, sent.ann)
    ask_code(client, sent.ann)
    assert "Codes were asked for too often" in client.get(page(sent.ann)).get_data(as_text=True)
    run_jobs(app)
    assert len([m for m in mails_to(smtp, ANN) if "access code" in m[0]]) == 1


def test_guest_posts_without_csrf_are_400(app, client, smtp, sent):
    """Send code, verify and download refuse a POST without the CSRF token."""
    open_link(client, sent.ann_token)
    for step in ("code", "verify", "download"):
        assert client.post(f"{page(sent.ann)}/{step}", data={"code": "12345678"}).status_code == 400
    run_jobs(app)
    assert [m for m in mails_to(smtp, ANN) if "access code" in m[0]] == []


def test_guest_pages_are_private_and_the_token_leaves_the_url(app, client, smtp, sent):
    """no-store and no referrer on every guest answer; after the first hit the token is in no URL."""
    first = open_link(client, sent.ann_token)
    assert sent.ann_token not in first.headers["Location"]
    answers = [first, client.get(page(sent.ann)), open_link(client, "nope" * 10), ask_code(client, sent.ann)]
    body = client.get(page(sent.ann)).get_data(as_text=True)
    assert sent.ann_token not in body
    for response in answers:
        assert "no-store" in response.headers["Cache-Control"]
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_token_and_code_stay_out_of_logs(app, client, smtp, caplog, monkeypatch, sent):
    """No log line of the guest flow (worker included) holds the link token or the code."""
    worker_log = logging.getLogger("rq.worker")
    monkeypatch.setattr(worker_log, "disabled", False)
    monkeypatch.setattr(worker_log, "propagate", True)
    caplog.set_level(logging.DEBUG)
    unlock(app, client, smtp, sent.ann_token, sent.ann)
    code = latest_code(app, smtp, ANN)
    download(client, sent.ann)
    text = caplog.text + " ".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert "send access code" in text or "send_access_code" in text
    assert sent.ann_token not in text and code not in text


def test_language_switch_returns_to_the_partner_page_only(app, client, sent):
    """The guest language switch goes back to a K-1 page and nowhere else."""
    open_link(client, sent.ann_token)
    token = csrf_token(client, page(sent.ann))
    response = client.post("/k1/language", data={"csrf_token": token, "language": "et", "next": page(sent.ann)})
    assert response.status_code == 302 and response.headers["Location"].endswith(page(sent.ann))
    for target in ("//evil.example", "/portal/", "https://evil.example/k1/p/1", "/k1/p/1/../../x"):
        assert client.post("/k1/language", data={"csrf_token": token, "language": "et",
                                                 "next": target}).status_code == 404
