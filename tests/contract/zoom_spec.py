"""Validate Zoom REST responses, requests and webhook bodies against the vendored specs.

Two specs live in ``../shared/specs`` (copies in ``specs/`` beside this file; override with
``HIRESYNC_SPECS_DIR``):

* ``zoom-meetings-subset.openapi.json`` — OpenAPI 3.0 of the Meeting API, a 2023 third-party
  copy: users, settings and meetings, schemas inline.
* ``zoom-marketplace-webhooks.openapi.json`` — OpenAPI 3.1 of the Marketplace events
  (``app_deauthorized``), generated 2026.

Public helpers (all raise :class:`SpecViolation`, an AssertionError, listing every problem):

* :func:`validate_response` — a REST answer for ``(method, path, status)``.
* :func:`validate_request_body` / :func:`validate_query` — what a client sends.
* :func:`validate_webhook` — an event body the sandbox POSTs.

Objects are checked **strictly**: a property the spec does not define is an error, unless it is
listed in :data:`DOCUMENTED_EXTRAS` with the reason it is real. Error answers carry Zoom's
``{"code", "message"[, "errors"]}`` (docs: Error Codes); their HTTP status must be one the
operation documents (or a global one: 401, 429, 5xx) and their ``code`` one its description
names (``**Error Code:** `3001```) or a global one in :data:`GLOBAL_ERROR_CODES`.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import (
    OAS30Validator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)

MEETINGS_FILE = "zoom-meetings-subset.openapi.json"
WEBHOOKS_FILE = "zoom-marketplace-webhooks.openapi.json"
_ERROR_CODE = re.compile(r"Error Code\W*`(\d+)`")
_GMT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")

# Properties the live API returns that the 2023 spec lacks: (method, template, status) -> names.
DOCUMENTED_EXTRAS: dict[tuple[str, str, int], dict[str, str]] = {
    ("POST", "/users/{userId}/meetings", 201): {
        "uuid": "specs/README.md caveat: the live 201 carries uuid; the 2023 schema omits it",
        "host_id": "in the live 201 and in the spec's own GET /meetings/{meetingId} schema",
        "status": "in the live 201 and in the spec's own GET /meetings/{meetingId} schema",
        "encrypted_password": "in the live 201 and in the spec's GET /meetings/{meetingId}",
    },
}
# Error codes Zoom documents for every operation (developers.zoom.us/docs/api/errors and
# PROVIDERS.md): 300 invalid body/"Validation Failed.", 4711 token without the needed scopes,
# 124 invalid or expired token, 429 rate limits.
GLOBAL_ERROR_CODES: dict[int, set[int]] = {400: {300, 4711}, 401: {124}, 429: {429}}
GLOBAL_STATUSES = {401, 429}


class SpecViolation(AssertionError):
    """The checked payload does not match the specs; ``problems`` lists each mismatch."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{what}:\n  - " + "\n  - ".join(problems))


def specs_dir() -> Path:
    """``$HIRESYNC_SPECS_DIR``, else ``<repo>/../shared/specs``, else the vendored copies."""
    env = os.environ.get("HIRESYNC_SPECS_DIR")
    if env:
        return Path(env)
    shared = Path(__file__).resolve().parents[3] / "shared" / "specs"
    return shared if (shared / MEETINGS_FILE).exists() else Path(__file__).with_name("specs")


@cache
def meetings_spec() -> dict[str, Any]:
    return json.loads((specs_dir() / MEETINGS_FILE).read_text())


@cache
def webhooks_spec() -> dict[str, Any]:
    return json.loads((specs_dir() / WEBHOOKS_FILE).read_text())


# -- paths ------------------------------------------------------------------------------------


def _segments(path: str) -> list[str]:
    path = path.split("?", 1)[0]
    if "/v2/" in path:
        path = path.split("/v2/", 1)[1]
    return [s for s in path.strip("/").split("/") if s]


