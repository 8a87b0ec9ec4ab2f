"""200 portal users at once for 60 s against gunicorn + PostgreSQL: sign in, home, a task, documents,
upload a file, reply. Prints requests, errors and p50/p95 per step.

Usage (on the firm bench/scale.py built):
    DATABASE_URL=postgresql+psycopg://portico:portico@127.0.0.1:5432/portico_scale \\
        .venv/bin/python bench/load.py [--users 200] [--seconds 60] [--workers 4]

Starts, on 127.0.0.1 only and for this run: a private redis-server, an SMTP sink (aiosmtpd) that
keeps the access codes, `gunicorn -w N run:app` and two rq workers. Each virtual user is a portal
contact of the bench firm (created once, `bench.load<N>@bench.example`, sharing the bench portal
contact's first entity and assigned one of its tasks) and signs in through the real flow: e-mail,
PIN, then the code from its mail; its --seconds of steps start once it is in. Each user sends its own X-Forwarded-For (TRUSTED_PROXIES=1), as
users behind a proxy do, so the per-network code limit counts each user apart. Everything stops
after --seconds (plus sign-in and shutdown time, bounded by timeouts).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import urllib3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_setup import PIN, SmtpSink, free_port, prepare_users  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = ("sign in", "home", "task", "documents", "upload", "reply")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class User:
    """One browser: its cookies, its address, and the timings of its steps."""

    def __init__(self, base, email, task_id, number, pool, sink, results):
        self.base, self.email, self.task_id, self.pool, self.sink = base, email, task_id, pool, sink
        self.cookies, self.results = {}, results
        self.headers = {"X-Forwarded-For": f"10.{number // 250}.{number % 250}.1"}

    def request(self, method, path, fields=None, files=None):
        headers = dict(self.headers, Cookie="; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if files:
            response = self.pool.request(method, self.base + path, fields=dict(fields or {}, **files),
                                         headers=headers, redirect=False, timeout=30.0)
        elif fields is not None:
            response = self.pool.request_encode_body(method, self.base + path, fields=fields, headers=headers,
                                                     encode_multipart=False, redirect=False, timeout=30.0)
        else:
            response = self.pool.request(method, self.base + path, headers=headers, redirect=False, timeout=30.0)
        for raw in response.headers.getlist("Set-Cookie"):
            name, _, value = raw.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value
        return response

    def token(self, path):
        body = self.request("GET", path).data
        found = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body) or \
            re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', body)
        return found.group(1).decode() if found else ""

    def step(self, name, action):
        started = time.perf_counter()
        try:
            ok = action()
        except Exception:  # noqa: BLE001 (a failed request is an error of the step, counted, not raised)
            ok = False
        self.results.append((name, time.perf_counter() - started, ok))
        return ok

    def sign_in(self):
        self.request("POST", "/portal/sign-in", {"email": self.email, "csrf_token": self.token("/portal/sign-in")})
        answer = self.request("POST", "/portal/sign-in/pin", {"pin": PIN, "csrf_token": self.token("/portal/sign-in/pin")})
        if answer.status != 302:
            return False
        code = self.sink.wait_code(self.email, timeout=60)
        answer = self.request("POST", "/portal/sign-in/code",
                              {"code": code or "", "csrf_token": self.token("/portal/sign-in/code")})
        return answer.status == 302

    def work(self, seconds):
        """Sign in, then run the steps for `seconds` from then (the sign-in wait does not eat the window)."""
        if not self.step("sign in", self.sign_in):
            return
        deadline = time.monotonic() + seconds
        task = f"/portal/tasks/{self.task_id}"
        while time.monotonic() < deadline:
            self.step("home", lambda: self.request("GET", "/portal/").status == 200)
            self.step("task", lambda: self.request("GET", task).status == 200)
            self.step("documents", lambda: self.request("GET", "/portal/documents").status == 200)
            token = self.token(task)
            self.step("upload", lambda: self.request("POST", task + "/files", {"csrf_token": token},
                                                     files={"files": ("load.pdf", PDF, "application/pdf")}).status < 400)
            self.step("reply", lambda: self.request("POST", task + "/reply",
                                                    {"body": "Load test reply", "csrf_token": token}).status == 302)


def start_servers(args, env, tmp):
    """redis-server, gunicorn and two rq workers; returns (base URL, processes)."""
    redis_port, web_port = free_port(), free_port()
    procs = [subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)]
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    time.sleep(0.5)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    procs.append(subprocess.Popen([gunicorn, "-w", str(args.workers), "-b", f"127.0.0.1:{web_port}", "--timeout", "60",
                                   "run:app"], cwd=ROOT, env=env, stderr=open(os.path.join(tmp, "gunicorn.log"), "w")))
    for _ in range(2):
        procs.append(subprocess.Popen([flask, "portico", "worker"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(tmp, "worker.log"), "a")))
    pool = urllib3.PoolManager()
    for _ in range(120):
        try:
            if pool.request("GET", f"http://127.0.0.1:{web_port}/health", timeout=2.0).status == 200:
                break
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.5)
    return f"http://127.0.0.1:{web_port}", procs


def report(results, seconds):
    """p50/p95 per step, requests and errors."""
    print(f"\n| step | requests | errors | p50 ms | p95 ms |\n|---|---:|---:|---:|---:|")
    for name in STEPS:
        times = sorted(t * 1000 for n, t, ok in results if n == name)
        errors = sum(1 for n, _t, ok in results if n == name and not ok)
        if times:
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            print(f"| {name} | {len(times)} | {errors} | {statistics.median(times):.0f} | {p95:.0f} |")
    total = len(results)
    print(f"\n{total} steps in {seconds:.0f} s ({total / seconds:.1f}/s), "
          f"{sum(1 for r in results if not r[2])} errors")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    args = parser.parse_args()
    sink = SmtpSink()
    tmp = tempfile.mkdtemp(prefix="portico-load-")
    env = dict(os.environ, FLASK_APP="run.py", TRUSTED_PROXIES="1", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(sink.port),
               STORAGE_DIR=os.path.join(tmp, "storage"), RATELIMIT_ENABLED="false", PORTICO_ENV="development")
    users = prepare_users(args.users)
    base, procs = start_servers(args, env, tmp)
    results, pool = [], urllib3.PoolManager(maxsize=args.users, block=False)
    try:
        started = time.monotonic()
        threads = [threading.Thread(target=User(base, email, task_id, i, pool, sink, results).work, args=(args.seconds,))
                   for i, (email, task_id) in enumerate(users)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 180)
        report(results, time.monotonic() - started)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        sink.stop()


if __name__ == "__main__":
    main()
