"""The staff home page behind the FAB login."""
from flask import redirect, url_for
from flask_appbuilder import IndexView, expose
from flask_login import current_user

from app.security import access

from app.services import home as home_service


class HomeView(IndexView):
    """Staff home: the firm, and what the signed-in user can reach."""

    route_base = ""
    index_template = "portico/home.html"

    @expose("/")
    def index(self):
        """Anonymous visitors go to the login; staff see their overview."""
        if not current_user.is_authenticated:
            return redirect(url_for(f"{self.appbuilder.sm.auth_view.endpoint}.login"))
        if access.is_contact(current_user):  # a client's account: its pages are the portal's
            return redirect(url_for("portal.home"))
        return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                    overview=home_service.overview(current_user))
