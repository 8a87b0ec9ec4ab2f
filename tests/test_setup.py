"""Set-up: config rules, migrations from zero vs models, idempotent commands, /health."""
import os
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.demo import seed_demo
from app.services.setup import init_roles
from config import ProductionConfig, _database_url
from tests.conftest import PorticoTestConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_models_and_migrations_agree(app):
    """Autogenerate against the migrated database finds nothing to add, drop or change."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _not_trigram})
        assert compare_metadata(context, db.metadata) == []


def _not_trigram(obj, name, type_, reflected, compare_to):
    """The PostgreSQL-only trigram indexes come from a migration, not from the models."""
    return not (type_ == "index" and (name or "").endswith("_trgm"))


def test_trigram_indexes_exist_on_postgresql_only(app):
    """Name and title searches get pg_trgm GIN indexes on PostgreSQL; SQLite has none (it keeps LIKE)."""
    with app.app_context(), db.engine.connect() as conn:
        inspector = db.inspect(conn)
        found = {ix["name"] for table in ("entity", "document", "task", "contact", "client_request")
                 for ix in inspector.get_indexes(table) if ix["name"].endswith("_trgm")}
        if conn.dialect.name == "postgresql":
            assert found == {"ix_entity_name_trgm", "ix_document_name_trgm", "ix_task_title_trgm",
                             "ix_contact_first_name_trgm", "ix_contact_last_name_trgm", "ix_client_request_subject_trgm"}
        else:
            assert found == set()


def test_every_foreign_key_has_an_index(app):
    """Each foreign key of Portico's tables leads some index (deletes and joins need not scan the child)."""
    missing = []
    for table in db.metadata.sorted_tables:
        if table.name.startswith("ab_") or table.name == "firm_settings":  # FAB's own tables; one settings row
            continue
        leading = {list(ix.columns)[0].name for ix in table.indexes}
        leading |= {list(c.columns)[0].name for c in table.constraints
                    if getattr(c, "columns", None) and c.__class__.__name__ in ("PrimaryKeyConstraint", "UniqueConstraint")}
        leading |= {c.name for c in table.columns if c.index or c.unique}
        missing += [f"{table.name}.{fk.parent.name}" for fk in table.foreign_keys if fk.parent.name not in leading]
    assert missing == []


def test_migrations_run_down_to_zero_and_up_again(app):
    """The migration chain downgrades to an empty database and upgrades back to head."""
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        db.session.remove()
        downgrade(revision="base")
        with db.engine.connect() as conn:
            names = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
        assert names == set()
        upgrade()
        init_roles()
        with db.engine.connect() as conn:
            assert {"entity", "ab_user", "contact", "entity_share"} <= set(db.inspect(conn).get_table_names())


def _row_counts():
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def test_seed_demo_twice_changes_nothing(ctx):
    """A second seed-demo (and init) leaves every table exactly as the first one did."""
    seed_demo()
    first = _row_counts()
    assert first["entity"] == 20 and first["contact"] == 40 and first["ab_user"] == 6 + 4  # 4 demo client accounts
    assert first["task_series"] == 3 and first["client_request"] == 3 and first["task"] == 9 + 3
    kinds = {k for (k,) in db.session.execute(db.text("SELECT DISTINCT kind FROM message"))}
    assert kinds == {"internal", "portal", "email"}
    assert first["document"] == 20 + 4 and first["folder"] == 20 + 1  # the demo tree of four entities; K-1s
    assert first["tax_voucher"] == 14 and first["k1_recipient"] == 5
    assert first["organizer_template"] == 2 and first["organizer"] == 3  # each organizer rides on a task
    init_roles()
    lines = seed_demo()
    assert _row_counts() == first
    assert any("admin" in line for line in lines)
    kinds = {k for (k,) in db.session.execute(db.text("SELECT DISTINCT kind FROM entity"))}
    assert kinds == {"individual", "company", "partnership", "s_corp", "trust", "non_profit"}


