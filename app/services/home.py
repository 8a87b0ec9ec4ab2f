"""Figures for the staff home page."""
from sqlalchemy import func, select

from app.extensions import db
from app.models import ActivityEvent, Contact, Entity
from app.security import access
from app.services.firm import get_settings


def overview(user):
    """The firm's name, counts of what `user` can see, and the 5 latest events in their scope."""
    entities = db.session.scalar(select(func.count(Entity.id)).where(access.scope(user, Entity)))
    contacts = db.session.scalar(select(func.count(Contact.id)).where(access.scope(user, Contact)))
    recent = db.session.scalars(
        select(ActivityEvent)
        .where(access.scope(user, ActivityEvent))
        .order_by(ActivityEvent.created_on.desc())
        .limit(5)
    ).all()
    return {"firm": get_settings(), "entities": entities, "contacts": contacts, "recent": recent}
