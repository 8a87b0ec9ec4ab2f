"""The firm's payment hosts: where the portal's "Pay" may send a client (Firm settings, one host per
line; a host also allows its subdomains), and the check every payment link goes through."""
import re
from urllib.parse import urlsplit

from app.services.firm import get_settings

HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# A bare DNS name of at least two labels whose top-level label starts with a letter (so no IP address).
HOST_RE = re.compile(rf"^(?=.{{1,253}}\Z)(?:{HOST_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?\Z")
URL_CHARS = re.compile(r"^[\x21-\x7e]+\Z")  # printable ASCII, no spaces: what a browser reads is what we checked


def normalize_host(name):
    """A host name as compared: trimmed, lower case, without one trailing dot."""
    name = (name or "").strip().lower()
    return name[:-1] if name.endswith(".") else name


def valid_host(name):
    """Whether `name` is a bare host name (no scheme, port, path, user or wildcard)."""
    return bool(HOST_RE.match(name or ""))


def parse_hosts(text):
    """(hosts, bad lines) of a one-host-per-line list; blank lines are ignored."""
    hosts, bad = [], []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        host = normalize_host(line)
        (hosts if valid_host(host) else bad).append(host if valid_host(host) else line.strip())
    return list(dict.fromkeys(hosts)), bad


def allowed_hosts():
    """The firm's payment hosts (each also allows its subdomains)."""
    return parse_hosts(get_settings().payment_hosts)[0]


def payment_target(url, hosts=None):
    """The URL if the portal may send a client there, else None: https, no user part, no port but 443,
    and a host that is an allowed host or one of its subdomains."""
    hosts = allowed_hosts() if hosts is None else hosts
    if not isinstance(url, str) or len(url) > 500 or not URL_CHARS.match(url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or "@" in parts.netloc or port not in (None, 443):
        return None
    host = normalize_host(parts.hostname)
    if not valid_host(host) or not any(host == h or host.endswith("." + h) for h in hosts):
        return None
    return url
