"""`flask portico …` operations commands: storage check and migration, readiness check, backup."""
import sys

import click
from flask import current_app


def storage_verify_command():
    """Read every stored blob back and compare it with its recorded sha256 (exit 1 on a problem)."""
    from app.services.storage import verify_storage

    problems = verify_storage()
    for key, problem in problems:
        click.echo(f"{key}: {problem}", err=True)
    click.echo(f"{len(problems)} problem(s) found.")
    sys.exit(1 if problems else 0)


@click.option("--to", "to", type=click.Choice(["local", "s3"]), required=True, help="The backend to copy into.")
@click.option("--from", "source", type=click.Choice(["local", "s3"]), default=None,
              help="The backend to copy from (default: STORAGE_BACKEND).")
def storage_migrate_command(to, source):
    """Copy every blob to another backend and verify each hash (idempotent, resumable)."""
    from app.services.storage import migrate_storage
    from app.storage import make_backend

    source = source or current_app.config.get("STORAGE_BACKEND", "local")
    if source == to:
        raise click.UsageError("--to must differ from the source backend")
    counts = migrate_storage(make_backend(current_app.config, source), make_backend(current_app.config, to),
                             report=lambda line: click.echo(line, err=True))
    click.echo(f"{source} → {to}: copied {counts['copied']}, already there {counts['skipped']}, "
               f"failed {counts['failed']}.")
    if counts["failed"]:
        click.echo(f"Set STORAGE_BACKEND={to} only once a run reports no failure.", err=True)
        sys.exit(1)


def check_command():
    """Check the database, migrations, Redis, storage and SMTP; exit 1 naming each failed part."""
    from app.services.readiness import run_checks

    failed = 0
    for part, ok, detail in run_checks(smtp=True):
        click.echo(f"{'ok  ' if ok else 'FAIL'} {part}: {detail}", err=not ok)
        failed += not ok
    sys.exit(1 if failed else 0)


def register(group):
    """Add the operations commands to the `portico` command group."""
    group.command("storage-verify")(storage_verify_command)
    group.command("storage-migrate")(storage_migrate_command)
    group.command("check")(check_command)
