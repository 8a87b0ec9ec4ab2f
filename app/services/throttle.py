"""Counting limits kept in Redis (the `limits` library behind Flask-Limiter), shared by every web
process: access-code resends, PIN failures. They hold whatever RATELIMIT_ENABLED says, because
they are product rules, not traffic shaping."""
import hashlib
import ipaddress
import math
import time

from flask import current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

_LIMITERS = {}


def _limiter():
    from app.redis_conn import redis_url

    url = redis_url()
    if url not in _LIMITERS:
        uri = "redis+" + url if url.startswith("unix://") else url
        _LIMITERS[url] = MovingWindowRateLimiter(storage_from_string(uri))
    return _LIMITERS[url]


def key_of(value):
    """A stable, non-reversible key for an e-mail address or other identifier (never stored plain)."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hashlib.sha256(secret + b"|" + str(value).strip().lower().encode()).hexdigest()[:32]


def client_network(address):
    """The address limits count by: an IPv4 address, or the /64 of an IPv6 one. A dual-stack listener
    shows IPv4 clients as ::ffff:a.b.c.d: those count by their IPv4 address, not as one /64."""
    try:
        ip = ipaddress.ip_address(address or "0.0.0.0")
    except ValueError:
        return str(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def allowed(rules, *identifiers):
    """Whether every rule ("1 per minute", …) still has room for `identifiers` (nothing counted)."""
    limiter = _limiter()
    return all(limiter.test(parse(rule), *identifiers) for rule in rules)


def wait_seconds(rules, *identifiers):
    """Seconds until every rule has room again for `identifiers` (0 when it has now)."""
    limiter, now, waits = _limiter(), time.time(), [0]
    for rule in rules:
        reset, remaining = limiter.get_window_stats(parse(rule), *identifiers)
        if remaining <= 0:
            waits.append(math.ceil(reset - now))
    return max(waits)


def acquire(rules, *identifiers):
    """Count one use against each rule in order (tightest first), atomically per rule, stopping at the
    first that is full: two requests at the same moment cannot both take the last place, and a
    refused request uses up no place of the looser rules."""
    limiter = _limiter()
    return all(limiter.hit(parse(rule), *identifiers) for rule in rules)


def hit(rules, *identifiers):
    """Count one use against every rule."""
    limiter = _limiter()
    for rule in rules:
        limiter.hit(parse(rule), *identifiers)


def clear(rules, *identifiers):
    """Forget the counts of `identifiers` (e.g. PIN failures after a right PIN)."""
    limiter = _limiter()
    for rule in rules:
        limiter.clear(parse(rule), *identifiers)
