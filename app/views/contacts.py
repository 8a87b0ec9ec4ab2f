"""Back-office screens for contacts, their e-mail addresses and contact groups."""
from flask import abort, current_app, flash, redirect, url_for
from flask_appbuilder import expose
from flask_appbuilder.actions import action as fab_action
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, SelectField, StringField
from flask_appbuilder.security.decorators import has_access
from flask_babel import ngettext
from flask_login import current_user
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, ValidationError

from app.models import Contact, ContactEmail, ContactGroup
from app.security import roles as R
from app.services import contacts as contact_service
from app.services import invitations
from app.views.base import BulkDeleteMixin, SafeInterface, ScopedModelView, in_scope
from app.views.entities import EntityShareView

PHONE_PATTERN = r"^\+?[0-9 ()./-]{5,30}$"
NAME_VALIDATORS = [DataRequired(), Length(max=100)]


class EmailIsFree:
    """The address must not belong to another contact (the current one may keep its own)."""

    def __init__(self, contact_attr):
        self.contact_attr = contact_attr

    def __call__(self, form, field):
        if field.data and contact_service.email_taken(field.data, **{self.contact_attr: getattr(form, "_id", None)}):
            raise ValidationError(_l("This e-mail address already belongs to a contact."))


def language_choices():
    """The portal languages, for contact forms."""
    return [(code, lang["name"]) for code, lang in current_app.config["LANGUAGES"].items()]


class LanguageField(SelectField):
    """A select of the configured languages, read when the form is built."""

    def __init__(self, label, **kwargs):
        super().__init__(label, choices=language_choices, widget=Select2Widget(), **kwargs)


class ContactEmailView(BulkDeleteMixin, ScopedModelView):
    """A contact's addresses: one primary, the rest merged."""

    datamodel = SafeInterface(ContactEmail)
    list_title = _l("E-mail addresses")
    label_columns = {
        "email": _l("E-mail"),
        "is_primary": _l("Primary"),
        "verified_on": _l("Verified on"),
        "contact": _l("Contact"),
    }
    list_columns = ["email", "is_primary", "verified_on"]
    add_columns = ["contact", "email", "is_primary"]
    edit_columns = ["email", "is_primary"]
    validators_columns = {"email": [DataRequired(), Email(), Length(max=254), EmailIsFree("email_id")]}
    add_form_extra_fields = {"is_primary": BooleanField(_l("Primary"))}
    edit_form_extra_fields = add_form_extra_fields
    add_form_query_rel_fields = {"contact": in_scope(R.VIEW)}


