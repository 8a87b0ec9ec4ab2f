"""Staff screens for K-1 partners (placeholder until the K-1 screens land)."""
from flask_babel import lazy_gettext as _l

from app.models import K1Recipient
from app.views.base import BulkDeleteMixin, SafeInterface, ScopedModelView


class K1RecipientView(BulkDeleteMixin, ScopedModelView):
    """Partners of an entity and their K-1s."""

    datamodel = SafeInterface(K1Recipient)
    list_title = _l("K-1 partners")
    list_columns = ["entity", "name", "email", "share", "status"]
