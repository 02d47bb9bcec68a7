"""Validate Microsoft Graph requests and responses against the vendored specs.

Two machine-readable specs live in ``../shared/specs`` (copies in ``specs/`` beside this file;
override with ``HIRESYNC_SPECS_DIR``):

* ``msgraph-v1.0-paths-subset.openapi.json`` — OpenAPI 3.0 paths from 2021: which operation
  exists, its parameters, request body and response envelope.
* ``msgraph-v1.0-types-subset.schema.json`` — JSON Schema of the 2026 CSDL types. Newer, so
  when the two disagree about an entity the **types file wins** (see specs/README.md).

Public helpers (all raise :class:`SpecViolation`, an AssertionError, listing every problem):

* :func:`validate_response` — a response body for ``(method, path, status)``.
* :func:`validate_request_body` — a JSON body we send (getSchedule parameter names are
  matched case-insensitively: the CSDL says ``Schedules``, the docs ``schedules``).
* :func:`validate_query` — query parameters we send.
* :func:`validate_entity` — one object against a types-file type (``"user"``, ``"event"``…).

OData instance annotations (``@odata.context``, ``@odata.nextLink``, ``@odata.etag``,
``@odata.type``…) are allowed everywhere and checked for basic shape. Entities are validated
*strictly* by default: a property the type does not define is an error, because a sandbox
that invents properties has drifted from the real API.
"""

from __future__ import annotations

import copy
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator

