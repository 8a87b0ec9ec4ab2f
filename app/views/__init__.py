"""Register the back-office screens, grouped by what a firm does."""
from flask_babel import lazy_gettext as _l

from app.views.activity import ActivityEventView
from app.views.api_tokens import ApiTokensView
from app.views.bells import NotificationsView
from app.views.contacts import ContactEmailView, ContactGroupView, ContactView
from app.views.document_browser import DocumentBrowserView
from app.views.documents import DocumentFilesView, DocumentView
from app.views.entities import EntityShareView, EntityView
from app.views.file_requests import FileRequestView
from app.views.requests import ClientRequestView
from app.views.signatures import SignatureRequestView
from app.views.k1 import K1RecipientView
from app.views.organizer_templates import OrganizerTemplateView
from app.views.organizers import OrganizerView
from app.views.tasks import TaskSeriesView, TaskView
from app.views.task_batches import TaskBatchView, TaskTemplateView
from app.views.vouchers import TaxVoucherView
from app.views.firm import FirmSettingsView
from app.views.imports import ImportView
from app.views.shares import SharesView
from app.views.staff_sessions import MySessionsView, StaffSignInView
from app.views.passkeys import PasskeyView
from app.views.two_factor import TwoFactorView
from app.views.webhooks import WebhookView


def register_views(appbuilder):
    """Add every ModelView to the menu (FAB creates their permissions from these calls)."""
    clients = {"category": "Clients", "category_label": _l("Clients"), "category_icon": "fa-briefcase"}
    people = {"category": "People", "category_label": _l("People"), "category_icon": "fa-users"}
    firm = {"category": "Firm", "category_label": _l("Firm"), "category_icon": "fa-building"}

    appbuilder.add_view(EntityView, "Entities", label=_l("Entities"), icon="fa-folder-open", **clients)
    appbuilder.add_view(EntityShareView, "Shares", label=_l("Shares"), icon="fa-share-alt", **clients)
    appbuilder.add_view(DocumentView, "Documents", label=_l("Documents"), icon="fa-file", **clients)
    appbuilder.add_view_no_menu(DocumentFilesView)
    appbuilder.add_view_no_menu(DocumentBrowserView)
    appbuilder.add_view_no_menu(SharesView)
    appbuilder.add_view(TaskView, "Tasks", label=_l("Tasks"), icon="fa-check-square-o", **clients)
    appbuilder.add_view_no_menu(FileRequestView)
    appbuilder.add_view_no_menu(TaskSeriesView)
    appbuilder.add_view(TaskTemplateView, "Task templates", label=_l("Task templates"), icon="fa-clone", **clients)
    appbuilder.add_view(TaskBatchView, "Assign to many", label=_l("Assign to many"), icon="fa-users", **clients)
    appbuilder.add_view_no_menu(NotificationsView)
    appbuilder.add_view(TaxVoucherView, "Tax vouchers", label=_l("Tax vouchers"), icon="fa-money", **clients)
    appbuilder.add_view(K1RecipientView, "K-1 partners", label=_l("K-1 partners"), icon="fa-id-card-o", **clients)
    appbuilder.add_view(SignatureRequestView, "Signatures", label=_l("Signatures"), icon="fa-pencil-square-o",
                        **clients)
    appbuilder.add_view(OrganizerView, "Organizers", label=_l("Organizers"), icon="fa-list-alt", **clients)
    appbuilder.add_view(OrganizerTemplateView, "Organizer templates", label=_l("Organizer templates"),
                        icon="fa-wpforms", **clients)
    appbuilder.add_view(ClientRequestView, "Client requests", label=_l("Client requests"), icon="fa-inbox", **clients)
    appbuilder.add_view(ImportView, "Import clients", label=_l("Import clients"), icon="fa-upload", **clients)
    appbuilder.add_view(ActivityEventView, "Activity", label=_l("Activity"), icon="fa-history", **clients)
    appbuilder.add_link("Staff", href="/users/list/", label=_l("Staff"), icon="fa-id-badge", **people)
    appbuilder.add_view(ContactView, "Contacts", label=_l("Contacts"), icon="fa-address-book", **people)
    appbuilder.add_view(ContactGroupView, "Contact groups", label=_l("Contact groups"), icon="fa-users", **people)
    appbuilder.add_view_no_menu(ContactEmailView)
    appbuilder.add_view(FirmSettingsView, "Firm settings", label=_l("Firm settings"), icon="fa-cog", **firm)
    appbuilder.add_view(StaffSignInView, "Staff sign-in", label=_l("Staff sign-in"), icon="fa-key", **firm)
    appbuilder.add_view(WebhookView, "Webhooks", label=_l("Webhooks"), icon="fa-plug", **firm)
    appbuilder.add_view_no_menu(TwoFactorView)
    appbuilder.add_view_no_menu(PasskeyView)
    appbuilder.add_view_no_menu(MySessionsView)
    appbuilder.add_view_no_menu(ApiTokensView)
