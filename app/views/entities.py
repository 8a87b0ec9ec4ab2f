"""Back-office screens for client entities and their shares."""
from flask import abort
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from app.models import Entity, EntityShare
from app.models.entities import KIND_LABELS, STATUS_LABELS, EntityKind, EntityStatus
from app.security import access, guard
from app.security import roles as R
from app.services import activity
from app.services import entities as entity_service
from app.views.activity import ActivityEventView
from app.views.base import BulkDeleteMixin, EnumSelectField, InScope, SafeInterface, ScopedModelView, in_scope


class ShareIsValid:
    """Form-level share rules (grantee kind vs role, no duplicates), shown on the role field."""

    def __call__(self, form, field):
        errors = entity_service.share_errors(
            form.entity.data,
            field.data,
            user=form.user.data,
            contact=form.contact.data,
            group=form.group.data,
            share_id=getattr(form, "_id", None),
        )
        if errors:
            raise ValidationError(errors[0])


ENTITY_ROLE_CHOICES = [["name", FilterInFunction, lambda: list(R.ENTITY_ROLES)]]


class EntityShareView(BulkDeleteMixin, ScopedModelView):
    """Grants of an entity role on an entity to a staff member, a contact or a group."""

    datamodel = SafeInterface(
        EntityShare,
        eager=[
            joinedload(EntityShare.entity),
            joinedload(EntityShare.role),
            joinedload(EntityShare.user),
            joinedload(EntityShare.contact),
            joinedload(EntityShare.group),
        ],
    )
    list_title = _l("Shares")
    show_title = _l("Share")
    add_title = _l("Share an entity")
    edit_title = _l("Edit share")
    edit_right = R.SHARE
    delete_right = R.SHARE
    action_rights = {"muldelete": R.SHARE}
    label_columns = {
        "entity": _l("Entity"),
        "role": _l("Entity role"),
        "user": _l("Staff member"),
        "contact": _l("Contact"),
        "group": _l("Contact group"),
        "grantee_label": _l("Shared with"),
        "created_on": _l("Shared on"),
    }
    list_columns = ["entity", "grantee_label", "role", "created_on"]
    show_columns = ["entity", "user", "contact", "group", "role", "created_on"]
    add_columns = ["entity", "user", "contact", "group", "role"]
    edit_columns = add_columns
    search_columns = ["entity", "role", "user", "contact", "group"]
    order_columns = ["created_on"]
    base_order = ("created_on", "desc")
    description_columns = {
        "role": _l("Owner and Viewer are for staff; Entity Access and Entity Collaborator for contacts."),
    }
    validators_columns = {"role": [DataRequired(), ShareIsValid()]}
    add_form_query_rel_fields = {
        "entity": in_scope(R.SHARE),
        "user": in_scope(R.VIEW),
        "contact": in_scope(R.VIEW),
        "group": in_scope(R.VIEW),
        "role": ENTITY_ROLE_CHOICES,
    }
    edit_form_query_rel_fields = add_form_query_rel_fields
    search_form_query_rel_fields = {
        "entity": in_scope(R.VIEW),
        "user": in_scope(R.VIEW),
        "contact": in_scope(R.VIEW),
        "group": in_scope(R.VIEW),
        "role": ENTITY_ROLE_CHOICES,
    }

    def pre_add(self, item):
        """Refuse a share on an entity the user may not share (defence beyond the choices)."""
        if not access.can(current_user, R.SHARE, item.entity):
            raise PermissionError(_l("You may not share this entity."))

    pre_update = pre_add

    def post_add(self, item):
        """Keep the grant in the entity's activity."""
        activity.record("share.granted", item.entity, item, summary=f"{item.grantee_label()} — {item.role}",
                        actor=current_user)

    def post_update(self, item):
        """Keep the change in the entity's activity."""
        activity.record("share.changed", item.entity, item, summary=f"{item.grantee_label()} — {item.role}",
                        actor=current_user)

    def pre_delete(self, item):
        """Record the revocation in the same transaction as the delete."""
        activity.record("share.revoked", item.entity, summary=f"{item.grantee_label()} — {item.role}",
                        actor=current_user, commit=False)


class EntityView(BulkDeleteMixin, ScopedModelView):
    """The firm's clients: people and organisations."""

    datamodel = SafeInterface(Entity, eager=[joinedload(Entity.responsible)])
    list_title = _l("Entities")
    show_title = _l("Entity")
    add_title = _l("Add entity")
    edit_title = _l("Edit entity")
    label_columns = {
        "name": _l("Name"),
        "kind": _l("Kind"),
        "kind_label": _l("Kind"),
        "tax_id": _l("Tax id"),
        "masked_tax_id": _l("Tax id"),
        "status": _l("Status"),
        "status_label": _l("Status"),
        "responsible": _l("Responsible"),
        "address": _l("Address"),
        "created_on": _l("Created on"),
    }
    list_columns = ["name", "kind_label", "masked_tax_id", "status_label", "responsible"]
    show_fieldsets = [
        (_l("Entity"), {"fields": ["name", "kind_label", "tax_id", "status_label", "responsible", "address"]}),
    ]
    add_columns = ["name", "kind", "tax_id", "status", "responsible", "address"]
    edit_columns = add_columns
    search_columns = ["name", "kind", "status", "responsible"]
    order_columns = ["name", "created_on"]
    base_order = ("name", "asc")
    description_columns = {"tax_id": _l("Digits, with dashes or spaces where your forms use them.")}
    validators_columns = {
        "name": [DataRequired(), Length(max=200)],
        "tax_id": [Optional(), Length(max=20), Regexp(entity_service.TAX_ID_PATTERN, message=_l(
            "A tax id is made of digits, optionally separated by dashes or spaces."))],
    }
    add_form_extra_fields = {
        "kind": EnumSelectField(_l("Kind"), EntityKind, KIND_LABELS, widget=Select2Widget()),
        "status": EnumSelectField(
            _l("Status"), EntityStatus, STATUS_LABELS, widget=Select2Widget(), default=EntityStatus.active
        ),
    }
    edit_form_extra_fields = add_form_extra_fields
    add_form_query_rel_fields = {"responsible": [["id", InScope, R.VIEW]]}
    edit_form_query_rel_fields = add_form_query_rel_fields
    search_form_query_rel_fields = add_form_query_rel_fields
    related_views = [EntityShareView, ActivityEventView]

    def post_add(self, item):
        """Keep the creation in the entity's activity."""
        activity.record("entity.created", item, item, actor=current_user)

    def post_update(self, item):
        """Keep the change in the entity's activity."""
        activity.record("entity.updated", item, item, actor=current_user)

    def pre_delete(self, item):
        """Record the deletion in the same transaction (without a link: the entity goes)."""
        activity.record("entity.deleted", summary=item.name, actor=current_user, commit=False)

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        """The client page: overview, work, requests, documents, messages, payments, partners, activity."""
        entity = guard.load(current_user, Entity, pk)
        page = entity_service.workspace(entity.id, current_user)
        if page is None:
            abort(404)
        return self.render_template("portico/entities/workspace.html", page=page, title=entity.name)
