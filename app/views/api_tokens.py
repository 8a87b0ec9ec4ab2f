"""API tokens: a staff member's own (create — shown once —, list with their recent calls, revoke), and
every staff token for those who manage them all (Admins)."""
from flask import abort, flash, redirect, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.models import TokenScope
from app.models.api_tokens import SCOPE_LABELS
from app.services import api_tokens
from app.views.base import parse_pk


class TokenForm(FlaskForm):
    """A new token: its name, what it may do, and until when."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=api_tokens.NAME_MAX)],
                       description=_l("What the token is for, e.g. “Practice software sync”."))
    scope = SelectField(_l("Access"), choices=[(s.value, SCOPE_LABELS[s]) for s in TokenScope], default="read")
    expires_on = DateField(_l("Expires on"), validators=[DataRequired()],
                           description=_l("At most a year from today."))


class ItemForm(FlaskForm):
    """Which token a button is about (in the body, never in the address)."""

    item = HiddenField()


class ApiTokensView(BaseView):
    """/api-tokens/: one's own API tokens; /api-tokens/all: every staff member's (can_manage)."""

    route_base = "/api-tokens"
    default_view = "index"
    base_permissions = ["can_list", "can_add", "can_delete", "can_manage"]
    method_permission_name = {"index": "list", "create": "add", "revoke": "delete", "all": "manage",
                              "revoke_any": "manage"}

    @expose("/")
    @has_access
    def index(self):
        """One's tokens and the latest calls made with them, with the form for a new one."""
        form = TokenForm()
        form.expires_on.data = api_tokens.default_expiry()
        return self._page(form)

    @expose("/", methods=["POST"])
    @has_access
    def create(self):
        """Create a token and show its text this once (the page is not cached, the text not stored)."""
        form = TokenForm()
        if not form.validate_on_submit():
            return self._page(form), 400
        try:
            token, text = api_tokens.create(current_user, form.name.data, TokenScope(form.scope.data),
                                            form.expires_on.data)
        except api_tokens.TokenError as exc:
            form.name.errors = list(form.name.errors) + [str(exc)]
            return self._page(form), 400
        except ValueError:
            abort(400)
        return self._page(TokenForm(formdata=None, expires_on=api_tokens.default_expiry()), new_token=text,
                          new_row=token)

    @expose("/revoke", methods=["POST"])
    @has_access
    def revoke(self):
        """Revoke one of one's own tokens (another's is 404 here)."""
        token = self._token(own=True)
        api_tokens.revoke(token, current_user)
        flash(_("The token %(name)s was revoked.", name=token.name), "success")
        return redirect(url_for(".index"))

    @expose("/all")
    @has_access
    def all(self):
        """Every staff member's live tokens."""
        return self.render_template("portico/api_tokens/all.html", tokens=api_tokens.all_tokens(), form=ItemForm(),
                                    title=_("API tokens of all staff"))

    @expose("/all/revoke", methods=["POST"])
    @has_access
    def revoke_any(self):
        """Revoke any staff member's token."""
        token = self._token(own=False)
        api_tokens.revoke(token, current_user)
        flash(_("The token %(name)s of %(user)s was revoked.", name=token.name, user=token.user.username), "success")
        return redirect(url_for(".all"))

    def _token(self, own):
        form = ItemForm()
        if not form.validate_on_submit():
            abort(400)
        token = api_tokens.find(current_user, parse_pk(form.item.data or ""))
        if token is None or (own and token.user_id != current_user.id):
            abort(404)
        return token

    def _page(self, form, new_token=None, new_row=None):
        uid = current_user.id
        return self.render_template(
            "portico/api_tokens/index.html", form=form, item_form=ItemForm(), tokens=api_tokens.tokens_of(uid),
            calls=api_tokens.recent_calls(uid), new_token=new_token, new_row=new_row,
            latest=api_tokens.latest_expiry(), manage_all=api_tokens.may_manage_all(current_user),
            now=api_tokens.now(), title=_("API tokens"))
