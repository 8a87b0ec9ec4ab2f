"""The README's API example (a client's open tasks, a file uploaded to that client) runs as written against
the app on a live loopback server, so it cannot rot."""
import contextlib
import hashlib
import io
import re
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import Document
from app.models.documents import Visibility
from app.security import roles as R
from app.services import tasks
from tests import factories as f
from tests.api_helpers import token_for
from tests.browser import live_server
from tests.documents_helpers import PDF

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- api-example: open tasks and upload -->"
SETTINGS_LINE = 'API, TOKEN, CLIENT = "https://portal.firm.example/api/v1", "ptk_…", 42'


def example_code():
    """The Python block under the README's marker, exactly as published."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text[text.index(MARKER):], re.S).group(1)
    assert SETTINGS_LINE in block
    return block


def test_readme_example_lists_open_tasks_and_uploads_a_file(app, tmp_path, monkeypatch):
    """Run against a live server with an Owner's token: it prints the client's open tasks (not the done one,
    nor another client's) across pages, and the uploaded file lands on that client, shared, byte for byte."""
    with app.app_context():
        client, other = f.entity("Readme Co"), f.entity("Other Co")
        owner = f.staff(R.STAFF)
        f.share(client, R.OWNER, user=owner)
        open_ids = [tasks.create_task(client, f"Open {k}", owner).id for k in range(55)]
        tasks.complete(tasks.create_task(client, "Done already", owner), owner)
        tasks.create_task(other, "Not this client", owner)
        token, client_id = token_for(owner), client.id
    (tmp_path / "engagement-letter.pdf").write_bytes(PDF)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with live_server(app) as base, contextlib.redirect_stdout(out):
        code = example_code().replace(SETTINGS_LINE, f'API, TOKEN, CLIENT = "{base}/api/v1", "{token}", {client_id}')
        exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
    lines = out.getvalue().splitlines()
    assert [int(line.split()[0]) for line in lines[:-1]] == open_ids
    assert lines[-1].startswith("uploaded document") and lines[-1].endswith(hashlib.sha256(PDF).hexdigest())
    with app.app_context():
        doc = db.session.scalar(select(Document).where(Document.name == "engagement-letter.pdf"))
        assert (doc.entity_id, doc.visibility, doc.sha256) == (client_id, Visibility.portal, hashlib.sha256(PDF).hexdigest())
