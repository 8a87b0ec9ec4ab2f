"""Staff sessions: one's own (see, end one or all others, forget remembered browsers), and an
Admin's page per member (end their sessions, reset their second factor)."""
from flask import abort, flash, redirect, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.security.sqla.models import User
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import HiddenField

from app.extensions import db
from app.models import StaffTotp
from app.security import access, guard
from app.security import roles as R
from app.security.second_factor import SESSION_TOKEN
from app.services import activity, passkeys, staff_sessions, two_factor
from app.views.base import parse_pk


class ItemForm(FlaskForm):
    """Which session or browser a button is about (in the body, never in the address)."""

    item = HiddenField()


def _describe(rows, own_token=None):
    """Sessions with a flag for the one making this request."""
    own = staff_sessions.digest(own_token) if own_token else None
    return [dict(row, current=row["digest"] == own) for row in rows]


class MySessionsView(BaseView):
    """The signed-in member's sign-in security: second factor, sessions and remembered browsers."""

    route_base = "/my-sessions"
    default_view = "index"
    base_permissions = ["can_list", "can_edit"]
    method_permission_name = {"index": "list", "end": "edit", "end_others": "edit", "forget_browser": "edit"}

    @expose("/")
    @has_access
    def index(self):
        """Second factor status, active sessions and remembered browsers."""
        uid = current_user.id
        return self.render_template(
            "portico/two_factor/my_sessions.html", title=_("Sign-in security"), form=ItemForm(),
            sessions=_describe(staff_sessions.sessions_of(uid), session.get(SESSION_TOKEN)),
            browsers=staff_sessions.remembered_browsers(uid), enrolled=two_factor.is_enrolled(uid),
            codes_left=two_factor.recovery_codes_left(uid), passkey_count=passkeys.count_of(uid))

    @expose("/end", methods=["POST"])
    @has_access
    def end(self):
        """Sign out one of one's own sessions (ending the current one signs this browser out)."""
        form = ItemForm()
        if not form.validate_on_submit() or not staff_sessions.end(current_user.id, form.item.data or ""):
            abort(404)
        flash(_("The session was ended."), "success")
        return redirect(url_for("MySessionsView.index"))

    @expose("/end-others", methods=["POST"])
    @has_access
    def end_others(self):
        """Sign out every other session of one's own."""
        if not ItemForm().validate_on_submit():
            abort(400)
        count = staff_sessions.end_all(current_user.id, keep_token=session.get(SESSION_TOKEN))
        flash(_("Sessions ended: %(n)d.", n=count), "success")
        return redirect(url_for("MySessionsView.index"))

    @expose("/forget-browser", methods=["POST"])
    @has_access
    def forget_browser(self):
        """Forget one remembered browser (it asks for the code again next time)."""
        form = ItemForm()
        if not form.validate_on_submit():
            abort(400)
        staff_sessions.forget_browsers(current_user.id, parse_pk(form.item.data or ""))
        flash(_("The browser will be asked for a code again."), "success")
        return redirect(url_for("MySessionsView.index"))


def _member(pk):
    """The staff member `pk` the current user may govern (404 outside scope, 403 without the right)."""
    return guard.load(current_user, User, pk, R.EDIT)  # the User scope leaves out clients' accounts


class StaffSignInView(BaseView):
    """Admins: every member's second factor and sessions; end them, reset a lost second factor."""

    route_base = "/staff-sign-in"
    default_view = "overview"
    base_permissions = ["can_list", "can_edit"]
    method_permission_name = {"overview": "list", "member": "list", "end_sessions": "edit", "reset": "edit"}

    @expose("/")
    @has_access
    def overview(self):
        """Staff members with whether they have a second factor and whether the firm requires one."""
        members = db.session.scalars(select(User).where(access.scope(current_user, User)).options(
            selectinload(User.roles)).order_by(User.username)).all()
        enrolled = set(db.session.scalars(select(StaffTotp.user_id).where(StaffTotp.confirmed_on.isnot(None))))
        settings = two_factor.firm_settings()
        rows = [(m, m.id in enrolled, two_factor.required(m, settings)) for m in members]  # the scope has no clients
        return self.render_template("portico/two_factor/staff_overview.html", rows=rows, title=_("Staff sign-in"))

    @expose("/<pk>")
    @has_access
    def member(self, pk):
        """One member's second factor and active sessions."""
        target = _member(pk)
        return self.render_template(
            "portico/two_factor/staff_member.html", member=target, form=ItemForm(),
            sessions=staff_sessions.sessions_of(target.id), enrolled=two_factor.is_enrolled(target.id),
            passkey_count=passkeys.count_of(target.id), title=_("Sign-in of %(name)s", name=target.username))

    @expose("/<pk>/end-sessions", methods=["POST"])
    @has_access
    def end_sessions(self, pk):
        """End every session of the member (recorded in the audit trail)."""
        target = _member(pk)
        if not ItemForm().validate_on_submit():
            abort(400)
        count = staff_sessions.end_all(target.id)
        activity.record("staff.sessions_ended", obj=target, summary=target.username, actor=current_user)
        flash(_("Sessions ended: %(n)d.", n=count), "success")
        return redirect(url_for("StaffSignInView.member", pk=target.id))

    @expose("/<pk>/reset", methods=["POST"])
    @has_access
    def reset(self, pk):
        """Remove the member's second factor, recovery codes and remembered browsers; end their sessions."""
        target = _member(pk)
        if not ItemForm().validate_on_submit():
            abort(400)
        two_factor.reset(target, current_user)
        flash(_("The second factor of %(name)s was reset; they set it up again at their next sign-in.",
                name=target.username), "success")
        return redirect(url_for("StaffSignInView.member", pk=target.id))
