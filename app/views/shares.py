"""Share one entity: pick many people and groups with a role each, see everyone's effective role,
take shares back, and add a new contact with its role (and invite them) from the same page.

The page is /shares/<entity_id> (endpoint "SharesView.entity"); it needs the Shares screen's add
permission and the share right on the entity (guard: 404 outside the scope, 403 without the right).
"""
from flask import abort, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from app.models import Contact, ContactGroup, Entity
from app.security import access, guard
from app.security import roles as R
from app.services import invitations
from app.services import shares as service
from app.views.choices import choices_query
from app.views.contacts import NAME_VALIDATORS, EmailIsFree, LanguageField

PICKER_ROWS = 5  # blank rows of the "share with" form
SEARCH_LIMIT = 10  # matches per kind in one picker answer


class NewContactForm(FlaskForm):
    """A new contact of this entity: name, e-mail, language, role, and whether to invite now."""

    first_name = StringField(_l("First name"), validators=NAME_VALIDATORS)
    last_name = StringField(_l("Last name"), validators=NAME_VALIDATORS)
    email = StringField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254), EmailIsFree("contact_id")])
    language = LanguageField(_l("Language"), default="en")
    role = SelectField(_l("Role"), validators=[DataRequired()])
    invite = BooleanField(_l("Invite to the portal now"), default=False)


class SharesView(BaseView):
    """The sharing page of one entity."""

    route_base = "/shares"
    default_view = "entity"
    class_permission_name = "EntityShareView"  # sharing is the Shares screen's add right
    method_permission_name = {name: "add" for name in ("entity", "search", "add", "remove", "new_contact")}

    @expose("/<entity_id>")
    @has_access
    def entity(self, entity_id):
        """Who reaches the entity and how, with the forms to share it further."""
        entity = self._entity(entity_id)
        return self._page(entity)

    @expose("/<entity_id>/search")
    @has_access
    def search(self, entity_id):
        """Picker matches (Select2 JSON): staff, contacts and groups the user may share with."""
        self._entity(entity_id)
        text = request.args.get("q", "")[:100]
        groups = []
        for kind, model, label in _kinds():
            query = choices_query(model, R.VIEW, text)
            if kind == "u":
                query = query.filter(model.active.is_(True))
            rows = query.limit(SEARCH_LIMIT).all()
            if rows:
                groups.append({"text": str(label), "children": [{"id": f"{kind}:{r.id}", "text": str(r)} for r in rows]})
        return jsonify({"results": groups, "pagination": {"more": False}})

    @expose("/<entity_id>/add", methods=["POST"])
    @has_access
    def add(self, entity_id):
        """Share the entity with every picked person and group, each with its role (all or nothing)."""
        entity = self._entity(entity_id)
        if not FlaskForm().validate_on_submit():
            abort(400)
        try:
            rows = service.parse_rows(request.form.getlist("grantee"), request.form.getlist("role"))
            created, changed = service.grant_many(entity, current_user, rows)
        except service.ShareError as exc:
            return self._page(entity, share_error=str(exc))
        except service.ShareNotFound:
            abort(404)
        except service.ShareRefused as exc:
            abort(403, str(exc))
        flash(_("Shared: %(created)d new, %(changed)d changed.", created=created, changed=changed), "success")
        return redirect(url_for(".entity", entity_id=entity.id))

    @expose("/<entity_id>/remove", methods=["POST"])
    @has_access
    def remove(self, entity_id):
        """Take back one share of the entity."""
        entity = self._entity(entity_id)
        if not FlaskForm().validate_on_submit():
            abort(400)
        if not request.form.get("share_id"):
            flash(_("Choose a share to remove."), "warning")
            return redirect(url_for(".entity", entity_id=entity.id))
        try:
            label = service.revoke(entity, current_user, request.form["share_id"])
        except service.ShareNotFound:
            abort(404)
        except service.ShareRefused as exc:
            abort(403, str(exc))
        flash(_("%(name)s no longer shares this entity.", name=label), "success")
        return redirect(url_for(".entity", entity_id=entity.id))

    @expose("/<entity_id>/contact", methods=["POST"])
    @has_access
    def new_contact(self, entity_id):
        """Create a contact with its share of the entity; invite them too when asked."""
        entity = self._entity(entity_id)
        if not access.may_add_contacts(current_user):
            abort(403)
        form = self._contact_form(entity)
        if form.invite.data and not _may_invite():
            abort(403)
        if not form.validate_on_submit():
            return self._page(entity, contact_form=form)
        try:
            contact = service.add_contact(entity, current_user, form.first_name.data, form.last_name.data,
                                          form.email.data, form.language.data, form.role.data)
        except service.ShareError as exc:
            form.email.errors = list(form.email.errors) + [str(exc)]
            return self._page(entity, contact_form=form)
        except service.ShareRefused as exc:
            abort(403, str(exc))
        flash(_("%(name)s was added with access to %(entity)s.", name=contact.full_name, entity=entity.name), "success")
        if form.invite.data:
            try:
                invitations.invite(contact, current_user)
                flash(_("Invitation sent to %(name)s.", name=contact.full_name), "success")
            except invitations.InvitationError as exc:
                flash(str(exc), "warning")
        return redirect(url_for(".entity", entity_id=entity.id))

    def _entity(self, entity_id):
        return guard.load(current_user, Entity, entity_id, R.SHARE)

    def _contact_form(self, entity):
        form = NewContactForm()
        form.role.choices = [(n, str(R.ROLE_LABELS[n])) for n in access.grantable_roles(current_user, entity)
                             if n in R.CONTACT_ENTITY_ROLES]
        return form

    def _page(self, entity, share_error=None, contact_form=None):
        people, group_shares = service.access_list(entity)
        grantable = access.grantable_roles(current_user, entity)
        may_add = access.may_add_contacts(current_user)
        if may_add and contact_form is None:
            contact_form = self._contact_form(entity)
        return self.render_template(
            "portico/shares/entity.html", entity=entity, people=people, group_shares=group_shares,
            grantable=grantable, labels=R.ROLE_LABELS, staff_roles=R.STAFF_ENTITY_ROLES,
            contact_roles=R.CONTACT_ENTITY_ROLES, rows=range(PICKER_ROWS), share_error=share_error,
            contact_form=contact_form if may_add else None, may_invite=_may_invite(), csrf=FlaskForm(),
            title=_("Share %(name)s", name=entity.name))


def _kinds():
    from flask_appbuilder.security.sqla.models import User

    return (("c", Contact, _l("Contacts")), ("g", ContactGroup, _l("Contact groups")), ("u", User, _l("Staff")))


def _may_invite():
    return access.has_screen_permission(current_user, "can_invite", "ContactView")
