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


@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--with-blobs/--without-blobs", default=None,
              help="Put the blobs in the archive (default: yes for local storage, no for S3: keys and hashes only).")
def backup_command(path, with_blobs):
    """Write one consistent archive: database dump, blobs (or their manifest) and a manifest."""
    from app.services.backup import BackupError, create_backup

    try:
        manifest = create_backup(path, with_blobs)
    except BackupError as error:
        raise click.ClickException(str(error))
    missing = manifest.get("missing_blobs") or []
    click.echo(f"Backup written to {path}: {manifest['dialect']} at {', '.join(manifest['alembic_revision'])}, "
               f"{sum(manifest['counts'].values())} rows, {len(manifest['blobs'])} blobs "
               f"({'in the archive' if manifest['blobs_included'] else 'listed with their sha256'}).")
    if missing:
        click.echo(f"{len(missing)} blob(s) could not be copied (deleted since the snapshot, or altered): "
                   + ", ".join(missing), err=True)


@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
def restore_command(path, force):
    """Rebuild this (empty) deployment from an archive written by `flask portico backup`."""
    from app.services.backup import BackupError, restore_backup

    try:
        result = restore_backup(path, force=force)
    except BackupError as error:
        raise click.ClickException(str(error))
    click.echo(f"Restored from {path}: {result['blobs_restored']} blobs copied into storage; "
               f"row counts {'match' if result['counts_match'] else 'DIFFER from'} the manifest.")
    if result["missing_blobs"]:
        click.echo(f"{len(result['missing_blobs'])} referenced blob(s) are not in storage: "
                   + ", ".join(result["missing_blobs"]), err=True)
    if result["missing_blobs"] or not result["counts_match"]:
        sys.exit(1)


def register(group):
    """Add the operations commands to the `portico` command group."""
    group.command("storage-verify")(storage_verify_command)
    group.command("storage-migrate")(storage_migrate_command)
    group.command("check")(check_command)
    group.command("backup")(backup_command)
    group.command("restore")(restore_command)
