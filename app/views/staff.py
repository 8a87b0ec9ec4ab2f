"""Staff accounts: FAB's user screens, limited to staff and to roles the editor may grant."""
from flask import abort, g, redirect, request
from flask_appbuilder import expose
from flask_appbuilder.actions import action
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.views import AuthDBView, ResetMyPasswordView, ResetPasswordView, UserDBModelView
from flask_appbuilder.validators import PasswordComplexityValidator
from werkzeug.security import check_password_hash
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, ValidationError
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.security import access
from app.security import roles as R
from app.services import staff_sessions
from app.views.base import InScope, SafeArgsMixin, parse_pk
from app.views.readable import ReadableMixin


class StaffAuthDBView(AuthDBView):
    """FAB's login view, with sign-out by POST only (CSRFProtect checks the token): a cross-site link
    or image pointing at /logout/ signs nobody out. Its page points clients to the portal."""

    login_template = "portico/login.html"

    @expose("/logout/", methods=["GET", "POST"])
    def logout(self):
        """POST: sign out. GET: back to the start page, still signed in (the navbar posts a form)."""
        if request.method != "POST":
            return redirect(self.appbuilder.get_url_for_index)
        return super().logout()


class AssignableRoles(BaseFilter):
    """Role choices: global staff roles only; Admin and Entities Admin only from an Admin."""

    name = _l("Assignable roles")

    def apply(self, query, value):
        """Limit the Role query to what the current user may hand out."""
        names = [n for n in R.STAFF_GLOBAL_ROLES
                 if access.manages_roles(current_user) or n not in R.PRIVILEGED_ROLES]
        return query.filter(self.model.name.in_(names))


def roles_or_groups_required(form, field):
    """FAB's "a role or a group" rule, also for forms without a groups field (FAB's own raises KeyError)."""
    groups = form._fields.get("groups")
    if not form["roles"].data and not (groups is not None and groups.data):
        raise ValidationError(_l("Either select a role or a group"))


def check_user_target(target):
    """Abort unless the current user may change `target` (404 outside scope, 403 for an Admin)."""
    if target is None or not access.in_scope(current_user, target):
        abort(404)
    if not access.can(current_user, R.EDIT, target):
        abort(403)


class StaffUserView(ReadableMixin, SafeArgsMixin, UserDBModelView):
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
    validators_columns = {"roles": [roles_or_groups_required], "groups": [roles_or_groups_required]}
    search_form_query_rel_fields = {"roles": [["name", AssignableRoles, None]]}

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """FAB's staff page, for a well-formed id only."""
        return super().show(parse_pk(pk))

    def _edit(self, pk):
        check_user_target(self.datamodel.get(parse_pk(pk), self._base_filters))
        return super()._edit(pk)

    def _delete(self, pk):
        check_user_target(self.datamodel.get(parse_pk(pk), self._base_filters))
        return super()._delete(pk)

    def post_update(self, item):
        """A deactivated staff member's sessions end with the change."""
        if not item.active:
            staff_sessions.end_all(item.id)

    def post_delete(self, item):
        """A deleted staff member's sessions end with the account."""
        staff_sessions.end_all(item.id)

    @action("resetpasswords", _l("Reset Password"), "", "fa-lock", multiple=False)
    def resetpasswords(self, item):
        """Reset another staff member's password, within the editor's rights."""
        check_user_target(item)
        return super().resetpasswords(item)


class CurrentPassword:
    """The signed-in user's current password must be given to set a new one."""

    def __call__(self, form, field):
        if not check_password_hash(g.user.password or "", field.data or ""):
            raise ValidationError(_l("This is not your current password."))


class MyPasswordForm(DynamicForm):
    """Change one's own password: the current one, then the new one twice."""

    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), CurrentPassword()],
                                     widget=BS3PasswordFieldWidget())
    password = PasswordField(_l("New password"), validators=[DataRequired(), PasswordComplexityValidator()],
                             widget=BS3PasswordFieldWidget())
    conf_password = PasswordField(_l("Confirm the new password"), validators=[
        DataRequired(), EqualTo("password", message=_l("Passwords must match"))], widget=BS3PasswordFieldWidget())


class StaffResetMyPasswordView(ResetMyPasswordView):
    """FAB's own-password form, asking for the current password first."""

    form = MyPasswordForm


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
        return self.appbuilder.sm.get_user_by_id(parse_pk(request.args.get("pk", "")))
