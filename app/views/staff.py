"""Staff accounts: FAB's user screens, limited to staff and to roles the editor may grant."""
from flask import abort, request
from flask_appbuilder.actions import action
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.views import ResetPasswordView, UserDBModelView
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.security import access
from app.security import roles as R
from app.views.base import InScope


class AssignableRoles(BaseFilter):
    """Role choices: global staff roles only; Admin can be granted only by an Admin."""

    name = _l("Assignable roles")

    def apply(self, query, value):
        """Limit the Role query to what the current user may hand out."""
        names = list(R.STAFF_GLOBAL_ROLES)
        if not access.has_screen_permission(current_user, "can_edit", "RoleModelView"):
            names.remove(R.ADMIN)
        return query.filter(self.model.name.in_(names))


def check_user_target(target):
    """Abort unless the current user may change `target` (404 outside scope, 403 for an Admin)."""
    if target is None or not access.in_scope(current_user, target):
        abort(404)
    if not access.can(current_user, R.EDIT, target):
        abort(403)


class StaffUserView(UserDBModelView):
    """The firm's staff: FAB users that are not client accounts."""

    list_title = _l("Staff")
    show_title = _l("Staff member")
    add_title = _l("Add staff member")
    edit_title = _l("Edit staff member")
    base_filters = [["id", InScope, R.VIEW]]
    list_columns = ["first_name", "last_name", "username", "email", "active", "roles"]
    search_columns = ["first_name", "last_name", "username", "email", "active", "roles"]
    edit_columns = ["first_name", "last_name", "username", "active", "email", "roles"]
    add_form_query_rel_fields = {"roles": [["name", AssignableRoles, None]], "groups": [["id", InScope, R.VIEW]]}
    edit_form_query_rel_fields = add_form_query_rel_fields
    search_form_query_rel_fields = {"roles": [["name", AssignableRoles, None]]}

    def _edit(self, pk):
        check_user_target(self.datamodel.get(pk, self._base_filters))
        return super()._edit(pk)

    def _delete(self, pk):
        check_user_target(self.datamodel.get(pk, self._base_filters))
        return super()._delete(pk)

    @action("resetpasswords", _l("Reset Password"), "", "fa-lock", multiple=False)
    def resetpasswords(self, item):
        """Reset another staff member's password, within the editor's rights."""
        check_user_target(item)
        return super().resetpasswords(item)


class StaffResetPasswordView(ResetPasswordView):
    """FAB's reset-password form, refusing users outside the editor's rights."""

    def form_get(self, form):
        """Show the form only for a user the editor may change."""
        check_user_target(self._load())

    def form_post(self, form):
        """Reset the password only for a user the editor may change."""
        check_user_target(self._load())
        return super().form_post(form)

    def _load(self):
        pk = request.args.get("pk", "")
        if not pk.isdigit():
            abort(404)
        return self.appbuilder.sm.get_user_by_id(int(pk))
