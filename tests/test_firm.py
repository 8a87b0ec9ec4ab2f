"""Firm settings: the logo (upload, serving, in mails)."""
import io

from app.security import roles as R
from app.services.firm import get_settings
from tests import documents_helpers as h
from tests import factories as f
from tests.conftest import csrf_token


def test_admin_uploads_a_logo_that_is_served_and_used_in_mails(app, client, login):
    """A PNG logo is stored, served at /firm-logo (nosniff, sandbox), and the mail HTML shows it."""
    with app.app_context():
        admin, staff = f.staff(R.ADMIN).id, f.staff(R.STAFF).id
    assert client.get("/firm-logo").status_code == 404
    login(client, staff)
    token = csrf_token(client, "/resetmypassword/form")
    assert client.post("/firmsettingsview/logo", data={"csrf_token": token, "logo": (io.BytesIO(h.PNG), "l.png")},
                       content_type="multipart/form-data").status_code == 403
    login(client, admin)
    token = csrf_token(client, "/resetmypassword/form")
    refused = client.post("/firmsettingsview/logo", data={"csrf_token": token, "logo": (io.BytesIO(h.SVG), "l.png")},
                          content_type="multipart/form-data", follow_redirects=True)
    assert "Web pages, SVG images and scripts cannot be uploaded." in refused.get_data(as_text=True)
    client.post("/firmsettingsview/logo", data={"csrf_token": token, "logo": (io.BytesIO(h.PNG), "logo.png")},
                content_type="multipart/form-data")
    served = client.get("/firm-logo")
    assert served.status_code == 200 and served.data == h.PNG and served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    with app.app_context():
        from app.services.delivery import render

        person = f.contact(first="Logo")
        assert get_settings().logo_key.startswith("png:")
        with app.test_request_context():
            html = render(person, [])[2]
        assert '<img src="http://127.0.0.1:5000/firm-logo"' in html
