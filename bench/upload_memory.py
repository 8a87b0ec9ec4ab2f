"""Upload a 10 MB file through a real Portico server (gunicorn) and print its peak memory growth.

Usage: .venv/bin/python bench/upload_memory.py [--mb 10] [--backend local|s3|both]
Starts gunicorn on 127.0.0.1 with a throwaway SQLite database and storage folder (and, for s3, a
throwaway `rclone serve s3` as the object store), signs in, then
measures the worker's resident memory before the upload and its peak (VmHWM, reset just before)
during it. The request body is streamed from a file on disk, so the client holds no copy either.
"""
import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "bench-password-123"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(env):
    """Migrate a fresh database, create the roles, one accountant and one entity."""
    script = (
        "from flask_migrate import upgrade\n"
        "from app import create_app\n"
        "from app.extensions import db\n"
        "from app.models import Entity\n"
        "from app.models.entities import EntityKind\n"
        "from app.services.setup import init_roles\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    upgrade(); init_roles()\n"
        "    sm = app.appbuilder.sm\n"
        f"    user = sm.add_user('bench', 'Bench', 'User', 'bench@example.com', sm.find_role('Admin'), password='{PASSWORD}')\n"
        "    db.session.add(Entity(name='Bench Co', kind=EntityKind.company)); db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True)


class Session:
    """A tiny cookie-keeping HTTP client for one host."""

    def __init__(self, port):
        self.port, self.cookies = port, {}

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        for value in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";")[0]
        conn.close()
        return response.status, data.decode("utf-8", "replace")

    def token(self, path):
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', self.request("GET", path)[1]).group(1)


def multipart_file(directory, token, size):
    """Write a multipart body with one `size`-byte text file to disk; return (path, boundary)."""
    boundary = "benchboundary"
    path = os.path.join(directory, "body.bin")
    line = b"2026-01-31,invoice 1234,120.50,paid\n"
    with open(path, "wb") as out:
        for name, value in (("csrf_token", token), ("visibility", "staff_only"), ("direction", "from_firm")):
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="ledger.txt"\r\n'
                  "Content-Type: text/plain\r\n\r\n".encode())
        written = 0
        while written < size:
            chunk = line[: size - written]
            out.write(chunk)
            written += len(chunk)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    return path, boundary


def peak_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmHWM:\s+(\d+)", status.read()).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="file size in MiB (default 10, the limit)")
    parser.add_argument("--backend", choices=["local", "s3", "both"], default="both", help="storage backend(s)")
    args = parser.parse_args()
    size = min(int(args.mb * 1024 * 1024), 10 * 1024 * 1024)
    failed = 0
    for backend in (["local", "s3"] if args.backend == "both" else [args.backend]):
        failed += run(backend, size)
    return 1 if failed else 0


def run(backend, size):
    """Measure one upload on `backend`; 0 when it succeeded under the ceiling."""
    sys.path.insert(0, ROOT)
    from tests.s3server import S3Server

    work = tempfile.mkdtemp(prefix="portico-bench-")
    env = dict(os.environ, PORTICO_ENV="testing", DATABASE_URL=f"sqlite:///{work}/bench.db",
               STORAGE_DIR=os.path.join(work, "storage"), FLASK_APP="run.py", STORAGE_BACKEND="local")
    s3 = S3Server().start() if backend == "s3" else None
    if s3 is not None:
        env.update(s3.env())
    port = free_port()
    server = None
    try:
        prepare(env)
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "run:app"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = Session(port)
        for _ in range(100):
            try:
                client.request("GET", "/health")
                break
            except OSError:
                time.sleep(0.1)
        token = client.token("/login/")
        client.request("POST", "/login/", urllib.parse.urlencode(
            {"username": "bench", "password": PASSWORD, "csrf_token": token}),
            {"Content-Type": "application/x-www-form-urlencoded"})
        token = client.token("/documents/entity/1")
        warm_path, boundary = multipart_file(work, token, 200_000)  # warm every code path once
        with open(warm_path, "rb") as body:
            client.request("POST", "/documents/entity/1/upload", body, {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(os.path.getsize(warm_path))})
        worker = psutil.Process(server.pid).children()[0]
        path, boundary = multipart_file(work, token, size)
        before = worker.memory_info().rss // 1024
        with open(f"/proc/{worker.pid}/clear_refs", "w") as clear:
            clear.write("5")  # reset VmHWM to the current RSS
        started = time.perf_counter()
        with open(path, "rb") as body:
            status, _ = client.request("POST", "/documents/entity/1/upload", body, {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(os.path.getsize(path)), "Accept": "application/json"})
        elapsed = time.perf_counter() - started
        peak = peak_kb(worker.pid)
        print(f"[{backend}] upload of {size:,} bytes: HTTP {status} in {elapsed:.2f} s")
        print(f"[{backend}] worker RSS before: {before / 1024:.1f} MiB, peak during upload: {peak / 1024:.1f} MiB")
        print(f"[{backend}] peak resident-memory growth: {(peak - before) / 1024:.2f} MiB (ceiling 3 MiB)")
        return 0 if status == 200 and peak - before < 3 * 1024 else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
        if s3 is not None:
            s3.stop()


if __name__ == "__main__":
    sys.exit(main())