@cache
def template_for(path: str) -> str:
    """The spec's path template for a concrete path, full URL or template (``me`` included)."""
    segments = _segments(path)
    for template in meetings_spec()["paths"]:
        parts = _segments(template)
        if len(parts) == len(segments) and all(
            p.startswith("{") or p == s for p, s in zip(parts, segments, strict=True)
        ):
            return template
    raise SpecViolation(f"path {path!r}", ["no operation in the Zoom spec matches this path"])


def operation(method: str, path: str) -> dict[str, Any]:
    template = template_for(path)
    found = meetings_spec()["paths"][template].get(method.lower())
    if found is None:
        raise SpecViolation(f"{method} {template}", ["method not defined in the Zoom spec"])
    return found


# -- strict schema walking ----------------------------------------------------------------------


def unknown_properties(schema: dict[str, Any], value: Any, at: str = "$") -> list[str]:
    """Every property of ``value`` the schema does not define (``oneOf``: the best branch)."""
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        found = [unknown_properties(b, value, at) for b in branches]
        return min(found, key=len)
    if isinstance(value, list):
        items = schema.get("items", {})
        return [p for i, v in enumerate(value) for p in unknown_properties(items, v, f"{at}[{i}]")]
    if not isinstance(value, dict) or "properties" not in schema:
        return []
    problems = []
    for key, item in value.items():
        child = schema["properties"].get(key)
        if child is None:
            problems.append(f"{at}.{key}: not defined by the spec")
        else:
            problems += unknown_properties(child, item, f"{at}.{key}")
    return problems


def open_one_of(node: Any) -> Any:
    """Copy of a schema where a ``oneOf`` of open object schemas (no ``required``, no
    ``additionalProperties: false``) becomes ``anyOf``: such branches never exclude each other,
    so any body would match "more than one" (the user settings answer is built like that).
    Strictness still applies: :func:`unknown_properties` takes the best-fitting branch."""
    if isinstance(node, list):
        return [open_one_of(v) for v in node]
    if not isinstance(node, dict):
        return node
    copied = {k: open_one_of(v) for k, v in node.items()}
    branches = copied.get("oneOf")
    if branches and all(
        isinstance(b, dict) and b.get("type") == "object" and not b.get("required")
        for b in branches
    ):
        copied["anyOf"] = copied.pop("oneOf")
    return copied


def _schema_errors(validator: Any, schema: dict[str, Any], value: Any) -> list[str]:
    checker = validator(open_one_of(schema), format_checker=oas30_format_checker)
    return [
        f"$.{'.'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in checker.iter_errors(value)
    ]


# -- responses ----------------------------------------------------------------------------------


def _response(op: dict[str, Any], status: int) -> dict[str, Any] | None:
    return op.get("responses", {}).get(str(status))


def _error_problems(op: dict[str, Any], status: int, body: Any) -> list[str]:
    problems = []
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        return ["$: error body must be an object with an integer 'code'"]
    if not isinstance(body.get("message"), str) or not body["message"]:
        problems.append("$.message: must be a non-empty string")
    extra = set(body) - {"code", "message", "errors"}
    if extra:
        problems.append(f"$: unexpected keys in an error body: {sorted(extra)}")
    for i, item in enumerate(body.get("errors", [])):
        if not isinstance(item, dict) or set(item) != {"field", "message"}:
            problems.append(f"$.errors[{i}]: must be {{field, message}}")
    documented = _response(op, status)
    if documented is None and status not in GLOBAL_STATUSES and status < 500:
        problems.append(f"status {status} is not documented for this operation")
    codes = set(map(int, _ERROR_CODE.findall((documented or {}).get("description", ""))))
    allowed = codes | GLOBAL_ERROR_CODES.get(status, set()) | {status}
    if body["code"] not in allowed and status < 500:
        problems.append(
            f"$.code: {body['code']} is not documented for {status} ({sorted(allowed)})"
        )
    return problems


