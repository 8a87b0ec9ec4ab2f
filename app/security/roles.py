"""Role names and what each role may do; the seed command writes these as FAB permissions."""
from flask_babel import lazy_gettext as _l

ADMIN = "Admin"
STAFF_ADMIN = "Staff Admin"
ENTITIES_ADMIN = "Entities Admin"
STAFF = "Staff"
CLIENT = "Client"
OWNER = "Owner"
VIEWER = "Viewer"
ENTITY_ACCESS = "Entity Access"
ENTITY_COLLABORATOR = "Entity Collaborator"

GLOBAL_ROLES = (ADMIN, STAFF_ADMIN, ENTITIES_ADMIN, STAFF, CLIENT)
STAFF_ENTITY_ROLES = (OWNER, VIEWER)
CONTACT_ENTITY_ROLES = (ENTITY_ACCESS, ENTITY_COLLABORATOR)
ENTITY_ROLES = STAFF_ENTITY_ROLES + CONTACT_ENTITY_ROLES
STAFF_GLOBAL_ROLES = (ADMIN, STAFF_ADMIN, ENTITIES_ADMIN, STAFF)
# Roles only an Admin may hand out, and whose holders only an Admin may change.
PRIVILEGED_ROLES = (ADMIN, ENTITIES_ADMIN)
# Entity roles only those who share every entity may hand out (Owner can share and delete the entity).
PRIVILEGED_ENTITY_ROLES = (OWNER,)
# How strong each entity role is on its side: a person's effective role is the strongest one they hold.
ENTITY_ROLE_RANK = {VIEWER: 1, OWNER: 2, ENTITY_ACCESS: 1, ENTITY_COLLABORATOR: 2}

ROLE_LABELS = {
    ADMIN: _l("Admin"),
    STAFF_ADMIN: _l("Staff Admin"),
    ENTITIES_ADMIN: _l("Entities Admin"),
    STAFF: _l("Staff"),
    CLIENT: _l("Client"),
    OWNER: _l("Owner"),
    VIEWER: _l("Viewer"),
    ENTITY_ACCESS: _l("Entity Access"),
    ENTITY_COLLABORATOR: _l("Entity Collaborator"),
}

# Actions on an entity and everything in it.
VIEW = "view"
WORK = "work"  # staff: tasks, file requests, messages, documents
CONTRIBUTE = "contribute"  # contacts: create files, requests and activities
EDIT = "edit"
SHARE = "share"
DELETE = "delete"
ENTITY_ACTIONS = (VIEW, WORK, CONTRIBUTE, EDIT, SHARE, DELETE)
STAFF_ACTIONS = frozenset({VIEW, WORK, EDIT, SHARE, DELETE})
CONTACT_ACTIONS = frozenset({VIEW, CONTRIBUTE})

# FAB view-menu that carries entity permissions; "<action>" applies where the role is granted
# on an entity, "<action>_all" applies to every entity (global roles only).
ENTITY_PERMISSION_VIEW = "Entity"
ALL_SUFFIX = "_all"

ENTITY_ROLE_ACTIONS = {
    OWNER: (VIEW, WORK, EDIT, SHARE, DELETE),
    VIEWER: (VIEW, WORK),
    ENTITY_COLLABORATOR: (VIEW, CONTRIBUTE),
    ENTITY_ACCESS: (VIEW,),
}
GLOBAL_ENTITY_ACTIONS = {
    ADMIN: (VIEW, WORK, EDIT, SHARE, DELETE),
    ENTITIES_ADMIN: (VIEW, WORK, EDIT, SHARE, DELETE),
    STAFF_ADMIN: (VIEW,),
    STAFF: (),
    CLIENT: (),
}

READ = ("can_list", "can_show")
WRITE = READ + ("can_add", "can_edit", "can_delete", "muldelete")
SELF_SERVICE = (
    ("can_userinfo", "StaffUserView"),
    ("resetmypassword", "StaffUserView"),
    ("userinfoedit", "StaffUserView"),
    ("can_this_form_get", "StaffResetMyPasswordView"),
    ("can_this_form_post", "StaffResetMyPasswordView"),
    ("can_this_form_get", "UserInfoEditView"),
    ("can_this_form_post", "UserInfoEditView"),
    ("can_list", "NotificationsView"),
    ("can_edit", "NotificationsView"),
    ("can_verify", "TwoFactorView"),
    ("can_enrol", "TwoFactorView"),
    ("can_list", "MySessionsView"),
    ("can_edit", "MySessionsView"),
    ("can_list", "ApiTokensView"),
    ("can_add", "ApiTokensView"),
    ("can_delete", "ApiTokensView"),
    ("can_show", "ApiDocsView"),
)


DOCUMENTS_READ = dict(
    DocumentView=READ,
    DocumentFilesView=("can_download", "can_view"),
    DocumentBrowserView=("can_browse",),
)
DOCUMENTS_WORK = dict(
    DOCUMENTS_READ,
    DocumentView=READ + ("can_edit", "can_delete", "muldelete", "share", "unshare"),
    DocumentBrowserView=("can_browse", "can_manage"),
)


