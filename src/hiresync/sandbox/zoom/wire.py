"""Pure wire helpers: Zoom's error bodies, time formats, passcodes, PKCE and webhook signing.

Nothing here touches sandbox state, so :mod:`tests.unit.sandbox` checks each rule directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import JSONResponse

JSON_TYPE = "application/json;charset=UTF-8"
# The spec's create/update request: "Passcode may only contain the following characters:
# [a-z A-Z 0-9 @ - _ *] and can have a maximum of 10 characters" (PROVIDERS.md, create meeting).
PASSWORD_RE = re.compile(r"^[A-Za-z0-9@\-_*]{1,10}$")
PASSWORD_MESSAGE = (
    "Password may only contain the following characters: [a-z A-Z 0-9 @ - _ *] and can have "
    "a maximum of 10 characters."
)
_GMT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")
_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")


def base_url(request: Request) -> str:
    """Scheme + host + mount prefix of this sandbox, as the client reached it."""
    headers = request.headers
    proto = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = headers.get("x-forwarded-host") or headers.get("host") or request.url.netloc
    return f"{proto}://{host.split(',')[0].strip()}{request.scope.get('root_path', '')}"


def tracking_id() -> str:
    """Zoom's ``x-zm-trackingid`` response header (quote it when reporting a problem)."""
    return f"v=2.0;clid=us05;rid=WEB_{secrets.token_hex(16)}"


def zoom_error(
    status: int,
    code: int,
    message: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The REST error body ``{"code", "message"[, "errors"]}`` (developers.zoom.us/docs/api/errors)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = errors
    merged = {"x-zm-trackingid": tracking_id()} | (headers or {})
    return JSONResponse(body, status_code=status, headers=merged, media_type=JSON_TYPE)


def validation_failed(*fields: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Code 300 "Validation Failed." with one ``{"field", "message": "Invalid field."}`` each."""
    errors = [{"field": name, "message": "Invalid field."} for name in fields]
    return zoom_error(400, 300, "Validation Failed.", errors=errors, headers=headers)


def oauth_error(status: int, error: str, reason: str) -> JSONResponse:
    """The token endpoint's error body, e.g. ``{"reason":"Invalid Token!","error":"invalid_grant"}``
    (seen in the wild: raycast/extensions#10896, zoom-laravel#3, ZoomNet#36)."""
    return JSONResponse({"reason": reason, "error": error}, status_code=status)


def zoom_datetime(value: datetime) -> str:
    """Zoom's ``yyyy-MM-ddTHH:mm:ssZ`` in GMT."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone_or_none(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_start_time(value: str, timezone: str) -> datetime:
    """``start_time`` as Zoom reads it: ``…Z`` is GMT; without ``Z`` it is local time in
    ``timezone`` (the field's description in the spec). Raises ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("start_time must be a string")
    if _GMT.match(value) or _OFFSET.match(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    if _LOCAL.match(value):
        zone = zone_or_none(timezone)
        if zone is None:
            raise ValueError("a local start_time needs a valid timezone")
        return datetime.fromisoformat(value).replace(tzinfo=zone).astimezone(UTC)
    raise ValueError(f"unsupported start_time {value!r}")


def password_problem(password: Any) -> str | None:
    """Zoom's message when a passcode breaks the rules, else None."""
    if not isinstance(password, str) or not PASSWORD_RE.match(password):
        return PASSWORD_MESSAGE
    return None


REQUIREMENT_MESSAGE = (
    "The passcode does not meet the account's passcode requirements (Settings › Security)."
)


def breaks_requirement(password: str, requirement: dict[str, Any] | None) -> bool:
    """Whether a passcode breaks the account's ``meeting_password_requirement`` (support.zoom.us
    "Meeting and webinar passcodes": minimum length, letters, numbers, special characters,
    both cases, numeric only, no run of consecutive characters of the given length)."""
    if not requirement:
        return False
    rules = [
        len(password) >= int(requirement.get("length") or 0),
        not requirement.get("have_letter") or any(c.isalpha() for c in password),
        not requirement.get("have_number") or any(c.isdigit() for c in password),
        not requirement.get("have_special_character") or any(not c.isalnum() for c in password),
        not requirement.get("have_upper_and_lower_characters")
        or (any(c.isupper() for c in password) and any(c.islower() for c in password)),
        not requirement.get("only_allow_numeric") or password.isdigit(),
        not _has_run(password, int(requirement.get("consecutive_characters_length") or 0)),
    ]
    return not all(rules)


def _has_run(password: str, length: int) -> bool:
    """A run of ``length`` consecutive characters ("1234", "abcd") or one repeated ("1111")."""
    if length < 2:
        return False
    for i in range(len(password) - length + 1):
        window = password[i : i + length]
        steps = {ord(b) - ord(a) for a, b in itertools.pairwise(window)}
        if len(steps) == 1 and steps <= {-1, 0, 1}:
            return True
    return False


def generate_password(rng: Any, requirement: dict[str, Any] | None = None) -> str:
    """A 6-character passcode, as Zoom generates when passcodes are required (free accounts),
    or one the account's requirement accepts (tried until one does, as Zoom's are random)."""
    numeric = bool((requirement or {}).get("only_allow_numeric"))
    alphabet = "23456789" if numeric else "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    size = max(6, min(10, int((requirement or {}).get("length") or 0)))
    while True:
        chars = [rng.choice(alphabet) for _ in range(size)]
        if (requirement or {}).get("have_special_character") and not numeric:
            chars[rng.randrange(size)] = rng.choice("@-_*")
        password = "".join(chars)
        if not breaks_requirement(password, requirement):
            return password


def encrypt_password(password: str, meeting_id: int) -> str:
    """The ``pwd`` of join links: an opaque token derived from the passcode (Zoom's is too)."""
    digest = hashlib.sha256(f"{meeting_id}:{password}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=") + ".1"


def pkce_matches(verifier: str, challenge: str, method: str | None) -> bool:
    """RFC 7636: S256 (base64url SHA-256 without padding) or plain (Zoom's default)."""
    if (method or "plain").upper() == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    else:
        expected = verifier
    return hmac.compare_digest(expected, challenge)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``x-zm-signature``: ``v0=`` + hex HMAC-SHA256(secret, ``v0:{timestamp}:{body}``)."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encrypted_token(secret: str, plain_token: str) -> str:
    """The answer to ``endpoint.url_validation``: hex HMAC-SHA256(secret, plainToken)."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def next_utc_midnight(now: datetime) -> datetime:
    """When the daily meeting-write quota resets ("Resets at 00:00 UTC daily")."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


def zoom_id(seed: str) -> str:
    """A stable 22-character id shaped like Zoom's user and account ids."""
    digest = hashlib.sha256(seed.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``Authorization: Basic base64(client_id:client_secret)`` → the pair, else None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None
