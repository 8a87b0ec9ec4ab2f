"""Requests per second of Portico's main pages against a bare Flask page, under the same gunicorn.

Usage: .venv/bin/python bench/pages.py [--seconds 10] [--connections 16] [--workers 2]
Builds a throwaway SQLite database with the demo firm (`seed_demo`), a private redis-server and a
storage folder, then serves Portico (ProductionConfig, rate limits on) and a bare Flask page
(`bare` below) with `gunicorn -w 2` each, both under the project's gunicorn.conf.py (access log,
a worker recycled every GUNICORN_MAX_REQUESTS requests: at 2,000 the bare page lost almost half its
rate to restarts). Sessions are minted as the test fixtures do: a staff
session for a scoped accountant (maria.tamm) and a portal session registered in Redis for the demo
contact with the most tasks. Every page is checked for a 200 first and then asked once more with the
session cookie its first answer set, as a browser would (a first page settles the session: the
chosen entity, a permanent cookie); then `wrk` (16 connections,
2 threads) hits each page for --seconds and the script prints requests/s, bytes and the ratio to
the bare page, which is measured before and after each Portico page (the mean of the two is that
page's reference, so a machine whose load changes during the run shifts both sides alike).

Targets (issue 11): portal pages >= 0.25 and staff lists >= 0.10 of the bare page.
"""
import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from flask import Flask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK = shutil.which("wrk") or "/usr/bin/wrk"
PORTAL_PAGES = [("portal home", "/portal/"), ("portal task", "/portal/tasks/{task}"),
                ("portal documents", "/portal/documents"), ("portal requests", "/portal/requests")]
STAFF_PAGES = [("staff entities", "/entityview/list/"), ("staff tasks", "/taskview/list/"),
               ("staff documents", "/documentview/list/"), ("staff contacts", "/contactview/list/")]

bare = Flask("bare")


@bare.route("/")
def bare_page():
    """A small HTML page, as a reference for the framework's own cost."""
    return "<!doctype html><title>Bare</title><p>Hello from a bare Flask page.</p>"


PREPARE = r"""
import json, time
from flask_migrate import upgrade
from sqlalchemy import func, select
from app import create_app
from app.extensions import db
from app.models import Contact, Task
from app.models.tasks import PortalState, task_assignees
from app.services import staff_sessions
from app.services.portal import auth as portal_auth
from app.demo import seed_demo
from app.services.setup import init_roles

app = create_app()
with app.app_context():
    upgrade(); init_roles(); seed_demo()
    staff = app.appbuilder.sm.find_user(username="maria.tamm")
    contact_id, task_id = db.session.execute(
        select(task_assignees.c.contact_id, func.min(task_assignees.c.task_id))
        .join(Task, Task.id == task_assignees.c.task_id).join(Contact, Contact.id == task_assignees.c.contact_id)
        .where(Task.portal_state == PortalState.assigned, Contact.user_id.is_not(None))
        .group_by(task_assignees.c.contact_id).order_by(func.count().desc(), task_assignees.c.contact_id)).first()
    contact = db.session.get(Contact, contact_id)
    with app.test_request_context():
        token = portal_auth.register_session(contact.id)
        staff_token = staff_sessions.register(staff.id, "full", "127.0.0.1", "bench", 3600)
    cookies = {}
    for name, values in (("staff", {"_user_id": str(staff.id), "_fresh": True, "staff_session": staff_token}),
                         ("portal", {"_user_id": str(contact.user_id), "_fresh": True, "portal_session": token})):
        client = app.test_client()
        with client.session_transaction() as session:
            session.update(values, _started=int(time.time()))
        cookies[name] = client.get_cookie("session").value
    print(json.dumps({"cookies": cookies, "task": task_id, "contact": contact.full_name}))
"""


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port, timeout=60):
    """Wait until something accepts connections on `port`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def gunicorn(target, port, workers, env):
    """Start `gunicorn -w N target` on 127.0.0.1:port."""
    command = [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", str(workers), "-b",
               f"127.0.0.1:{port}", "--log-level", "warning", target]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    wait_for(port)
    return process


def fetch(port, path, cookie):
    """(status, bytes, session cookie) of one GET: the cookie the answer set, as a browser keeps it
    (else the one sent)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Cookie": f"session={cookie}"} if cookie else {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    for header in response.msg.get_all("Set-Cookie") or ():
        if header.startswith("session="):
            cookie = header.split(";", 1)[0].split("=", 1)[1]
    return response.status, len(body), cookie


