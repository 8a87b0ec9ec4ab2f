"""The K-1 guest page under /k1: a partner opens their own K-1 with the mailed link and an access code
(no account). Placeholder until the K-1 pages land."""
from flask import Blueprint, abort

bp = Blueprint("k1", __name__, url_prefix="/k1")
# Every guest route checks the link and the code itself; none needs a signed-in user.
PUBLIC = {"k1.open"}


@bp.route("/<token>", methods=["GET", "POST"])
def open(token):  # noqa: A001 (the endpoint's name)
    """The guest page of one K-1 link."""
    abort(404)


def register(app):
    """Attach the guest blueprint."""
    app.register_blueprint(bp)
