"""Sending stored files: document versions and the firm logo, with the safe headers (RFC 6266
names, nosniff, private no-store, the sandbox CSP inline), streamed from either storage backend."""
from urllib.parse import quote

from flask import Response, abort, current_app, redirect, request, send_file
from werkzeug.wsgi import wrap_file

from app.storage import CHUNK, backend
from app.web import bp


@bp.route("/firm-logo")
def firm_logo():
    """The firm's logo (public: it appears in mails and on the sign-in page)."""
    from app.services.firm import logo

    found = logo()
    if found is None:
        abort(404)
    response = blob_response(found[0], found[1], size=None, etag=found[0].rsplit("/", 1)[-1], max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def content_disposition(kind, filename):
    """An RFC 6266 Content-Disposition: an ASCII fallback plus the exact UTF-8 name in filename*."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%' else "_" for ch in filename) or "file"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# Inline views of documents run in a sandbox: no scripts, no forms, nothing loaded from elsewhere.
SANDBOX_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'"


def blob_response(key, mime, size, etag, max_age=0):
    """A stored blob as a streamed response with conditional GET (ETag). The local backend goes
    through send_file (byte ranges too); others stream the store's body with Content-Length from
    the recorded size (no ranges)."""
    store = backend()
    if store.kind == "local":
        return send_file(store.path(key), mimetype=mime, conditional=True, etag=etag, max_age=max_age)
    response = Response(mimetype=mime)
    response.set_etag(etag)
    response.cache_control.max_age = max_age
    response.make_conditional(request)
    if response.status_code == 304 or request.method == "HEAD":
        return response
    response.response = wrap_file(request.environ, store.open(key), buffer_size=CHUNK)
    response.direct_passthrough = True
    if size is not None:
        response.content_length = size
    else:  # make_conditional counted the empty placeholder body: let the server stream it chunked
        response.headers.pop("Content-Length", None)
    return response


def send_version(version, filename, inline=False):
    """A stored document version as a response with the safe headers: RFC 6266 name, nosniff,
    private no-store, and the sandbox CSP when shown inline. A download (not an inline view) is a
    redirect to a short-lived presigned link when S3_PRESIGNED_DOWNLOAD_SECONDS is set."""
    seconds = current_app.config.get("S3_PRESIGNED_DOWNLOAD_SECONDS") or 0
    # CSV always goes through Portico: its formula cells are neutralised on the way out.
    direct = seconds and not inline and version.mime != "text/csv"
    url = backend().presigned_url(version.storage_key, filename, version.mime, seconds) if direct else None
    if url:
        response = redirect(url, 303)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    if version.mime == "text/csv":
        from app.services.filetypes import csv_without_formulas

        # Served with formula cells neutralised, so these are not the stored bytes: no ETag (the
        # sha256 names the stored file), no length, no ranges. Streamed row by row.
        response = Response(csv_without_formulas(backend().open(version.storage_key)), mimetype="text/csv")
    else:
        response = blob_response(version.storage_key, version.mime, version.size, version.sha256)
    response.headers["Content-Disposition"] = content_disposition("inline" if inline else "attachment", filename)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if inline:
        response.headers["Content-Security-Policy"] = SANDBOX_CSP
    return response
