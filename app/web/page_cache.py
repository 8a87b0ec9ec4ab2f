"""Rendered pages served again while nothing they could show has changed.

A page marked `cacheable` is kept, per process, under a key made of everything its rendering can
read besides the database: the URL, the session's whole content (account, server-side session,
language, chosen entity, CSRF secret…), the request's other cookies and its Accept headers, and the
day. The database is represented by one number, the data version in Redis, which goes up after
every commit that wrote anything, from any process (web, worker, CLI): a page is served again only
while no row at all has changed since it was rendered. Sign-in checks never change: the key is
looked up only after the request's session was vouched for (staff sessions by the gate, portal ones
by the portal guard), so an ended session, a deactivated account or a revoked share count at once.

A page is kept only when its rendering left the session as it found it (nothing to replay but the
body), and it serves for at most MAX_AGE seconds: that bounds what a write Redis missed (down at
that moment), or a change made outside Portico, leaves unseen. The CSP nonce is replaced by a new
one each time. Without Redis nothing is kept.
"""
import hashlib
import json
import threading
import time
from collections import OrderedDict
from datetime import date

from flask import current_app, g, request, session

from app import data_version

MAX_AGE = 30  # seconds an entry serves
_lock = threading.RLock()  # a bump may drop pages from a pool check-in inside a locked section
_store = OrderedDict()  # key -> (monotonic time, status, content type, body, nonce), least recent first
_size = [0]
_SELF_GUARDED = set()  # blueprints that look up after their own sign-in check


def cacheable(view):
    """Mark a GET view whose page may be served again (it must depend only on what the key holds)."""
    view.page_cache = True
    return view


def guards_itself(blueprint):
    """The blueprint's own before_request calls `replay()` once its sign-in check passed."""
    _SELF_GUARDED.add(blueprint.name)


def skip():
    """Keep this request's page out of the cache (it showed something the key does not hold)."""
    g.page_cache_key = None


def _key():
    """This request's key, or None when its page may not come from (or go to) the cache."""
    view = current_app.view_functions.get(request.endpoint)
    if request.method != "GET" or not getattr(view, "page_cache", False) or \
            not current_app.config.get("PAGE_CACHE") or "_flashes" in session:
        return None
    version = data_version.current()
    if version is None:
        return None
    cookie = current_app.config["SESSION_COOKIE_NAME"]
    others = sorted((k, v) for k, v in request.cookies.items() if k != cookie)
    g.page_cache_session = _session_print()  # compared after the view: did it change the session?
    environ = request.environ  # the URL as served (after ProxyFix), without building request.url
    url = [environ.get(k) for k in (
        "wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING")]
    parts = [url, g.page_cache_session, others, request.headers.get("Accept", ""),
             request.headers.get("Accept-Language", ""), date.today().isoformat(), version]
    return hashlib.blake2b(json.dumps(parts, default=str).encode(), digest_size=20).digest()


def _session_print():
    return json.dumps(dict(session), sort_keys=True, default=str)


def replay():
    """before_request: the page kept for this exact request, or None (render it, and keep it after)."""
    key = g.page_cache_key = _key()
    if key is None:
        return None
    with _lock:
        kept = _store.get(key)
        if kept is not None and time.monotonic() - kept[0] < MAX_AGE:
            _store.move_to_end(key)
        else:
            kept = None
    if kept is None:
        return None
    g.page_cache_key = None  # served from the cache: nothing to keep afterwards
    _, status, mimetype, body, nonce = kept
    if nonce:
        from app.web.headers import csp_nonce

        body = body.replace(nonce.encode(), csp_nonce().encode())
    return current_app.response_class(body, status=status, content_type=mimetype)


def _replay_unless_self_guarded():
    if request.blueprint in _SELF_GUARDED:
        return None
    return replay()


def keep(response):
    """after_request: keep a plain 200 HTML page whose rendering left the session as it was."""
    key = g.get("page_cache_key")
    if key is None or response.status_code != 200 or response.direct_passthrough or \
            response.is_streamed or response.mimetype != "text/html" or \
            _session_print() != g.get("page_cache_session"):
        return response
    body = response.get_data()
    limit = current_app.config.get("PAGE_CACHE_BYTES", 32 * 2**20)
    with _lock:
        old = _store.pop(key, None)
        _size[0] -= len(old[3]) if old else 0
        _store[key] = (time.monotonic(), response.status_code, response.content_type, body,
                       g.get("csp_nonce"))
        _size[0] += len(body)
        while _size[0] > limit and _store:
            _size[0] -= len(_store.popitem(last=False)[1][3])
    return response


def forget():
    """Drop every page this process kept (the data changed)."""
    with _lock:
        _store.clear()
        _size[0] = 0


def register(app):
    """Look up after the sign-in hooks, keep after the view; drop kept pages when the data changes."""
    data_version.on_bump(forget)
    app.before_request(_replay_unless_self_guarded)
    app.after_request(keep)
