"""Real parts for browser tests: a live Portico server, a real rq worker process and Debian's Chromium."""
import contextlib
import os
import re
import subprocess
import threading
import time

import pytest

from tests import workers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
OUTPUT = os.environ.get("PORTICO_TEST_OUTPUT", os.path.join(ROOT, "test-output"))
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}


def require_chromium():
    """Skip unless Playwright and the Debian Chromium are installed (CI installs both)."""
    pytest.importorskip("playwright")
    if not os.path.exists(CHROMIUM):
        pytest.skip(reason="no Chromium at " + CHROMIUM)


@contextlib.contextmanager
def live_server(app):
    """Serve `app` on a free loopback port in a thread; yields the base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def worker(app, smtp_port):
    """A real `flask portico worker` process (with scheduler) on the test database, Redis and SMTP sink."""
    process = workers.start(app, smtp_port, output=subprocess.DEVNULL)
    try:
        yield process
    finally:
        workers.stop(process)


@contextlib.contextmanager
def chromium():
    """A headless Chromium browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def watch(page, problems):
    """Collect console errors, failed responses and page errors of `page` into `problems`."""
    page.set_default_timeout(20_000)
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


def wait_for_code(smtp, to, after=0, timeout=30):
    """The 8-digit code of the newest mail to `to` that arrived after the first `after` messages."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(smtp.messages[after:]):
            if message["To"] == to:
                match = re.search(r"\b(\d{8})\b", message.get_body(("plain",)).get_content())
                if match:
                    return match.group(1)
        time.sleep(0.1)
    pytest.fail(f"no code mail to {to} within {timeout} s")


def screenshot(page, name):
    """Save a full-page screenshot under test-output/screenshots/."""
    folder = os.path.join(OUTPUT, "screenshots")
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)
