"""Readiness: /ready and `flask portico check` name each part that is not ready."""
import pytest

from app.storage import make_backend


@pytest.fixture
def broken_storage(app, s3_server):
    """The app's store is an S3 bucket that does not exist (restored afterwards)."""
    settings = {**app.config, **s3_server.env(bucket="no-such-bucket")}
    app.extensions["portico_storage"] = make_backend(settings)
    yield
    app.extensions.pop("portico_storage", None)


def test_ready_is_200_when_every_part_answers(client):
    """Database, migrations at head, Redis and a storage round trip: all ok."""
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json == {"database": "ok", "migrations": "ok", "redis": "ok", "storage": "ok", "status": "ok"}


def test_ready_is_503_when_storage_fails(client, broken_storage):
    """A store that cannot be written makes the node unready; the answer names the part, not the error."""
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json["storage"] == "error" and response.json["database"] == "ok"
    assert "bucket" not in response.get_data(as_text=True).lower()


def test_check_command_passes_with_every_part_up(app, smtp):
    """`flask portico check` exits 0 and lists each part as ok (SMTP: the test sink)."""
    result = app.test_cli_runner().invoke(args=["portico", "check"])
    assert result.exit_code == 0, result.output
    for part in ("database", "migrations", "redis", "storage", "smtp"):
        assert f"ok   {part}:" in result.output


def test_check_command_fails_naming_smtp_and_storage(app, broken_storage):
    """An unreachable SMTP server and a missing bucket: exit 1, one FAIL line each with the reason."""
    from tests.s3server import free_port

    saved = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = free_port()
    try:
        result = app.test_cli_runner().invoke(args=["portico", "check"])
    finally:
        app.config["MAIL_PORT"] = saved
    assert result.exit_code == 1
    assert "FAIL smtp: ConnectionRefusedError" in result.output
    assert "FAIL storage:" in result.output and "NoSuchBucket" in result.output
    assert "ok   database:" in result.output
