"""A real HTTPS webhook receiver on 127.0.0.1 for the tests: a self-signed certificate made with
`cryptography` (trusted through WEBHOOK_CA_BUNDLE), every request kept, its signature checked with
the helper receivers are told to copy, and scripted answers (status, delay, redirect)."""
import datetime
import ipaddress
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.services.webhooks_http import verify_signature


def self_signed(folder):
    """(cert path, key path) of a fresh certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(folder, "receiver.pem"), os.path.join(folder, "receiver.key")
    with open(cert_path, "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return cert_path, key_path


class Receiver:
    """The server: `answers` is a list of (status, delay seconds, Location) used one per request
    (the last one repeats); `secret` is what signatures are checked with."""

    def __init__(self, cert_path, key_path):
        self.requests, self.answers, self.secret = [], [(200, 0, None)], None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's hook name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = dict(self.headers.items())
                valid = receiver.secret is not None and verify_signature(receiver.secret, headers, body)
                receiver.requests.append({"path": self.path, "headers": headers, "body": body, "valid": valid})
                status, delay, location = receiver.answers[min(len(receiver.requests), len(receiver.answers)) - 1]
                time.sleep(delay)
                self.send_response(status if valid or status >= 300 else 401)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"https://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


SETTINGS = {"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32", "WEBHOOK_TIMEOUT_SECONDS": 1.0,
            "WEBHOOK_RETRY_INTERVALS": "1,1", "WEBHOOK_DISABLE_AFTER": 15}


@pytest.fixture
def receiver(app, tmp_path):
    """A running receiver whose certificate the app trusts, with 127.0.0.1 allowed for this test."""
    cert_path, key_path = self_signed(str(tmp_path))
    saved = {name: app.config.get(name) for name in [*SETTINGS, "WEBHOOK_CA_BUNDLE"]}
    app.config.update(SETTINGS, WEBHOOK_CA_BUNDLE=cert_path)
    server = Receiver(cert_path, key_path).start()
    yield server
    server.stop()
    app.config.update(saved)


def run_jobs(done, seconds=15):
    """Run the queue (and due scheduled jobs) with in-process burst workers until `done()` or time is up."""
    from rq import SimpleWorker

    from app.jobs import queue
    from app.redis_conn import get_redis

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        SimpleWorker([queue()], connection=get_redis()).work(burst=True, with_scheduler=True)
        if done():
            return True
        time.sleep(0.2)
    return done()