REQUESTS_READ = dict(ClientRequestView=READ)
REQUESTS_WORK = dict(ClientRequestView=READ + ("can_convert", "can_set_status", "can_post_message"))
TASKS_READ = dict(TaskView=READ)
TASKS_WORK = dict(TaskView=READ + ("can_edit", "can_delete", "can_work"), FileRequestView=("can_new",),
                  TaskSeriesView=("can_show", "can_edit"), TaskTemplateView=WRITE,
                  TaskBatchView=("can_new", "can_show"))


VOUCHERS_READ = dict(TaxVoucherView=READ)
VOUCHERS_WORK = dict(TaxVoucherView=WRITE + ("can_import_csv",))
K1_READ = dict(K1RecipientView=READ)
K1_WORK = dict(K1RecipientView=WRITE)
# Organizers: the Staff Admin shapes the questionnaires; sending and reviewing need the right to work on
# each entity as well (access.can(user, WORK, organizer)).
ORGANIZER_TEMPLATES = dict(OrganizerTemplateView=("can_list", "can_edit"))
ORGANIZERS_READ = dict(OrganizerView=("can_list", "can_show"))
ORGANIZERS_WORK = dict(OrganizerView=("can_list", "can_show", "can_send", "can_review"))
# Sending needs more than the screen: access.may_request_signatures (Owner of the entity, Staff Admin…).
SIGNATURES = dict(SignatureRequestView=("can_show", "can_send"))


# Webhooks send client work to outside systems: only Admins (who hold every permission) manage them;
# no other role is given this screen permission, which access.may_manage_webhooks asks.
WEBHOOKS = ("can_list", "WebhookView")


def _screens(**views):
    """Expand {view: permissions} into (permission, view) pairs."""
    return tuple((perm, view) for view, perms in views.items() for perm in perms)


# Screen permissions of each global role (Admin gets every permission that exists).
SCREEN_PERMISSIONS = {
    STAFF_ADMIN: SELF_SERVICE
    + _screens(
        StaffUserView=READ + ("can_add", "can_edit", "can_delete", "resetpasswords"),
        StaffResetPasswordView=("can_this_form_get", "can_this_form_post"),
        ContactView=WRITE + ("can_invite",),
        ContactEmailView=WRITE,
        ContactGroupView=READ,
        EntityView=READ,
        EntityShareView=READ,
        ActivityEventView=READ,
        **DOCUMENTS_READ,
        **REQUESTS_READ,
        **TASKS_READ,
        **VOUCHERS_READ,
        **K1_READ,
        **SIGNATURES,
        **ORGANIZER_TEMPLATES,
        **ORGANIZERS_READ,
    ),
    ENTITIES_ADMIN: SELF_SERVICE
    + _screens(
        ImportView=("can_import",),
        ContactView=READ,
        ContactEmailView=READ,
        ContactGroupView=WRITE,
        EntityView=WRITE,
        EntityShareView=WRITE,
        ActivityEventView=READ,
        **DOCUMENTS_WORK,
        **REQUESTS_WORK,
        **TASKS_WORK,
        **VOUCHERS_WORK,
        **K1_WORK,
        **SIGNATURES,
        **ORGANIZERS_WORK,
    ),
    STAFF: SELF_SERVICE
    + _screens(
        ContactView=READ,
        ContactEmailView=READ,
        ContactGroupView=READ,
        EntityView=READ + ("can_edit", "can_delete"),
        EntityShareView=WRITE,
        ActivityEventView=READ,
        **DOCUMENTS_WORK,
        **REQUESTS_WORK,
        **TASKS_WORK,
        **VOUCHERS_WORK,
        **K1_WORK,
        **SIGNATURES,
        **ORGANIZERS_WORK,
    ),
    CLIENT: (),
    OWNER: (),
    VIEWER: (),
    ENTITY_ACCESS: (),
    ENTITY_COLLABORATOR: (),
}

MENU_PERMISSIONS = {
    STAFF_ADMIN: ("Clients", "Entities", "Shares", "Documents", "Tasks", "Client requests", "Tax vouchers", "K-1 partners", "Signatures", "People", "Staff", "Contacts", "Contact groups",
                  "Activity", "Organizer templates", "Organizers"),
    ENTITIES_ADMIN: ("Clients", "Entities", "Shares", "Documents", "Tasks", "Client requests", "Tax vouchers", "K-1 partners", "Signatures", "People", "Contacts", "Contact groups",
                     "Activity", "Task templates", "Assign to many", "Organizers"),
    STAFF: ("Clients", "Entities", "Shares", "Documents", "Tasks", "Client requests", "Tax vouchers", "K-1 partners", "Signatures", "People", "Contacts", "Contact groups", "Activity",
            "Task templates", "Assign to many", "Organizers"),
}
