"""Portico's FAB security manager: staff-only login and guarded user screens."""
import logging

from flask import current_app, g, has_request_context, request
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.views import (
    PermissionModelView,
    PermissionViewModelView,
    RoleModelView,
    UserGroupModelView,
    ViewMenuModelView,
)
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.utils.limit import Limit
from flask_appbuilder.widgets import ListWidget, ShowWidget
from werkzeug.security import check_password_hash

from app.security import access, account_cache
from app.services import throttle
from app.views.base import SafeArgsMixin, SingleActionMixin
from app.views.readable import ReadableMixin
from app.views.staff import StaffAuthDBView, StaffResetMyPasswordView, StaffResetPasswordView, StaffUserView

log = logging.getLogger(__name__)
HTML_LOGIN = "StaffAuthDBView.login"


def _needs_second_factor(user):
    from app.services import two_factor

    return two_factor.is_enrolled(user.id) or two_factor.required(user, two_factor.firm_settings())


def _login_limit():
    return current_app.config["AUTH_RATE_LIMIT"]


def client_network_key():
    """Flask-Limiter's key: the client's IPv4 address or IPv6 /64 (rotating inside a /64 is one client)."""
    return throttle.client_network(request.remote_addr)


class PorticoSecurityApi(SecurityApi):
    """FAB's JWT login API, rate-limited like the HTML login (FAB limits only the HTML form)."""

    limits = [Limit(_login_limit, key_func=client_network_key, methods=("POST",))]


def _safe(view_class, **attributes):
    """FAB's security screen with our malformed-input guards (unknown actions, unsortable columns) and
    readable values. The same class name keeps FAB's endpoints and permission names."""
    return type(view_class.__name__, (ReadableMixin, SingleActionMixin, SafeArgsMixin, view_class),
                {"__doc__": view_class.__doc__, **attributes})


class NoTokenLoginApi(SecurityApi):
    """FAB's token login API with no routes: FAB 5.3 adds the security API whenever its screens are on."""

    include_route_methods = set()


class PorticoSecurityManager(SecurityManager):
    """FAB's manager with our user views and a login that client accounts can never pass."""

    userdbmodelview = StaffUserView
    authdbview = StaffAuthDBView
    # FAB's role widgets print a role's permission list raw ("[]"): the generic ones apply formatters.
    rolemodelview = _safe(RoleModelView, list_widget=ListWidget, show_widget=ShowWidget)
    groupmodelview = _safe(UserGroupModelView)
    permissionmodelview = _safe(PermissionModelView)
    viewmenumodelview = _safe(ViewMenuModelView)
    permissionviewmodelview = _safe(PermissionViewModelView)
    resetpasswordview = StaffResetPasswordView
    resetmypasswordview = StaffResetMyPasswordView
    security_api = PorticoSecurityApi

    def register_views(self):
        """FAB's security screens; its token login API (/api/v1/security/login, refresh) only once a
        REST API needs it (TOKEN_LOGIN_API): a password oracle nothing here uses otherwise."""
        if not current_app.config.get("TOKEN_LOGIN_API"):
            self.security_api = NoTokenLoginApi
        super().register_views()

    def create_limiter(self, app):
        """FAB's limiter (the staff login limit), counting by client network unless configured otherwise."""
        app.config.setdefault("RATELIMIT_KEY_FUNC", client_network_key)
        return super().create_limiter(app)

    def load_user(self, pk):
        """FAB's loader (an active account or None), reading the account's contact in the same
        statement (every request asks whether the signed-in account is a client's); while no row
        changed, from this process's copies (app.security.account_cache)."""
        from sqlalchemy import select

        from app.models import Contact

        def read():
            return self.session.execute(
                select(self.user_model, Contact).outerjoin(Contact, Contact.user_id == self.user_model.id)
                .where(self.user_model.id == int(pk))
            ).first()

        user, contact = account_cache.load(int(pk), self.session, read)
        if user is None or not user.is_active:
            return None
        access.remember_contact(user.id, contact)
        return user

    def auth_user_db(self, username, password):
        """Authenticate staff; a client's account is refused exactly like an unknown one."""
        user = None
        if username:
            user = self.find_user(username=username) or self.find_user(email=username)
        if user is not None and access.is_contact(user):
            # Same work as a failed login, so the answer and its timing tell nothing.
            check_password_hash(current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], "password")
            log.info("refused staff login for a client account")
            return None
        user = super().auth_user_db(username, password)
        if user is not None and request.endpoint != HTML_LOGIN and _needs_second_factor(user):
            # Only the HTML login has a second step; the token API (if switched on) and any other
            # caller refuse accounts that have, or owe, a second factor.
            log.info("refused a password-only login for an account with a second factor")
            return None
        return user

    def has_access(self, permission_name, view_name):
        """FAB's answer, remembered for the rest of the request per signed-in user: a staff page's
        menu, buttons and view decorators ask the same questions many times."""
        if not has_request_context():
            return super().has_access(permission_name, view_name)
        user = getattr(g, "user", None)
        user_id = user.get_id() if user is not None and user.is_authenticated else None
        answers = g.setdefault("_portico_has_access", {})
        key = (user_id, permission_name, view_name)
        if key not in answers:
            answers[key] = super().has_access(permission_name, view_name)
        return answers[key]

    def _has_view_access(self, user, permission_name, view_name):
        """FAB's permission check answered from every (permission, view) pair of the user's roles, read
        once per set of roles and grants version (a page's menu and buttons otherwise ask a dozen times)."""
        if self.builtin_roles and any(role.name in self.builtin_roles for role in self.get_user_roles(user)):
            return super()._has_view_access(user, permission_name, view_name)
        return (permission_name, view_name) in access.permission_pairs(user)

