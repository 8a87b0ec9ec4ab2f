"""Errors of the API as problem details (RFC 9457, application/problem+json), never an HTML page."""
import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"
API_PREFIX = "/api/v1/"


class ApiError(Exception):
    """An answer other than success: raise it anywhere in an API handler.

    `errors` maps field names to lists of messages (422 for a body that does not validate)."""

    def __init__(self, status, detail=None, errors=None, headers=None, title=None):
        super().__init__(detail or title or str(status))
        self.status, self.detail, self.errors, self.headers, self.title = status, detail, errors, headers, title


def invalid(errors, detail="The request body does not validate."):
    """A 422 with per-field messages ({"field": ["message", …]})."""
    return ApiError(422, detail, errors=errors)


def problem(status, detail=None, errors=None, headers=None, title=None):
    """A problem-details response with `status` (the title is the HTTP reason phrase unless given)."""
    from werkzeug.http import HTTP_STATUS_CODES

    body = {"type": "about:blank", "title": title or HTTP_STATUS_CODES.get(status, "Error"), "status": status}
    if detail:
        body["detail"] = str(detail)
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_api_error(error):
    """Error handler: an ApiError as problem details."""
    return problem(error.status, error.detail, error.errors, error.headers, error.title)


def from_http_exception(error):
    """Error handler: a werkzeug HTTP error (abort(404), 405, 413…) as problem details."""
    headers = {k: v for k, v in error.get_headers() if k.lower() in ("allow", "retry-after", "www-authenticate")}
    detail = error.description if error.code not in (404, 405) else None
    return problem(error.code or 500, detail if isinstance(detail, str) and detail != _default(error) else None,
                   headers=headers)


def _default(error):
    return type(error).description


def from_unexpected(error):
    """Error handler: anything else is logged and answered 500 without details."""
    if isinstance(error, HTTPException):
        return from_http_exception(error)
    log.exception("API request failed: %s %s", request.method, request.path)
    from app.extensions import db

    db.session.rollback()
    return problem(500, "The request could not be completed.")


def register_app_handlers(app):
    """Unknown paths and methods under /api/v1/ (routing errors, outside any blueprint) as problem details."""

    def routing_error(error):
        if request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/"):
            return from_http_exception(error)
        return error

    for code in (404, 405):
        app.register_error_handler(code, routing_error)
