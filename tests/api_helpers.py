"""Helpers of the API tests: tokens for users, and requests carrying them."""
from datetime import date, timedelta

from app.extensions import db
from app.models import TokenScope


def token_for(user, scope="write", days=30, name="test token"):
    """A new token (its text) of staff `user` (object or id), read-write unless scope="read"."""
    from flask_appbuilder.security.sqla.models import User

    from app.services import api_tokens

    user = db.session.get(User, getattr(user, "id", user))
    _row, text = api_tokens.create(user, name, TokenScope(scope), date.today() + timedelta(days=days))
    return text


def call(client, method, path, token=None, json=None, headers=None, **kwargs):
    """A request with `Authorization: Bearer <token>` (when given)."""
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    return client.open(path, method=method, json=json, headers=all_headers, **kwargs)


def is_problem(response, status):
    """Whether `response` is a problem document with `status`."""
    body = response.get_json(silent=True) or {}
    return (response.status_code == status and response.mimetype == "application/problem+json"
            and body.get("status") == status and "title" in body)


def walk(client, path, token, limit, **query):
    """Every item of a keyset-paged list, `limit` at a time, following next_cursor to the end: (items, pages)."""
    items, cursor, pages = [], None, 0
    while True:
        body = call(client, "GET", path, token,
                    query_string={"limit": str(limit), **query, **({"cursor": cursor} if cursor else {})}).get_json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return items, pages