def response_errors(method: str, path: str, status: int, body: Any) -> list[str]:
    """Problems with a response body (empty when it conforms). See :func:`validate_response`."""
    op = operation(method, path)
    if status >= 300:
        return _error_problems(op, status, body)
    documented = _response(op, status)
    if documented is None:
        return [f"status {status} is not documented for this operation"]
    content = documented.get("content", {}).get("application/json")
    if content is None:
        return [] if body in (None, b"", "") else ["a body is not expected for this status"]
    schema = content["schema"]
    problems = _schema_errors(OAS30Validator, schema, body)
    extras = DOCUMENTED_EXTRAS.get((method.upper(), template_for(path), status), {})
    problems += [p for p in unknown_properties(schema, body) if p.split(":")[0][2:] not in extras]
    return problems


def validate_response(method: str, path: str, status: int, body: Any) -> None:
    """Assert that a Zoom REST answer matches the spec (strictly, documented extras aside)."""
    problems = response_errors(method, path, status, body)
    if problems:
        raise SpecViolation(f"{method} {path} -> {status} does not match the Zoom spec", problems)


# -- requests -----------------------------------------------------------------------------------


def request_body_errors(method: str, path: str, body: Any) -> list[str]:
    """Problems with a JSON body a client sends. ``start_time`` may be GMT (``…Z``) or local
    time without an offset, as the field's description allows; other formats are checked."""
    op = operation(method, path)
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return [] if body is None else ["this operation takes no JSON body"]
    schema = content["schema"]
    problems = [
        f"$.{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in OAS30Validator(schema).iter_errors(body)
    ]
    problems += unknown_properties(schema, body)
    start = body.get("start_time") if isinstance(body, dict) else None
    if start is not None and not (_GMT.match(str(start)) or _LOCAL.match(str(start))):
        problems.append(f"$.start_time: {start!r} is neither yyyy-MM-ddTHH:mm:ssZ nor local time")
    return problems


def validate_request_body(method: str, path: str, body: Any) -> None:
    problems = request_body_errors(method, path, body)
    if problems:
        raise SpecViolation(f"{method} {path} request body does not match the Zoom spec", problems)


def validate_query(method: str, path: str, params: dict[str, str]) -> None:
    """Query parameters must be declared by the operation, with valid enum/integer values."""
    op = operation(method, path)
    declared = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
    problems = []
    for name, value in params.items():
        parameter = declared.get(name)
        if parameter is None:
            problems.append(f"{name}: not a parameter of this operation")
            continue
        schema = parameter.get("schema", {})
        if schema.get("type") == "integer" and not str(value).isdigit():
            problems.append(f"{name}: must be an integer, got {value!r}")
        if "enum" in schema and value not in [str(v) for v in schema["enum"]]:
            problems.append(f"{name}: {value!r} is not one of {schema['enum']}")
    if problems:
        raise SpecViolation(f"{method} {path} query does not match the Zoom spec", problems)


# -- webhooks -----------------------------------------------------------------------------------


def webhook_schema(event: str) -> dict[str, Any]:
    found = webhooks_spec()["paths"].get(event)
    if found is None:
        raise SpecViolation(event, ["no schema for this event in the Marketplace webhooks spec"])
    return found["post"]["requestBody"]["content"]["application/json"]["schema"]


def webhook_errors(body: Any) -> list[str]:
    """Problems with an event body: the event's 3.1 schema, formats, nothing undocumented."""
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        return ["$.event: missing"]
    schema = webhook_schema(body["event"])
    problems = [
        f"$.{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in OAS31Validator(schema, format_checker=oas31_format_checker).iter_errors(body)
    ]
    return problems + unknown_properties(schema, body)


def validate_webhook(body: Any) -> None:
    problems = webhook_errors(body)
    if problems:
        raise SpecViolation("webhook body does not match the Marketplace spec", problems)
