"""Processes and an HTTP browser for the cluster proof (tests/test_cluster.py)."""
import http.client
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "cluster-proof-secret-key-0123456789abcdef"


def node_env(app, s3_env, smtp_port, ports, work):
    """The environment every process of the cluster shares (production settings, one PostgreSQL,
    one Redis, one bucket, one SMTP sink)."""
    hosts = ",".join(f"127.0.0.1:{p}" for p in ports)
    return dict(os.environ, FLASK_APP="run.py", PORTICO_ENV="production", SECRET_KEY=SECRET,
                DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=app.config["REDIS_URL"],
                STORAGE_DIR=work, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port), RATELIMIT_ENABLED="1",
                AUTH_RATE_LIMIT="3 per 5 minutes", OUTBOX_SWEEP_SECONDS="2", SAFE_REDIRECT_HOSTS=hosts,
                PORTAL_BASE_URL=f"http://127.0.0.1:{ports[0]}", WEB_CONCURRENCY="1", GUNICORN_ACCESS_LOG="",
                PIN_HASH_METHOD="pbkdf2:sha256:1000", FAB_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000", **s3_env)


def start(args, env, log):
    """A process in its own group (so kill -9 reaches its children too), output to `log`."""
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def web_node(env, port, log):
    """gunicorn with the repository's configuration file on 127.0.0.1:port."""
    return start([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "run:app"],
                 dict(env, GUNICORN_BIND=f"127.0.0.1:{port}"), log)


def flask_command(env, log, *args):
    """`flask portico <args>` as a long-running process."""
    return start([sys.executable, "-m", "flask", "portico", *args], env, log)


def stop(process, sig=signal.SIGTERM):
    """Signal the process group, then wait (kill after 10 s)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def wait_until(check, timeout, what):
    """Poll `check` every 0.1 s until it is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Browser:
    """Cookies kept across requests and across nodes (one browser talking to two web nodes)."""

    def __init__(self):
        self.cookies = {}

    def request(self, port, method, path, body=None, headers=None):
        """(status, headers, body bytes); redirects are not followed."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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
        return response.status, response.msg, data

    def get(self, port, path):
        return self.request(port, "GET", path)

    def token(self, port, path):
        """The CSRF token of the first form on the page."""
        body = self.get(port, path)[2].decode()
        field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', body)
        assert field, f"no CSRF token on {path}"
        return re.search(r'value="([^"]+)"', field.group(0)).group(1)

    def post(self, port, path, form, page=None):
        """POST a urlencoded form with the CSRF token of `page` (default: the same path)."""
        data = dict(form, csrf_token=self.token(port, page or path))
        return self.request(port, "POST", path, urllib.parse.urlencode(data),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def upload(self, port, path, page, name, content):
        """POST one file as multipart/form-data with the CSRF token of `page`."""
        boundary = "clusterboundary"
        token = self.token(port, page)
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        return self.request(port, "POST", path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