class ContactView(BulkDeleteMixin, ScopedModelView):
    """People outside the firm: clients' owners, officers and family members."""

    datamodel = SafeInterface(Contact, eager=[selectinload(Contact.emails), selectinload(Contact.groups)])
    list_title = _l("Contacts")
    show_title = _l("Contact")
    add_title = _l("Add contact")
    edit_title = _l("Edit contact")
    label_columns = {
        "first_name": _l("First name"),
        "last_name": _l("Last name"),
        "full_name": _l("Name"),
        "username": _l("Username"),
        "phone": _l("Phone"),
        "language": _l("Language"),
        "notify_by_email": _l("E-mail notifications"),
        "portal_state": _l("Portal"),
        "portal_state_label": _l("Portal"),
        "primary_email": _l("E-mail"),
        "groups": _l("Groups"),
        "notes": _l("Notes"),
        "created_on": _l("Created on"),
    }
    list_columns = ["full_name", "primary_email", "phone", "portal_state_label", "groups"]
    show_fieldsets = [
        (_l("Contact"), {"fields": ["full_name", "username", "primary_email", "phone", "language"]}),
        (_l("Portal"), {"fields": ["portal_state_label", "notify_by_email", "groups", "notes"]}),
    ]
    # Group membership grants entity access, so it is edited in Contact groups (Entities Admin).
    # The portal state changes only through Invite / Disable (they mail, end sessions, keep a trail).
    add_columns = [
        "first_name", "last_name", "username", "primary_email", "phone", "language",
        "notify_by_email", "notes",
    ]
    edit_columns = add_columns
    search_columns = ["first_name", "last_name", "username", "phone", "portal_state", "groups"]
    order_columns = ["first_name", "last_name", "username", "created_on"]
    base_order = ("last_name", "asc")
    validators_columns = {
        "first_name": NAME_VALIDATORS,
        "last_name": NAME_VALIDATORS,
        "username": [DataRequired(), Length(min=3, max=100), Regexp(r"^[A-Za-z0-9._@+-]+$", message=_l(
            "Use letters, digits and . _ @ + - only."))],
        "phone": [Optional(), Regexp(PHONE_PATTERN, message=_l("Enter a phone number, e.g. +372 5555 1234."))],
        "notes": [Optional(), Length(max=2000)],
    }
    add_form_extra_fields = {
        "primary_email": StringField(
            _l("E-mail"),
            validators=[DataRequired(), Email(), Length(max=254), EmailIsFree("contact_id")],
            widget=BS3TextFieldWidget(),
        ),
        "language": LanguageField(_l("Language"), default="en"),
        "notify_by_email": BooleanField(_l("E-mail notifications"), default=True),
    }
    edit_form_extra_fields = add_form_extra_fields
    search_form_query_rel_fields = {"groups": in_scope(R.VIEW)}
    related_views = [ContactEmailView, EntityShareView]
    show_template = "portico/contacts/show.html"
    method_permission_name = {"portal_access": "invite", "invite_selected": "invite", "disable_selected": "invite"}
    action_rights = dict(ScopedModelView.action_rights, invite_selected=invitations.INVITE,
                         disable_selected=invitations.INVITE)

    @expose("/<pk>/portal/<string:name>", methods=["POST"])
    @has_access
    def portal_access(self, pk, name):
        """Invite (or re-invite) one contact to the portal, or disable their access."""
        contact = self._item_or_404(pk)
        if name not in ("invite", "disable"):
            abort(404)
        self._require(invitations.INVITE, contact)
        self._change_access(name, [contact])
        return redirect(url_for(".show", pk=contact.id))

    @fab_action("invite_selected", _l("Invite to portal"), _l("Send portal invitations to the selected contacts?"),
                "fa-envelope", single=False)
    def invite_selected(self, items):
        """Invite every selected contact (each is re-checked first)."""
        self._change_access("invite", items)
        return redirect(self.get_redirect())

    @fab_action("disable_selected", _l("Disable portal access"), _l("End portal access of the selected contacts?"),
                "fa-ban", single=False)
    def disable_selected(self, items):
        """Disable the portal access of every selected contact."""
        self._change_access("disable", items)
        return redirect(self.get_redirect())

    def _change_access(self, name, contacts):
        change = invitations.invite if name == "invite" else invitations.disable
        done = 0
        for contact in contacts:
            try:
                change(contact, current_user)
                done += 1
            except invitations.InvitationError as exc:
                flash(str(exc), "warning")
        if done:
            flash(ngettext("Invitation sent to %(num)d contact.", "Invitation sent to %(num)d contacts.", done)
                  if name == "invite" else
                  ngettext("Portal access disabled for %(num)d contact.", "Portal access disabled for %(num)d contacts.",
                           done), "success")

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["contact"] = item
        widgets["can_invite"] = invitations.can_invite(current_user, item)
        return widgets


class ContactGroupView(BulkDeleteMixin, ScopedModelView):
    """Named sets of contacts that are granted entity roles together."""

    datamodel = SafeInterface(ContactGroup, eager=[selectinload(ContactGroup.members)])
    list_title = _l("Contact groups")
    show_title = _l("Contact group")
    add_title = _l("Add contact group")
    edit_title = _l("Edit contact group")
    label_columns = {"name": _l("Name"), "description": _l("Description"), "members": _l("Members")}
    list_columns = ["name", "description", "members"]
    add_columns = ["name", "description", "members"]
    edit_columns = add_columns
    show_columns = add_columns
    search_columns = ["name", "members"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    validators_columns = {"name": [DataRequired(), Length(max=100)], "description": [Optional(), Length(max=2000)]}
    add_form_query_rel_fields = {"members": in_scope(R.VIEW)}
    edit_form_query_rel_fields = add_form_query_rel_fields
    search_form_query_rel_fields = add_form_query_rel_fields
    related_views = [EntityShareView]
