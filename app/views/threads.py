"""What the staff screens of a task and of a client request share about their message thread: the
composer's three buttons, worded and coloured alike on both."""
from flask_babel import lazy_gettext as _l

from app.models import MessageKind

# (kind, label, Bootstrap button class, Font Awesome icon): the button pressed decides who sees it.
COMPOSER_KINDS = (
    (MessageKind.internal, _l("Post internal comment (staff only)"), "btn-warning", "fa-lock"),
    (MessageKind.portal, _l("Send portal message (client sees it)"), "btn-success", "fa-comments"),
    (MessageKind.email, _l("Send e-mail (to the client, kept here)"), "btn-primary", "fa-envelope"),
)
