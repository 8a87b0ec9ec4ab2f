"""The ops console at /ops: notification outbox, webhook deliveries, background jobs and the audit log,
for firm Admins only.

Flask-Admin 2.2 mounted beside FAB under its own endpoints (`ops`, `ops_outbox`, `ops_webhooks`,
`ops_jobs`, `ops_audit`). It has no login of its own: every view, the index included, asks the access module
whether the FAB user signed in manages roles (only Admins do). Anonymous visitors are sent to FAB's
login, everybody else gets 403. Every state change is a POST carrying a Flask-WTF CSRF token.
There is deliberately no Redis console (Flask-Admin's RedisCli takes POSTs without a CSRF token).
"""

from flask import request
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.menu import MenuLink
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l
from redis.exceptions import RedisError
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from app import jobs as app_jobs
from app.services.delivery_render import portal_address_warning
from app.extensions import db
from app.models import ActivityEvent, Notification, WebhookDelivery
from app.models.notifications import NotificationState
from app.redis_conn import get_redis
from app.ops.audit import AuditLogView
from app.ops.base import STATE_LABELS, AdminOnlyMixin
from app.ops.jobs import JobsView
from app.ops.outbox import OutboxView
from app.ops.webhooks import WebhookDeliveryView


class OpsIndex(AdminOnlyMixin, AdminIndexView):
    """The console's front page: what needs attention."""

    @expose("/")
    def index(self):
        rows = db.session.execute(select(Notification.state, func.count()).group_by(Notification.state)).all()
        states = {state: count for state, count in rows}
        outbox = [(state, STATE_LABELS.get(state.name, state.name), states.get(state, 0))
                  for state in NotificationState]
        try:
            connection = get_redis()
            failed_jobs = sum(FailedJobRegistry(name, connection=connection).count for name in app_jobs.QUEUES)
        except RedisError:
            failed_jobs = None
        from app.services.delivery_stats import outbox_health

        from app.services.webhooks import health as webhook_health

        return self.render("ops/index.html", outbox=outbox, failed_jobs=failed_jobs, health=outbox_health(),
                           webhooks=webhook_health(), address_warning=portal_address_warning(request.host_url))


def init_ops(app):
    """Mount the ops console at /ops on `app` (a new Admin and new views for every app)."""
    from app.web.headers import csp_nonce

    admin = Admin(
        app,
        name=_l("Portico ops"),
        url="/ops",
        endpoint="ops",
        index_view=OpsIndex(name=_l("Overview"), url="/ops", endpoint="ops"),
        theme=Bootstrap4Theme(fluid=True),
        csp_nonce_generator=csp_nonce,
    )
    admin.add_view(OutboxView(Notification, db, name=_l("Outbox"), endpoint="ops_outbox", url="/ops/outbox"))
    admin.add_view(WebhookDeliveryView(WebhookDelivery, db, name=_l("Webhook deliveries"), endpoint="ops_webhooks",
                                       url="/ops/webhooks"))
    admin.add_view(JobsView(name=_l("Background jobs"), endpoint="ops_jobs", url="/ops/jobs"))
    admin.add_view(AuditLogView(ActivityEvent, db, name=_l("Audit log"), endpoint="ops_audit", url="/ops/audit"))
    if app.config["DEV_MAIL"]:
        from app.ops.mail import DevMailView

        admin.add_view(DevMailView(name=_l("Development mail"), endpoint="ops_mail", url="/ops/mail"))
    admin.add_link(MenuLink(name=_l("Back to Portico"), url="/"))
    return admin
