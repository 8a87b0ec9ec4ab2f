"""Ids that travel in forms and query strings (relation choices, folders, documents to attach, the
portal's entity switch): the owner's own id does the work, a foreign entity's id changes nothing.

Each row is run twice on the shared cast: with the own-entity id (the positive control: the request
must really change something, so the refused run is not refused for some other reason) and with
the foreign one (nothing may change, and the answer is a form error, 400, 403 or 404 — never a 500).
"""
import io

import pytest

from app.security import roles as R
from tests import factories as f
from tests.documents_helpers import PDF
from tests.access_world import cast, put_back_changes, signed_in, world  # noqa: F401 (fixtures)

VOUCHER = {"tax_year": "2026", "authority": "IRS", "form_period": "1040-ES Q2", "amount": "10.00",
           "due_date": "2026-12-31", "status": "unpaid"}
CSV = b"tax_year,authority,form_period,amount,due_date\n2026,IRS,1040-ES Q3,12.50,2026-12-31\n"

# actor, url, form fields (ID = the id under test, "X_a"/"X_b" at run time), own name, foreign name
ROWS = [
    ("owner", "/taskview/new", {"entity": "ID", "title": "T", "frequency": "once", "interval": "1"},
     "entity_a", "entity_b"),
    ("owner", "/file-requests/new?entity=ID", {"subject": "S", "recipients": "REC"}, "entity_a", "entity_b"),
    ("owner", "/taxvoucherview/add", dict(VOUCHER, entity="ID"), "entity_a", "entity_b"),
    ("owner", "/taxvoucherview/import", {"entity": "ID", "file": "CSV"}, "entity_a", "entity_b"),
    ("owner", "/k1recipientview/add", {"entity": "ID", "name": "New Partner", "email": "np@partners.example"},
     "entity_a", "entity_b"),
    ("owner", "/entityshareview/add", {"entity": "ID", "role": "VIEWER", "user": "STAFF"}, "entity_a", "entity_b"),
    ("owner", "/entityshareview/edit/SHARE", {"entity": "ID", "role": "OWNER", "user": "OWNER_ID"}, None, "entity_b"),
    ("owner", "/documents/entity/A/upload", {"folder_id": "ID", "files": "PDF", "visibility": "staff_only",
                                             "direction": "from_firm"}, "folder_a", "folder_b"),
    ("owner", "/documents/entity/A/folders", {"parent_id": "ID", "name": "Sub"}, "folder_a", "folder_b"),
    ("owner", "/taskview/TASK/attach", {"document_id": "ID"}, "staff_document_a", "document_b"),
    ("owner", "/documentview/edit/DOC", {"name": "renamed.pdf", "folder": "ID", "status": "reviewed",
                                         "visibility": "portal"}, "folder_a", "folder_b"),
    ("owner", "/k1recipientview/edit/K1", {"name": "Pat", "email": "pat@partners.example", "document": "ID"},
     "staff_document_a", "document_b"),
    ("collaborator", "/portal/k1/distribute", {"recipient_id": "ID"}, "k1_a", "k1_b"),
    ("collaborator", "/portal/entity", {"entity_id": "ID"}, None, "entity_b"),
]


def _fill(app, ids, fields, value, token):
    """The form with the id under test and the cast's other ids filled in."""
    with app.app_context():
        roles = {"VIEWER": f.role(R.VIEWER).id, "OWNER": f.role(R.OWNER).id}
    side = "a" if value == ids.get("entity_a") else "b"
    named = {"ID": value, "STAFF": ids["staff"], "OWNER_ID": ids["owner"], **roles,
             "REC": ids["collaborator"] if side == "a" else ids["other"]}
    data = {"csrf_token": token}
    for key, raw in fields.items():
        if raw == "PDF":
            data[key] = (io.BytesIO(PDF), "form-ids.pdf")
        elif raw == "CSV":
            data[key] = (io.BytesIO(CSV), "vouchers.csv")
        else:
            data[key] = named.get(raw, raw)
    return data


def _url(ids, template, value):
    swaps = {"ID": value, "SHARE": ids["share_a"], "TASK": ids["task_a"], "DOC": ids["document_a"],
             "K1": ids["k1_a"], "/A/": f"/{ids['entity_a']}/"}
    for key, replacement in swaps.items():
        template = template.replace(key, str(replacement))
    return template


def _post(app, ids, actor, url, fields, name, login, portal_login):
    test_client, token = signed_in(app, ids, actor, portal_login, login)
    value = ids[name]
    response = test_client.post(_url(ids, url, value), data=_fill(app, ids, fields, value, token),
                                content_type="multipart/form-data")
    return response


@pytest.mark.parametrize("actor, url, fields, own, foreign", ROWS, ids=[f"{r[0]}-{r[1]}" for r in ROWS])
def test_a_foreign_id_in_a_form_changes_nothing(app, cast, world, login, portal_login, actor, url, fields, own,
                                                foreign):
    """The own entity's id does the work; the foreign entity's id is refused and changes nothing."""
    snapshot = world[1]
    if own is not None:
        response = _post(app, cast, actor, url, fields, own, login, portal_login)
        assert response.status_code in (200, 302) and put_back_changes(app, snapshot), "positive control did nothing"
    response = _post(app, cast, actor, url, fields, foreign, login, portal_login)
    touched = put_back_changes(app, snapshot)
    assert response.status_code in (200, 400, 403, 404), response.status_code
    assert touched == [], f"a foreign id changed {touched}"
