"""Headers every response carries: the CSP with a per-request nonce, nosniff, framing, no-store
and HSTS in production."""
import secrets

from flask import current_app, g, request



def csp_nonce():
    """A per-request nonce for inline scripts (FAB's templates ask for csp_nonce())."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def security_headers(response):
    nonce = csp_nonce()
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint and request.endpoint.endswith(".login"):
        response.headers["Cache-Control"] = "no-store"
    # Staff and portal pages hold client data: never cached (by the browser's back button or a proxy).
    # Responses that chose their own caching (static files, the public logo) keep it.
    response.headers.setdefault("Cache-Control", "no-store")
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):  # production is HTTPS only
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response