def wrk(port, path, cookie, seconds, connections):
    """Requests per second wrk measures on one page (and the count of non-2xx answers)."""
    command = [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s"]
    if cookie:
        command += ["-H", f"Cookie: session={cookie}"]
    out = subprocess.run(command + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                         timeout=seconds + 60, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, int(errors.group(1)) if errors else 0


def prepare(env):
    """Migrate, seed the demo firm and mint the two sessions; returns the prepare script's JSON."""
    done = subprocess.run([sys.executable, "-c", PREPARE], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def environment(tmp, redis_port):
    """Production settings on a throwaway SQLite file, storage folder and Redis."""
    env = dict(os.environ, PORTICO_ENV="production", SECRET_KEY=secrets.token_hex(32),
               DATABASE_URL="sqlite:///" + os.path.join(tmp, "bench.db"), STORAGE_DIR=os.path.join(tmp, "storage"),
               REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
               RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{redis_port}/1", PYTHONPATH=ROOT)
    env.pop("FLASK_DEBUG", None)
    return env


def run(args):
    """Set up, measure every page, print the table."""
    tmp = tempfile.mkdtemp(prefix="portico-pages-")
    redis_port, app_port, bare_port = free_port(), free_port(), free_port()
    processes = [subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL)]
    try:
        wait_for(redis_port)
        env = environment(tmp, redis_port)
        setup = prepare(env)
        processes.append(gunicorn("run:app", app_port, args.workers, env))
        processes.append(gunicorn("bench.pages:bare", bare_port, args.workers, env))
        pages = [(label, path.format(task=setup["task"]), setup["cookies"]["portal"]) for label, path in PORTAL_PAGES]
        pages += [(label, path, setup["cookies"]["staff"]) for label, path in STAFF_PAGES]
        rows = measure(pages, app_port, bare_port, args)
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    report(rows, args, setup["contact"])


def measure(pages, app_port, bare_port, args):
    """[(label, bytes, req/s, non-2xx, bare req/s around it)]: the bare page is measured before and
    after every Portico page, so a busy machine shifts both sides of each ratio alike."""
    for label, path, cookie in pages:
        status = fetch(app_port, path, cookie)[0]
        if status != 200:
            sys.exit(f"{label} {path} answered {status}")
    bare_size = fetch(bare_port, "/", None)[1]
    previous = wrk(bare_port, "/", None, args.seconds, args.connections)[0]
    rows = []
    for label, path, cookie in pages:
        cookie = fetch(app_port, path, cookie)[2]  # as a browser: the session the page left (history, entity)
        size = fetch(app_port, path, cookie)[1]
        rate, errors = wrk(app_port, path, cookie, args.seconds, args.connections)
        following = wrk(bare_port, "/", None, args.seconds, args.connections)[0]
        rows.append((label, size, rate, errors, (previous + following) / 2))
        previous = following
    return bare_size, rows


def report(measured, args, contact):
    """Print one table: page, bytes, requests/s, non-2xx, bare requests/s around it, ratio."""
    bare_size, rows = measured
    print(f"gunicorn -w {args.workers}, wrk {args.connections} connections x {args.seconds}s, SQLite demo firm;"
          f" portal as {contact}, staff as maria.tamm (Staff); bare page {bare_size} bytes")
    print(f"| {'page':<18} | {'bytes':>6} | {'req/s':>7} | {'non-2xx':>7} | {'bare req/s':>10} | {'ratio':>6} |")
    print(f"|{'-' * 20}|{'-' * 7}:|{'-' * 8}:|{'-' * 8}:|{'-' * 11}:|{'-' * 7}:|")
    for label, size, rate, errors, bare_rate in rows:
        ratio = rate / bare_rate
        print(f"| {label:<18} | {size:>6} | {rate:>7.1f} | {errors:>7} | {bare_rate:>10.1f} | {ratio:>6.3f} |")


def main():
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