def test_seed_demo_contacts_in_two_entities(ctx):
    """Some demo contacts are shared on two entities, so the demo shows multi-entity clients."""
    seed_demo()
    rows = db.session.execute(db.text(
        "SELECT contact_id FROM entity_share WHERE contact_id IS NOT NULL GROUP BY contact_id HAVING COUNT(*) > 1"
    )).all()
    assert len(rows) >= 3


@pytest.mark.parametrize("key", [None, "dev-insecure-key", "short"])
def test_production_refuses_to_start_without_a_real_secret_key(key):
    """Production without a SECRET_KEY, with the dev default, or a short one does not start."""

    class Prod(ProductionConfig):
        SECRET_KEY = key
        SQLALCHEMY_DATABASE_URI = PorticoTestConfig.SQLALCHEMY_DATABASE_URI

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Prod)


def test_production_warns_on_sqlite():
    """Production starts with a real key but warns when the database is SQLite."""

    class Prod(ProductionConfig):
        SECRET_KEY = "x" * 48
        SQLALCHEMY_DATABASE_URI = "sqlite:///" + "/tmp/portico-prod-warning.db"
        REDIS_URL = PorticoTestConfig.REDIS_URL
        RATELIMIT_ENABLED = False

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        application = create_app(Prod)
    assert application.config["SESSION_COOKIE_SECURE"] is True
    assert any("SQLite" in str(w.message) for w in caught)


def test_database_url_is_normalised(monkeypatch):
    """postgres:// and postgresql:// URLs use the psycopg 3 driver."""
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db/portico")
    assert _database_url("x.db") == "postgresql+psycopg://u:p@db/portico"
    monkeypatch.delenv("DATABASE_URL")
    assert _database_url("x.db").startswith("sqlite:///")


def test_health_is_ok_when_database_and_redis_answer(client):
    """/health: 200 with both parts ok."""
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "redis": "ok", "status": "ok"}


def test_health_is_503_when_redis_is_down(app):
    """/health: 503 and redis "error" when Redis does not answer (a closed port)."""

    class NoRedis(PorticoTestConfig):
        REDIS_URL = "redis://127.0.0.1:1/0"

    response = create_app(NoRedis).test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["redis"] == "error"
    assert response.get_json()["database"] == "ok"


def test_in_ci_a_skip_without_a_declared_reason_fails(tmp_path):
    """With CI set, an undeclared skip fails the run and a may_skip_in_ci one stays a skip; without CI both skip."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n"
        "def test_undeclared():\n    pytest.skip(reason='no tool')\n"
        "@pytest.mark.may_skip_in_ci(reason='needs a GPU, CI has none')\n"
        "def test_declared():\n    pytest.skip(reason='no GPU')\n")

    def run(ci):
        env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": "1"} if ci else {})
        env["PYTHONPATH"] = root
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.ci_skips", "-p", "no:cacheprovider",
                               "--rootdir", str(tmp_path), str(tmp_path)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    in_ci, local = run(True), run(False)
    assert in_ci.returncode == 1 and "1 failed, 1 skipped" in in_ci.stdout, in_ci.stdout
    assert "skipped in CI without a declared reason (no tool)" in in_ci.stdout
    assert local.returncode == 0 and "2 skipped" in local.stdout, local.stdout


def test_a_web_worker_freezes_its_loaded_app_out_of_garbage_collection():
    """gunicorn.conf.py's post_worker_init moves the built app's objects to the collector's permanent
    generation (a full collection walked them all: a 117 ms pause every twenty requests at scale), and
    raises the collector's thresholds."""
    import gc
    import importlib.util

    spec = importlib.util.spec_from_file_location("gunicorn_settings", os.path.join(ROOT, "gunicorn.conf.py"))
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    try:
        before = gc.get_threshold()
        settings.post_worker_init(None)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= 10_000  # young collections a few times a request, not dozens
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
