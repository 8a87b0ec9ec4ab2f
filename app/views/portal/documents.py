"""Portal documents: folders, search, filters, sort, view and download of shared files."""
from flask import render_template
from flask_babel import gettext as _

from app.views.portal import bp


@bp.route("/documents")
def documents():
    """The shared documents of the current entity."""
    return render_template("portal/documents/index.html", title=_("Documents"))
