"""The client portal under /portal: custom pages for contacts, decided by app.security.access.

Every page but the sign-in and sign-up steps needs a contact signed in through the portal with a
live server-side session; staff accounts are not portal users. Each page module adds its routes
to `bp`; `register(app)` wires the blueprint.
"""
import math

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Contact, Entity
from app.security import access
from app.security import roles as R
from app.services import bells as bell_service
from app.services.portal import home as portal_home
from app.web import page_cache

bp = Blueprint("portal", __name__, url_prefix="/portal")
page_cache.guards_itself(bp)
# Endpoints reachable without a portal session (the sign-in and sign-up steps).
PUBLIC = {"portal.sign_in", "portal.sign_in_pin", "portal.sign_in_code", "portal.resend_code", "portal.sign_up",
          "portal.sign_up_verify", "portal.sign_up_pin", "portal.language", "portal.sign_out"}


def code_wait_message(error):
    """What someone who asked for an access code too soon is told: when a new one can be asked for."""
    minutes = math.ceil(error.wait / 60)
    return ngettext("Codes were asked for too often. You can ask for a new one in %(num)d minute.",
                    "Codes were asked for too often. You can ask for a new one in %(num)d minutes.", minutes)


def signed_in_contact():
    """The contact of this request's portal session, or None (staff, anonymous, ended or disabled)."""
    from app.views.portal import browser

    if not current_user.is_authenticated or not current_user.is_active:
        return None
    contact_id = browser.session_contact_id()
    if contact_id is None:
        return None
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.user_id != current_user.id or not access.may_use_portal(contact):
        return None
    return contact


@bp.before_request
def _guard():
    """Deny by default: a portal page needs a signed-in contact; the entity list is loaded once."""
    if request.endpoint in PUBLIC:
        return None
    contact = signed_in_contact()
    if contact is None:
        target = request.full_path if request.method == "GET" else url_for("portal.home")
        session["portal_next"] = target.rstrip("?")
        return redirect(url_for("portal.sign_in"))
    g.contact = contact
    kept = page_cache.replay()  # this very page, rendered for this session since the last change
    if kept is not None:
        return kept
    # With each entity, whether the contact may add files and requests there (the access module's
    # clause, read as a column): pages ask it of the current entity.
    rows = db.session.execute(
        access.visible(current_user, Entity).add_columns(access.scope(current_user, Entity, R.CONTRIBUTE))
        .options(joinedload(Entity.responsible)).order_by(Entity.name, Entity.id)).all()
    g.entities = [entity for entity, _ in rows]
    g.contributing = {entity.id for entity, contributes in rows if contributes}
    wanted = session.get("portal_entity")
    g.entity = next((e for e in g.entities if e.id == wanted), None)
    if g.entity is None:  # not chosen yet (or no longer theirs): start where work waits, and stay there
        g.entity = portal_home.busiest_entity(current_user, g.entities)
        session["portal_entity"] = getattr(g.entity, "id", None)
    g.unread, g.sections = _bell_and_sections(g.entity, contact)
    return None


def _bell_and_sections(entity, contact):
    """The bell's unread count, and which optional sections the entity has: tax payments (vouchers),
    K-1s (partners), and documents the contact is asked to sign. One statement."""
    from sqlalchemy import exists

    from app.models import K1Recipient, SignatureRequest, Signer, TaxVoucher
    from app.models.signatures import RequestStatus

    unread = bell_service.unread_count_column(current_user)
    if entity is None:
        return db.session.scalar(select(unread)) or 0, {"payments": False, "k1": False, "signatures": False}
    row = db.session.execute(select(
        unread,
        exists().where(TaxVoucher.entity_id == entity.id),
        exists().where(K1Recipient.entity_id == entity.id),
        exists().where(Signer.contact_id == contact.id, Signer.request_id == SignatureRequest.id,
                       SignatureRequest.entity_id == entity.id, SignatureRequest.status != RequestStatus.draft),
    )).one()
    return row[0] or 0, {"payments": bool(row[1]), "k1": bool(row[2]), "signatures": bool(row[3])}


@bp.after_request
def _no_store(response):
    """Portal pages are private: never cached by the browser or on the way."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def use_entity(entity_id):
    """Make `entity_id` the current entity (it must be one of the contact's)."""
    entity = next((e for e in g.entities if e.id == entity_id), None)
    if entity is None:
        abort(404)
    g.entity = entity
    session["portal_entity"] = entity.id
    return entity


def may_contribute(entity=None):
    """Whether the signed-in contact may create files and requests in the (current) entity."""
    entity = entity or g.entity
    if entity is not None and any(e is entity for e in g.entities):  # asked of access by the guard
        return entity.id in g.contributing
    return entity is not None and access.can(current_user, R.CONTRIBUTE, entity)


def safe_next(default="portal.home"):
    """Where to go after signing in: a path inside the portal saved earlier, else `default`."""
    target = session.pop("portal_next", None) or ""
    if target.startswith("/portal/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for(default)


@bp.context_processor
def _context():
    from flask_babel import get_locale

    from app.services.firm import get_settings

    return {"firm": get_settings(), "portal_languages": current_app.config["LANGUAGES"],
            "locale": str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])}


def register(app):
    """Import the page modules (they add routes to `bp`) and attach the blueprint."""
    from app.views.portal import (auth, bells, documents, home, k1, organizers, requests, settings,  # noqa: F401
                                  signatures, tasks, vouchers)

    app.register_blueprint(bp)


def _error_page(error):
    """403/404 raised by a portal page, in the portal's layout."""
    from flask_babel import gettext as _

    title = _("Not allowed") if error.code == 403 else _("Not found")
    return render_template("portal/error.html", title=title, code=error.code), error.code


bp.register_error_handler(403, _error_page)
bp.register_error_handler(404, _error_page)
