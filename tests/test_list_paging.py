"""List pages pick their rows' ids first (filter, order, page), then load those rows with their relations."""
import re

from app.security import roles as R
from tests import factories as f

NAMES = [f"Client {n:02d}" for n in range(30)]


def _names(body):
    return re.findall(r"Client \d\d", body)


def test_a_sorted_second_page_holds_the_next_rows_in_order(app, client, login):
    """Sorted by name descending, page 2 of 25-row pages shows exactly the 26th-30th names, in that order."""
    with app.app_context():
        for name in NAMES:
            f.entity(name)
        admin = f.staff(R.ADMIN).id
    login(client, admin)
    first = client.get("/entityview/list/?_oc_EntityView=name&_od_EntityView=desc")
    second = client.get("/entityview/list/?_oc_EntityView=name&_od_EntityView=desc&page_EntityView=1")
    expected = sorted(NAMES, reverse=True)
    assert _dedupe(_names(first.get_data(as_text=True))) == expected[:25]
    assert _dedupe(_names(second.get_data(as_text=True))) == expected[25:]


def test_a_scoped_member_pages_through_their_own_rows_only(app, client, login):
    """A member who sees every other client gets 15 rows in name order over one page, none of the rest."""
    with app.app_context():
        member = f.staff(R.STAFF)
        for n, name in enumerate(NAMES):
            entity = f.entity(name)
            if n % 2:
                f.share(entity, R.VIEWER, user=member)
        member = member.id
    login(client, member)
    body = client.get("/entityview/list/?_oc_EntityView=name&_od_EntityView=asc").get_data(as_text=True)
    assert _dedupe(_names(body)) == [name for n, name in enumerate(NAMES) if n % 2]


def _dedupe(names):
    """Names in order of first appearance (a row may show its name twice, e.g. a link and a title)."""
    return list(dict.fromkeys(names))


def test_a_list_sorted_on_a_related_column_pages_in_that_order(app):
    """Ordered by a relation's column (entity.name), a page comes back in that order (such an order
    takes FAB's own query: the id subquery would hold the relation's join alone)."""
    from app.extensions import db
    from app.models import Task
    from app.views.base import SafeInterface

    with app.app_context():
        for name in reversed(NAMES[:8]):
            db.session.add(Task(entity=f.entity(name), title=f"Task of {name}"))
        db.session.commit()
        count, rows = SafeInterface(Task, db.session).query(None, "entity.name", "asc", 1, 3)
        assert count == 8 and [row.entity.name for row in rows] == NAMES[3:6]
