"""The K-1 guest pages under /k1: a partner opens their own K-1 with the mailed link and an access
code (no account).

The mailed link /k1/<token> is checked, remembered in this browser's session (as the token's hash)
and left at once for /k1/p/<id>, so the token shows up in one URL only. Every step re-checks that
the session holds the partner's current live link: a revoked, expired or replaced link, an unknown
token, or another partner's id all get the same 404 page. The access code follows the sign-in code
rules; a verified code gives this session a short grant to that one partner's K-1.
"""
import time

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import get_locale
from flask_babel import gettext as _

from app.extensions import db
from app.models import CodePurpose, K1Recipient
from app.services import access_codes
from app.services import documents as document_service
from app.services import k1 as k1_service
from app.services.firm import get_settings
from app.views.base import parse_pk
from app.views.portal import code_wait_message
from app.views.portal.forms import BlankForm, CodeForm
from app.web.downloads import send_version

bp = Blueprint("k1", __name__, url_prefix="/k1")
# Every guest route checks the link and the code itself; none needs a signed-in user.
PUBLIC = {"k1.open", "k1.page", "k1.send_code", "k1.verify", "k1.download", "k1.language"}
GRANT_SECONDS = 30 * 60  # how long a verified code unlocks the K-1 in this browser
MAX_LINKS = 5  # links remembered per browser session (oldest forgotten first)


def _links():
    return session.get("k1_links") or {}


def _remember(recipient):
    """Keep this link in the session: {recipient id: {"link": hash}} (a new link starts over)."""
    links = {k: v for k, v in _links().items() if k != str(recipient.id)}
    while len(links) >= MAX_LINKS:
        links.pop(next(iter(links)))
    links[str(recipient.id)] = {"link": recipient.link_hash}
    session["k1_links"] = links


def _update(recipient_id, **changes):
    links = dict(_links())
    links[str(recipient_id)] = dict(links[str(recipient_id)], **changes)
    session["k1_links"] = links


def _dead():
    """One answer for every link that does not work (unknown, revoked, expired, replaced, not yours)."""
    return render_template("k1/dead.html", title=_("This link is not valid")), 404


def _entry(recipient_id):
    """(partner, session state) for a live link this session holds for `recipient_id`, else None."""
    state = _links().get(str(parse_pk(recipient_id)))
    if state is None:
        return None, None
    recipient = db.session.get(K1Recipient, int(recipient_id))
    if not k1_service.link_is_live(recipient, state.get("link")):
        return None, None
    return recipient, state


def _granted(state):
    return state is not None and state.get("grant", 0) > time.time()


@bp.route("/<token>")
def open(token):  # noqa: A001 (the endpoint's name)
    """The mailed link: remember it in this session, then continue without the token in the URL."""
    recipient = k1_service.find_by_token(token)
    if recipient is None:
        return _dead()
    _remember(recipient)
    return redirect(url_for("k1.page", recipient_id=recipient.id))


@bp.route("/p/<recipient_id>")
def page(recipient_id):
    """Step by step: ask for a code, enter it, then download the K-1."""
    recipient, state = _entry(recipient_id)
    if recipient is None:
        return _dead()
    return _render(recipient, state, CodeForm())


def _masked(email):
    """j•••@example.com: enough for the partner to recognise the address, little for anyone else."""
    name, _at, domain = email.partition("@")
    return f"{name[:1]}•••@{domain}"


def _render(recipient, state, code_form):
    """The page for where this session stands; before the code only the firm and entity are named."""
    granted = _granted(state)
    return render_template(
        "k1/page.html", title=_("Your K-1") if granted else _("Open your K-1"), recipient=recipient,
        entity=recipient.entity, granted=granted, code_sent=bool(state.get("code_sent") or code_form.errors),
        code_form=code_form, form=BlankForm(), masked_email=_masked(recipient.email),
        document=recipient.document if granted else None,
        language_next=url_for("k1.page", recipient_id=recipient.id))


@bp.route("/p/<recipient_id>/code", methods=["POST"])
def send_code(recipient_id):
    """Mail an access code to the partner's address (the sign-in resend limits apply)."""
    recipient, state = _entry(recipient_id)
    if recipient is None:
        return _dead()
    if not BlankForm().validate_on_submit():
        abort(400)
    try:
        access_codes.issue(CodePurpose.k1, recipient.email, subject_id=recipient.id, ip=request.remote_addr)
        _update(recipient.id, code_sent=True)
    except access_codes.TooSoon as error:
        flash(code_wait_message(error), "warning")
    return redirect(url_for("k1.page", recipient_id=recipient.id))


@bp.route("/p/<recipient_id>/verify", methods=["POST"])
def verify(recipient_id):
    """Check the access code; a right one unlocks this partner's K-1 in this browser for a while."""
    recipient, state = _entry(recipient_id)
    if recipient is None:
        return _dead()
    form = CodeForm()
    if form.validate_on_submit():
        if access_codes.verify(CodePurpose.k1, recipient.email, form.code.data, subject_id=recipient.id):
            _update(recipient.id, grant=int(time.time()) + GRANT_SECONDS, code_sent=False)
            k1_service.mark_opened(recipient, request.remote_addr)
            return redirect(url_for("k1.page", recipient_id=recipient.id))
        # The sign-in page's words: a wrong, expired, used or dead code all read the same.
        form.code.errors.append(_("That code is not valid. Check the latest mail, or ask for a new code."))
    return _render(recipient, state, form)


@bp.route("/p/<recipient_id>/download", methods=["POST"])
def download(recipient_id):
    """The partner's own K-1 file, after the code (the link and code are the authorization)."""
    recipient, state = _entry(recipient_id)
    if recipient is None:
        return _dead()
    if not BlankForm().validate_on_submit():
        abort(400)
    if not _granted(state):
        abort(403)
    document = recipient.document
    if document is None or not document.versions:
        abort(404)
    version = document_service.current_version(document)
    k1_service.mark_downloaded(recipient, request.remote_addr)
    return send_version(version, document.name)


@bp.route("/language", methods=["POST"])
def language():
    """Switch the language of the guest pages, then go back to the partner's page."""
    code = request.form.get("language", "")
    if BlankForm().validate_on_submit() and code in current_app.config["LANGUAGES"]:
        session["locale"] = code
    target = request.form.get("next", "")
    if not (target.startswith("/k1/p/") and target[6:].isdigit()):
        abort(404)
    return redirect(target)


@bp.context_processor
def _context():
    return {"firm": get_settings(), "portal_languages": current_app.config["LANGUAGES"],
            "locale": str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])}


@bp.after_request
def _private(response):
    """Guest pages and files are private: never cached, never indexed, no referrer."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _error_page(error):
    title = _("Not allowed") if error.code == 403 else _("Something went wrong")
    return render_template("k1/error.html", title=title, code=error.code), error.code


bp.register_error_handler(403, _error_page)
bp.register_error_handler(404, lambda error: _dead())


def register(app):
    """Attach the guest blueprint."""
    app.register_blueprint(bp)
