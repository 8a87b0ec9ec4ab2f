"""Staff screens for K-1 partners: the partners of a partnership, S-corp or trust (name, e-mail,
share) and each partner's K-1 document; the delivery status is shown, never edited here."""
from decimal import Decimal

from flask import g
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload
from wtforms import DecimalField
from wtforms.validators import DataRequired, Email, Length, Optional, StopValidation, ValidationError

from app.extensions import db
from app.models import Document, Entity, K1Recipient
from app.security import access
from app.security import roles as R
from app.services import activity
from app.services import k1 as k1_service
from app.views.base import BulkDeleteMixin, InScope, SafeInterface, ScopedModelView

DOCUMENT_CHOICES = 2000  # the newest documents offered in the K-1 document select


def _when(value):
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _share(value):
    """25.5000 → "25.5 %"."""
    if value is None:
        return ""
    return f"{format(value.normalize(), 'f')} %"


class ShareValue:
    """A percentage between 0 and 100 with at most 4 decimals (what the column holds)."""

    def __call__(self, form, field):
        value = field.data
        if value is None:
            return
        if not isinstance(value, Decimal) or not value.is_finite():
            raise StopValidation(_l("Enter the share as a number, for example 12.5."))
        if value < 0 or value > 100:
            raise StopValidation(_l("The share is a percentage between 0 and 100."))
        if value.as_tuple().exponent < -4 and value != value.quantize(Decimal("0.0001")):
            raise StopValidation(_l("Use at most 4 decimals."))


class IssuesK1s:
    """The entity must be a partnership, S corporation or trust."""

    def __call__(self, form, field):
        if field.data is not None and field.data.kind not in k1_service.K1_KINDS:
            raise ValidationError(_l("K-1 partners belong to partnerships, S corporations and trusts only."))


class DocumentOfEntity:
    """The K-1 document must belong to the partner's entity."""

    def __call__(self, form, field):
        document = field.data
        if document is None:
            return
        if "entity" in form:
            entity = form.entity.data
        else:
            entity = getattr(db.session.get(K1Recipient, getattr(form, "_id", 0) or 0), "entity", None)
        if entity is None or document.entity_id != entity.id:
            raise ValidationError(_l("Choose one of this entity's documents."))


def _document_choices():
    """Documents the user works on, of entities that issue K-1s (only the partner's entity when editing)."""
    query = (access.visible(current_user, Document, R.WORK).join(Entity, Entity.id == Document.entity_id)
             .where(Entity.kind.in_(k1_service.K1_KINDS)).options(joinedload(Document.entity)))
    entity_id = g.get("k1_entity_id")
    if entity_id is not None:
        query = query.where(Document.entity_id == entity_id)
    return db.session.scalars(query.order_by(Entity.name, Document.name).limit(DOCUMENT_CHOICES)).all()


def _document_field():
    return QuerySelectField(
        _l("K-1 document"), query_func=_document_choices, get_pk_func=lambda doc: doc.id,
        get_label=lambda doc: f"{doc.entity.name} — {doc.name}", allow_blank=True, blank_text=_l("No document yet"),
        validators=[Optional(), DocumentOfEntity()], widget=Select2Widget(),
        description=_l("One of the entity's documents (staff-only is fine: the partner reaches it through "
                       "their link and an access code)."))


def _share_field():
    return DecimalField(_l("Share (%)"), places=4, validators=[Optional(), ShareValue()],
                        widget=BS3TextFieldWidget(), description=_l("Ownership percentage, 0 to 100."))


K1_ENTITIES = [["id", InScope, R.WORK], ["kind", FilterInFunction, lambda: list(k1_service.K1_KINDS)]]


class K1RecipientView(BulkDeleteMixin, ScopedModelView):
    """Partners of an entity and their K-1s."""

    datamodel = SafeInterface(K1Recipient, eager=[joinedload(K1Recipient.entity), joinedload(K1Recipient.document)])
    list_title = _l("K-1 partners")
    show_title = _l("K-1 partner")
    add_title = _l("Add a K-1 partner")
    edit_title = _l("Edit K-1 partner")
    edit_right = R.WORK
    delete_right = R.WORK
    action_rights = {"muldelete": R.WORK}
    label_columns = {
        "entity": _l("Entity"), "name": _l("Name"), "email": _l("E-mail"), "share": _l("Share (%)"),
        "document": _l("K-1 document"), "status": _l("Status"), "status_label": _l("Status"),
        "sent_on": _l("Sent on"), "opened_on": _l("Opened on"), "downloaded_on": _l("Downloaded on"),
        "link_expires_on": _l("Link valid until"), "link_revoked_on": _l("Link revoked on"),
        "created_on": _l("Added on"),
    }
    list_columns = ["entity", "name", "email", "share", "document", "status_label", "sent_on"]
    show_columns = ["entity", "name", "email", "share", "document", "status_label", "sent_on", "link_expires_on",
                    "link_revoked_on", "opened_on", "downloaded_on", "created_on"]
    add_columns = ["entity", "name", "email", "share", "document"]
    edit_columns = ["name", "email", "share", "document"]
    search_columns = ["entity", "name", "email", "status"]
    order_columns = ["name", "email", "share", "sent_on"]
    base_order = ("name", "asc")
    validators_columns = {
        "entity": [DataRequired(), IssuesK1s()],
        "name": [DataRequired(), Length(max=200)],
        "email": [DataRequired(), Email(message=_l("Enter an e-mail address like name@example.com.")),
                  Length(max=254)],
    }
    add_form_extra_fields = {"share": _share_field(), "document": _document_field()}
    edit_form_extra_fields = {"share": _share_field(), "document": _document_field()}
    add_form_query_rel_fields = {"entity": K1_ENTITIES}
    search_form_query_rel_fields = {"entity": [["id", InScope, R.VIEW]]}
    description_columns = {"email": _l("The K-1 link and its access codes go to this address.")}
    formatters_columns = {"share": _share, "sent_on": _when, "opened_on": _when, "downloaded_on": _when,
                          "link_expires_on": _when, "link_revoked_on": _when, "created_on": _when}

    def _edit(self, pk):
        """Offer only the documents of the partner's own entity."""
        g.k1_entity_id = self._item_or_404(pk).entity_id
        return super()._edit(pk)

    def pre_add(self, item):
        """Defence beyond the choices: the right to work on the entity and the K-1 rules."""
        if not access.can(current_user, R.WORK, item.entity):
            raise PermissionError(_l("You may not work on this entity."))
        item.email = item.email.strip()
        k1_service.check_recipient(item)

    pre_update = pre_add

    def post_add(self, item):
        """Keep the new partner in the entity's activity."""
        activity.record("k1.partner_added", item.entity, item, actor=current_user)

    def post_update(self, item):
        """Keep the change in the entity's activity."""
        activity.record("k1.partner_changed", item.entity, item, actor=current_user)

    def pre_delete(self, item):
        """Record the removal in the same transaction as the delete."""
        activity.record("k1.partner_removed", item.entity, summary=item.name, actor=current_user, commit=False)

