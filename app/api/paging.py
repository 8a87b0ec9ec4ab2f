"""Keyset pagination (opaque cursors over ids) and entity tags of representations."""
import base64
import binascii
import hashlib
import json

from app.api.problems import ApiError
from app.security.guard import MAX_PK

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_CURSOR_TAG = "v1:"


def encode_cursor(last_id):
    """The opaque cursor of the page that follows the row `last_id`."""
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(raw):
    """The id after which a page starts (0 for none); a cursor we did not make is a 400."""
    if raw is None or raw == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        text = ""
    number = text[len(_CURSOR_TAG):] if text.startswith(_CURSOR_TAG) else ""
    if len(raw) > 40 or not (number.isascii() and number.isdigit()) or int(number) > MAX_PK:
        raise ApiError(400, "The cursor is not one this API gave out.", errors={"cursor": ["Invalid cursor."]})
    return int(number)


def parse_limit(raw):
    """The page size asked for (DEFAULT_LIMIT when absent); outside 1..MAX_LIMIT is a 400."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT or len(raw) > 4:
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}.",
                       errors={"limit": [f"A whole number from 1 to {MAX_LIMIT}."]})
    return int(raw)


def etag(representation):
    """A strong entity tag of a JSON representation (changes whenever any field does)."""
    payload = json.dumps(representation, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(payload.encode()).hexdigest()[:32] + '"'


def require_match(header, current):
    """Refuse a change unless If-Match names the current tag: 428 without the header, 412 on a mismatch."""
    if not header:
        raise ApiError(428, "Send If-Match with the ETag of your last read of this resource.")
    tags = [tag.strip() for tag in header.split(",")]
    if "*" not in tags and current not in tags:
        raise ApiError(412, "The resource changed since you read it; read it again and retry.")
