"""The spec helpers catch the drift they exist to catch (otherwise every green test lies)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.graph_spec import (
    SpecViolation,
    template_for,
    validate_entity,
    validate_query,
    validate_request_body,
    validate_response,
)

SCHEDULE = "/users/{user-id}/calendar/getSchedule"


def _info(**extra: Any) -> dict[str, Any]:
    return {
        "scheduleId": "a@contoso.com",
        "availabilityView": "02",
        "scheduleItems": [
            {
                "isPrivate": False,
                "status": "busy",
                "subject": "x",
                "location": "",
                "start": {"dateTime": "2026-03-11T09:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2026-03-11T10:00:00.0000000", "timeZone": "UTC"},
            }
        ],
        **extra,
    }


def test_concrete_urls_map_to_templates() -> None:
    assert template_for("http://h/sandbox/graph/v1.0/users/x@y.com/calendar/getSchedule") == (
        "/users/{user-id}/calendar/microsoft.graph.getSchedule"
    )
    assert template_for("/v1.0/me/calendarView") == "/users/{user-id}/calendarView"


def test_valid_get_schedule_response_passes() -> None:
    validate_response("POST", SCHEDULE, 200, {"@odata.context": "x", "value": [_info()]})


@pytest.mark.parametrize(
    "bad",
    [
        {"value": [_info(freeBusyColour="red")]},  # invented property
        {"value": [_info(availabilityView=2)]},  # wrong type
        {"value": [{**_info(), "scheduleItems": [{"status": "sleeping"}]}]},  # not an enum value
        {"value": _info()},  # not wrapped in a collection
        {"@odata.nextLink": "/relative", "value": []},  # nextLink must be absolute
    ],
)
def test_drifted_responses_are_reported(bad: dict[str, Any]) -> None:
    with pytest.raises(SpecViolation):
        validate_response("POST", SCHEDULE, 200, bad)


def test_error_bodies_need_code_and_message() -> None:
    validate_response(
        "GET", "/users", 429, {"error": {"code": "TooManyRequests", "message": "slow down"}}
    )
    with pytest.raises(SpecViolation):
        validate_response("GET", "/users", 429, {"error": {"message": "no code"}})


def test_request_body_parameter_names_are_case_insensitive_but_must_exist() -> None:
    body = {
        "schedules": ["a@b.c"],
        "startTime": {"dateTime": "2026-01-01T00:00:00", "timeZone": "UTC"},
        "EndTime": {"dateTime": "2026-01-02T00:00:00", "timeZone": "UTC"},
        "availabilityViewInterval": 30,
    }
    validate_request_body("POST", SCHEDULE, body)
    with pytest.raises(SpecViolation):
        validate_request_body("POST", SCHEDULE, {**body, "availabilityViewInterval": "30"})
    with pytest.raises(SpecViolation):
        validate_request_body("POST", SCHEDULE, {**body, "timeWindow": 3})


def test_entities_and_queries() -> None:
    validate_entity(
        "user",
        {
            "id": "1",
            "mail": None,
            "proxyAddresses": ["SMTP:a@b.c"],
            "@odata.type": "#microsoft.graph.user",
        },
    )
    with pytest.raises(SpecViolation):
        validate_entity("workingHours", {"startTime": "8am"})
    validate_query("GET", "/users/x/calendarView", {"startDateTime": "a", "endDateTime": "b"})
    with pytest.raises(SpecViolation):
        validate_query("GET", "/users/x/calendarView", {"startDateTime": "a"})
