"""Webhook transport: which addresses may be called (SSRF), the signature, and one POST.

An address must be https:// and every address its host resolves to must be public — checked when
an endpoint is registered and again before each POST (DNS may change), and the POST connects to
the very address that was checked (no second lookup an attacker could answer differently).
Redirects are never followed: a 3xx is a failed attempt. WEBHOOK_ALLOWED_NETWORKS lets tests (or a
firm's own network) through; WEBHOOK_CA_BUNDLE adds certificates to trust.

Signature headers (see the README): Portico-Signature is "v1=" and the hex HMAC-SHA256, under the
endpoint's secret, of "<Portico-Timestamp>.<body>".
"""
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

EVENT_ID_HEADER = "Portico-Event-Id"
EVENT_HEADER = "Portico-Event"
TIMESTAMP_HEADER = "Portico-Timestamp"
SIGNATURE_HEADER = "Portico-Signature"
SCHEME = "v1"
EXCERPT_BYTES = 1024  # of a receiver's answer, kept per attempt


class AddressRefused(ValueError):
    """An address Portico will not call; the message is for the user."""


def sign(secret, timestamp, body):
    """The hex HMAC-SHA256 of "<timestamp>.<body>" (body as bytes) under `secret`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_headers(secret, event_id, event, body, timestamp=None):
    """The headers of one signed POST (a fresh timestamp each attempt)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": "application/json", "User-Agent": "Portico-Webhooks/1", EVENT_ID_HEADER: event_id,
            EVENT_HEADER: event, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: f"{SCHEME}={sign(secret, timestamp, body)}"}


def verify_signature(secret, headers, body, tolerance=300, now=None):
    """Whether a received webhook is genuine and fresh (receivers may copy this function).

    `headers`: a mapping of the request headers; `body`: the raw bytes received; `tolerance`: the
    seconds a timestamp may be away from `now` (refuses replays of old deliveries)."""
    lowered = {str(k).lower(): v for k, v in headers.items()}
    timestamp, given = lowered.get(TIMESTAMP_HEADER.lower(), ""), lowered.get(SIGNATURE_HEADER.lower(), "")
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    if age > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(part.strip()[len(SCHEME) + 1:], expected)
               for part in given.split(",") if part.strip().startswith(SCHEME + "="))


def _allowed_networks():
    text = current_app.config.get("WEBHOOK_ALLOWED_NETWORKS", "") or ""
    return [ipaddress.ip_network(item.strip(), strict=False) for item in text.split(",") if item.strip()]


def _public(address, allowed):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # an address family we do not know: refused
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed):
        return True
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
                                 or ip.is_multicast or ip.is_unspecified)


def parse_url(url):
    """(host, port, path) of an https:// address, or AddressRefused."""
    if any(ord(char) <= 32 or ord(char) == 127 for char in (url or "").strip()):
        raise AddressRefused(_("That is not a valid address."))
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port or 443
    except ValueError:
        raise AddressRefused(_("That is not a valid address.")) from None
    if parts.scheme != "https":
        raise AddressRefused(_("Only https:// addresses can receive webhooks."))
    if not parts.hostname or parts.username or parts.password:
        raise AddressRefused(_("The address needs a host name and no user name or password."))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, path


def resolve(url):
    """(host, port, path, address) with the first resolved address, once every one is public;
    else AddressRefused."""
    host, port, path = parse_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise AddressRefused(_("The host name cannot be found.")) from None
    addresses = [info[4][0] for info in infos]
    allowed = _allowed_networks()
    if not addresses or not all(_public(a, allowed) for a in addresses):
        raise AddressRefused(_("The address leads to a private or reserved network."))
    return host, port, path, addresses[0]


def _context():
    context = ssl.create_default_context()
    bundle = current_app.config.get("WEBHOOK_CA_BUNDLE")
    if bundle:
        context.load_verify_locations(cafile=bundle)
    return context


class _PinnedConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, verifying the certificate against the host name."""

    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Answer:
    """What one POST gave: a status and an excerpt, or an error; and its duration."""

    status: int = None
    excerpt: str = ""
    error: str = None
    duration_ms: int = 0

    @property
    def ok(self):
        return self.error is None and self.status is not None and 200 <= self.status < 300


def post(url, body, headers):
    """POST `body` to `url` (checked again now), never following a redirect; an Answer, never raises."""
    started = time.monotonic()
    answer = Answer()
    try:
        host, port, path, address = resolve(url)
        timeout = float(current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 10))
        connection = _PinnedConnection(host, port, address, timeout=timeout, context=_context())
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            answer.status = response.status
            answer.excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace")
            if 300 <= response.status < 400:
                answer.error = f"redirect to {response.getheader('Location', '')[:200]} not followed"
        finally:
            connection.close()
    except AddressRefused as refused:
        answer.error = str(refused)
    except (OSError, http.client.HTTPException) as exc:  # timeouts, refusals, TLS errors
        answer.error = f"{type(exc).__name__}: {exc}"[:500]
    answer.duration_ms = int((time.monotonic() - started) * 1000)
    return answer