PATHS_FILE = "msgraph-v1.0-paths-subset.openapi.json"
TYPES_FILE = "msgraph-v1.0-types-subset.schema.json"
_DATE_TIME = re.compile(r"^\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,12})?(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,12})?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class SpecViolation(AssertionError):
    """The checked payload does not match the specs; ``problems`` lists each mismatch."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{what}:\n  - " + "\n  - ".join(problems))


def specs_dir() -> Path:
    """``$HIRESYNC_SPECS_DIR``, else ``<repo>/../shared/specs``, else the copies vendored
    beside this file (a clean CI clone may not have ``../shared``)."""
    env = os.environ.get("HIRESYNC_SPECS_DIR")
    if env:
        return Path(env)
    shared = Path(__file__).resolve().parents[3] / "shared" / "specs"
    return shared if (shared / PATHS_FILE).exists() else Path(__file__).with_name("specs")


@cache
def paths_spec() -> dict[str, Any]:
    return json.loads((specs_dir() / PATHS_FILE).read_text())


@cache
def types_spec() -> dict[str, Any]:
    return json.loads((specs_dir() / TYPES_FILE).read_text())


# -- path matching ------------------------------------------------------------------------------


def _normalise_segment(segment: str) -> str:
    """``microsoft.graph.getSchedule`` == ``getSchedule``; ``delta()`` == ``delta``."""
    segment = segment.lower()
    segment = segment.removeprefix("microsoft.graph.")
    return segment.removesuffix("()")


def _split(path: str) -> list[str]:
    path = path.split("?", 1)[0]
    if "/v1.0/" in path:
        path = path.split("/v1.0/", 1)[1]
    return [s for s in path.strip("/").split("/") if s]


@cache
def template_for(path: str) -> str:
    """The OpenAPI path template for a concrete Graph path (or a template given as-is).

    Accepts full URLs (``http://host/…/v1.0/users/x/calendar/getSchedule``) and relative
    paths; ``me`` is treated as ``users/{user-id}``.
    """
    segments = _split(path)
    if segments[:1] == ["me"]:
        segments = ["users", "{user-id}", *segments[1:]]
    if [s.lower() for s in segments[2:4]] == ["calendar", "events"]:
        # /users/{id}/calendar/events… is the default calendar's events (user-post-events.md);
        # the paths file lists only the /calendars/{calendar-id}/events… form.
        segments = [*segments[:2], "calendars", "{calendar-id}", *segments[3:]]
    for template in paths_spec()["paths"]:
        parts = _split(template)
        if len(parts) != len(segments):
            continue
        if all(
            p.startswith("{") or _normalise_segment(p) == _normalise_segment(s)
            for p, s in zip(parts, segments, strict=True)
        ):
            return template
    raise SpecViolation(f"path {path!r}", ["no operation in the paths spec matches this path"])


def operation(method: str, path: str) -> dict[str, Any]:
    """The OpenAPI operation object for ``method`` on ``path``."""
    template = template_for(path)
    found = paths_spec()["paths"][template].get(method.lower())
    if found is None:
        raise SpecViolation(f"{method} {template}", ["method not defined in the paths spec"])
    return found


# -- OpenAPI (paths file) validation ----------------------------------------------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        section = "responses" if "/responses/" in schema["$ref"] else "schemas"
        schema = paths_spec()["components"][section][name]
    return schema


def _relax(node: Any) -> Any:
    """Drop the 2021 generator's ``additionalProperties: {type: object}`` (it would reject any
    scalar property added since); strictness comes from the types file instead."""
    if isinstance(node, dict):
        return {
            k: _relax(v)
            for k, v in node.items()
            if not (k == "additionalProperties" and isinstance(v, dict))
        }
    if isinstance(node, list):
        return [_relax(v) for v in node]
    return node


@cache
def _relaxed_components() -> dict[str, Any]:
    return _relax(copy.deepcopy(paths_spec()["components"]))


def _openapi_errors(schema: dict[str, Any], instance: Any) -> list[tuple[tuple, str]]:
    wrapper = {"components": _relaxed_components(), **_relax(schema)}
    validator = OAS30Validator(wrapper)
    return [(tuple(e.absolute_path), e.message) for e in validator.iter_errors(instance)]


def strip_annotations(value: Any, problems: list[str] | None = None, at: str = "$") -> Any:
    """Copy of ``value`` without ``@odata.*`` annotations, checking they are well formed."""
    if isinstance(value, list):
        return [strip_annotations(v, problems, f"{at}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        if "@odata." in key or key.startswith("@"):
            _check_annotation(key, item, problems, f"{at}.{key}")
        else:
            kept[key] = strip_annotations(item, problems, f"{at}.{key}")
    return kept


def _check_annotation(key: str, value: Any, problems: list[str] | None, at: str) -> None:
    if problems is None:
        return
    if key.endswith(("@odata.count",)):
        if not isinstance(value, int):
            problems.append(f"{at}: must be an integer")
    elif key == "@removed":
        if not isinstance(value, dict):
            problems.append(f"{at}: must be an object")
    elif not isinstance(value, str):
        problems.append(f"{at}: annotation must be a string")
    elif key.endswith(("nextLink", "deltaLink")) and not re.match(r"^https?://", value):
        problems.append(f"{at}: must be an absolute URL")


# -- types file validation ---------------------------------------------------------------------


@cache
def _navigation_properties(name: str) -> dict[str, Any]:
    """Navigation properties (``x-odata-navigationProperties``), inherited ones included."""
    definition = types_spec()["$defs"][name]
    merged: dict[str, Any] = {}
    base = definition.get("x-odata-baseType")
    if base:
        merged.update(_navigation_properties(base))
    merged.update(definition.get("x-odata-navigationProperties", {}))
    return merged


def _navigation_schema(target: str) -> dict[str, Any]:
    """An expanded navigation property (``$expand``) as a types-file schema."""
    if target.startswith("Collection(") and target.endswith(")"):
        return {"type": "array", "items": {"$ref": f"#/$defs/{_type_name(target[11:-1])}"}}
    return {"$ref": f"#/$defs/{_type_name(target)}"}


@cache
def _type_properties(name: str) -> dict[str, Any]:
    """Properties of a types-file type including those inherited through x-odata-baseType."""
    defs = types_spec()["$defs"]
    definition = defs[name]
    merged: dict[str, Any] = {}
    base = definition.get("x-odata-baseType")
    if base:
        merged.update(_type_properties(base))
    merged.update(definition.get("properties", {}))
    return merged


def _type_name(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1].removeprefix("microsoft.graph.")
    return name.lstrip("#")


def _check_scalar(schema: dict[str, Any], value: Any, at: str, problems: list[str]) -> None:
    kind, fmt = schema.get("type"), schema.get("format")
    expected = {"string": str, "boolean": bool, "array": list, "object": dict}.get(kind)
    if kind in ("integer", "number"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and (kind == "number" or float(value).is_integer())
        if not ok:
            problems.append(f"{at}: expected {kind}, got {value!r}")
        return
    if expected and not isinstance(value, expected):
        problems.append(f"{at}: expected {kind}, got {type(value).__name__} {value!r}")
        return
    patterns = {"date-time": _DATE_TIME, "date": _DATE, "time": _TIME, "uuid": _UUID}
    if isinstance(value, str) and fmt in patterns and not patterns[fmt].match(value):
        problems.append(f"{at}: {value!r} is not a valid {fmt}")


def check_value(
    schema: dict[str, Any], value: Any, at: str, problems: list[str], *, strict: bool = True
) -> None:
    """Check ``value`` against a types-file property schema (refs, arrays, enums, scalars)."""
    if value is None:
        if schema.get("x-nullable") is False:
            problems.append(f"{at}: must not be null")
        return
    if "$ref" in schema:
        _check_typed(_type_name(schema["$ref"]), value, at, problems, strict=strict)
    elif schema.get("type") == "array":
        if not isinstance(value, list):
            problems.append(f"{at}: expected array, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check_value(schema.get("items", {}), item, f"{at}[{i}]", problems, strict=strict)
    else:
        _check_scalar(schema, value, at, problems)


def _check_typed(name: str, value: Any, at: str, problems: list[str], *, strict: bool) -> None:
    defs = types_spec()["$defs"]
    definition = defs.get(name)
    if definition is None:
        problems.append(f"{at}: unknown type {name!r} in the types spec")
        return
    if definition.get("x-odata-kind") == "enum":
        members = (
            value.split(",")
            if definition.get("x-odata-isFlags") and isinstance(value, str)
            else [value]
        )
        bad = [m for m in members if m not in definition["enum"]]
        if bad:
            problems.append(f"{at}: {value!r} is not one of {definition['enum']}")
        return
    if not isinstance(value, dict):
        problems.append(f"{at}: expected object of type {name}, got {type(value).__name__}")
        return
    derived = value.get("@odata.type")
    if isinstance(derived, str):
        derived_name = _type_name(derived)
        if derived_name in defs and derived_name != name:
            _check_typed(derived_name, value, at, problems, strict=strict)
            return
        if derived_name not in defs:  # a derived type outside the subset: check base props only
            strict = False
    _check_object(name, value, at, problems, strict=strict)


def _check_object(
    name: str, value: dict[str, Any], at: str, problems: list[str], *, strict: bool
) -> None:
    properties = _type_properties(name)
    open_type = types_spec()["$defs"][name].get("x-odata-openType", False)
    for key, item in value.items():
        if "@" in key:
            _check_annotation(key, item, problems, f"{at}.{key}")
            continue
        schema = properties.get(key)
        navigation = _navigation_properties(name).get(key)
        if schema is None and navigation is not None:
            schema = _navigation_schema(navigation["type"])
        if schema is None:
            if strict:
                hint = " (open type, but Graph never emits it)" if open_type else ""
                problems.append(f"{at}.{key}: not a property of {name}{hint}")
            continue
        check_value(schema, item, f"{at}.{key}", problems, strict=strict)


def entity_errors(type_name: str, obj: Any, *, strict: bool = True, at: str = "$") -> list[str]:
    problems: list[str] = []
    _check_typed(_type_name(type_name), obj, at, problems, strict=strict)
    return problems


def validate_entity(type_name: str, obj: Any, *, strict: bool = True) -> None:
    """Check one object (``"user"``, ``"event"``, ``"scheduleInformation"``…) against the types
    file; with ``strict`` (default) properties the type does not define are errors."""
    problems = entity_errors(type_name, obj, strict=strict)
    if problems:
        raise SpecViolation(f"{type_name} does not match the types spec", problems)


# -- responses ----------------------------------------------------------------------------------


def _response_schema(op: dict[str, Any], status: int) -> dict[str, Any] | None:
    responses = op.get("responses", {})
    chosen = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    if chosen is None and status >= 400:
        chosen = responses.get("default")
    if chosen is None and status == 204:
        return None
    if chosen is None:
        raise SpecViolation(f"status {status}", ["status not documented for this operation"])
    chosen = _resolve(chosen)
    content = chosen.get("content", {}).get("application/json")
    return content.get("schema") if content else None


def _entity_of(schema: dict[str, Any]) -> tuple[str | None, bool]:
    """(types-file type name, is_collection) described by an OpenAPI response schema."""
    if "$ref" in schema:
        return _type_name(schema["$ref"]), False
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        return _type_name(schema["items"]["$ref"]), True
    value = schema.get("properties", {}).get("value", {})
    if value.get("type") == "array" and "$ref" in value.get("items", {}):
        return _type_name(value["items"]["$ref"]), True
    return None, False


def _check_error_body(body: Any, problems: list[str]) -> None:
    """Graph's error body: ``error.code``/``message`` strings, ``innerError`` with ids."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        problems.append("$.error: missing error object")
        return
    for key in ("code", "message"):
        if not isinstance(error.get(key), str) or not error.get(key):
            problems.append(f"$.error.{key}: must be a non-empty string")
    inner = error.get("innerError", error.get("innererror"))
    if inner is not None:
        for key in ("date", "request-id", "client-request-id"):
            if not isinstance(inner.get(key), str):
                problems.append(f"$.error.innerError.{key}: must be a string")


def bound_action(path: str) -> dict[str, Any] | None:
    """The CSDL action a path ends in when the paths file lacks it (``…/events/{id}/cancel``:
    event accept/decline/tentativelyAccept/cancel/forward are only in the types file)."""
    segments = _split(path)
    if len(segments) < 3 or segments[-3].lower() != "events":
        return None
    name = _normalise_segment(segments[-1])
    for op in types_spec().get("x-operations", []):
        binding = op.get("bindingParameter", {}).get("type", "")
        if op.get("kind") == "Action" and op["name"].lower() == name and binding == "event":
            return op
    return None


def _action_response_errors(status: int, body: Any) -> list[str]:
    """Event actions have no return type: 202/204 with no body (event-cancel.md), or an error."""
    problems: list[str] = []
    if status >= 400:
        _check_error_body(body, problems)
    elif status not in (200, 202, 204):
        problems.append(f"status {status} not expected for an action")
    elif body not in (None, b"", ""):
        problems.append("an action without a return type answers with no body")
    return problems


def _documented_schema(method: str, op: dict[str, Any], status: int) -> dict[str, Any] | None:
    """PATCH on an Outlook item answers 200 with the item (event-update.md: "returns a 200
    OK response code and updated event object"); the 2021 generator wrote 204 for every
    PATCH, so the request body's entity schema stands in for the missing 200."""
    if method.upper() != "PATCH" or status != 200 or "200" in op.get("responses", {}):
        return None
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    return content["schema"] if content else None


def response_errors(
    method: str, path: str, status: int, body: Any, *, strict: bool = True
) -> list[str]:
    """Problems with a response body (empty when it conforms). See :func:`validate_response`."""
    action = bound_action(path) if method.upper() == "POST" else None
    if action is not None:
        return _action_response_errors(status, body)
    op = operation(method, path)
    schema = _documented_schema(method, op, status) or _response_schema(op, status)
    problems: list[str] = []
    if schema is None:
        return problems if body in (None, b"", "") else ["body not expected for this status"]
    plain = strip_annotations(body, problems)
    if status >= 400:
        _check_error_body(body, problems)
    entity, collection = _entity_of(schema if "$ref" in schema else _resolve(schema))
    if collection and _resolve(schema).get("type") == "array":
        # OData wraps action/function collections in {"value": [...]}; the 2021 file does not.
        if not isinstance(plain, dict) or not isinstance(plain.get("value"), list):
            return [*problems, "$: expected an object with a 'value' array"]
        plain = plain["value"]
    type_problems: list[str] = []
    if entity and status < 400:
        items = (
            plain
            if isinstance(plain, list)
            else (plain.get("value", []) if collection else [plain])
        )
        where = "$.value" if collection else "$"
        for i, item in enumerate(items):
            at = f"{where}[{i}]" if collection else where
            type_problems += entity_errors(entity, item, strict=strict, at=at)
    for location, message in _openapi_errors(schema, plain):
        inside_entity = bool(entity) and len(location) > (1 if collection else 0)
        if not inside_entity:  # entity-level disagreements: the types file decides
            problems.append(f"$.{'.'.join(map(str, location))}: {message} (paths spec)")
    return problems + type_problems


def validate_response(
    method: str, path: str, status: int, body: Any, *, strict: bool = True
) -> None:
    """Assert that a Graph response body matches the specs.

    ``path`` may be a full URL, a concrete path (``/v1.0/users/x/calendarView``) or a template.
    The envelope is checked against the paths file; every entity against the types file
    (authoritative when they disagree). Error statuses are checked against ``odata.error``
    plus Graph's ``innerError`` conventions.
    """
    problems = response_errors(method, path, status, body, strict=strict)
    if problems:
        raise SpecViolation(f"{method} {path} -> {status} does not match the specs", problems)


# -- requests -----------------------------------------------------------------------------------


def _action_parameters(name: str) -> dict[str, dict[str, Any]]:
    for op in types_spec().get("x-operations", []):
        if op.get("name", "").lower() == name.lower():
            return {p["name"].lower(): p for p in op.get("parameters", [])}
    return {}


def _edm_schema(edm: str) -> dict[str, Any]:
    if edm.startswith("Collection(") and edm.endswith(")"):
        return {"type": "array", "items": _edm_schema(edm[11:-1])}
    scalars = {
        "Edm.String": {"type": "string"},
        "Edm.Int32": {"type": "integer"},
        "Edm.Boolean": {"type": "boolean"},
        "Edm.DateTimeOffset": {"type": "string", "format": "date-time"},
    }
    return scalars.get(edm, {"$ref": f"#/$defs/{edm.removeprefix('microsoft.graph.')}"})


def _action_body_errors(action: dict[str, Any], body: Any) -> list[str]:
    """A bound action's parameters, matched case-insensitively (docs send ``Comment``)."""
    if not isinstance(body, dict):
        return ["$: request body must be a JSON object"]
    parameters = {p["name"].lower(): p for p in action.get("parameters", [])}
    problems: list[str] = []
    for key, value in body.items():
        parameter = parameters.get(key.lower())
        if parameter is None:
            problems.append(f"$.{key}: not a parameter of {action['name']}")
        else:
            check_value(_edm_schema(parameter["type"]), value, f"$.{key}", problems)
    return problems


def request_body_errors(method: str, path: str, body: Any) -> list[str]:
    """Problems with a JSON request body. See :func:`validate_request_body`.

    Bodies that are entities (an event to create or update) are also checked strictly
    against the types file: a property the type does not define is an error."""
    action = bound_action(path) if method.upper() == "POST" else None
    if action is not None:
        return _action_body_errors(action, body)
    op = operation(method, path)
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return [] if body is None else ["this operation takes no JSON body"]
    schema = _resolve(content["schema"])
    problems: list[str] = []
    if not isinstance(body, dict):
        return ["$: request body must be a JSON object"]
    declared = {name.lower(): name for name in schema.get("properties", {})}
    action = _normalise_segment(_split(template_for(path))[-1])
    parameters = (
        _action_parameters(action) if op.get("x-ms-docs-operation-type") == "action" else {}
    )
    normalised = {}
    for key, value in body.items():
        canonical = declared.get(key.lower())
        if canonical is None and declared:
            problems.append(f"$.{key}: not a parameter of this operation")
            continue
        normalised[canonical or key] = value
        if key.lower() in parameters:
            check_value(_edm_schema(parameters[key.lower()]["type"]), value, f"$.{key}", problems)
    problems += [
        f"$.{'.'.join(map(str, loc))}: {msg} (paths spec)"
        for loc, msg in _openapi_errors(schema, normalised)
    ]
    entity, _ = _entity_of(content["schema"])
    if entity:
        problems += entity_errors(entity, body, strict=True)
    return problems


def validate_request_body(method: str, path: str, body: Any) -> None:
    """Assert that a JSON body we send matches the operation's request schema.

    Action parameters (getSchedule's ``schedules``, ``startTime``…) are matched to the spec's
    names case-insensitively and type-checked against the CSDL action signature.
    """
    problems = request_body_errors(method, path, body)
    if problems:
        raise SpecViolation(f"{method} {path} request body does not match the specs", problems)


def validate_query(method: str, path: str, params: dict[str, str]) -> None:
    """Assert that query parameters are declared (or OData system options) and well typed;
    required ones (e.g. calendarView's ``startDateTime``) must be present."""
    op = operation(method, path)
    declared: dict[str, dict[str, Any]] = {}
    for parameter in op.get("parameters", []):
        if "$ref" in parameter:
            name = parameter["$ref"].rsplit("/", 1)[-1]
            parameter = paths_spec()["components"]["parameters"][name]
        if parameter.get("in") == "query":
            declared[parameter["name"]] = parameter
    problems = [
        f"{name}: required query parameter missing"
        for name, p in declared.items()
        if p.get("required") and name not in params
    ]
    system = {
        "$skiptoken",
        "$skip",
        "$top",
        "$select",
        "$filter",
        "$orderby",
        "$count",
        "$search",
        "$expand",
        "$deltatoken",
    }
    for name, value in params.items():
        if name not in declared and name not in system:
            problems.append(f"{name}: not a parameter of this operation")
        if declared.get(name, {}).get("schema", {}).get("type") == "integer" and not (
            str(value).isdigit()
        ):
            problems.append(f"{name}: must be a non-negative integer, got {value!r}")
    if problems:
        raise SpecViolation(f"{method} {path} query does not match the specs", problems)
