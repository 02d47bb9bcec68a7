"""Pure parts of the Microsoft sandbox's events support: OData options, body parsing, meetings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hiresync.sandbox.microsoft import MicrosoftSandbox, meetings
from hiresync.sandbox.microsoft.event_body import parse_event_body
from hiresync.sandbox.microsoft.graph_calendar import BadRequest
from hiresync.sandbox.microsoft.model import Tenant, User
from hiresync.sandbox.microsoft.odata_query import (
    InvalidPropertyId,
    PropertyFilter,
    UnsupportedQuery,
    parse_expand,
    parse_filter,
    parse_select,
    property_key,
)
from hiresync.sandbox.microsoft.seed import WORLDWIDE_NA

GUID = "66f5a359-4659-4830-9070-00047ec6ac6e"
PID = f"String {{{GUID}}} Name Color"


# -- extended property ids and filters ----------------------------------------------------------


def test_property_ids_fold_type_and_guid_but_not_the_name() -> None:
    assert property_key(PID) == property_key(f"string {{{GUID.upper()}}} name Color")
    assert property_key(PID) != property_key(f"String {{{GUID}}} Name color")
    assert property_key("Integer 0x0E17") == property_key("integer 0x0e17")
    with pytest.raises(InvalidPropertyId):
        property_key("Color")


@pytest.mark.parametrize(
    ("raw", "op", "value"),
    [
        (
            f"singleValueExtendedProperties/Any(ep: ep/id eq '{PID}' and ep/value eq 'Green')",
            "eq",
            "Green",
        ),
        (f"singleValueExtendedProperties/any(ep:ep/Id eq '{PID}' and ep/Value ne 'x')", "ne", "x"),
        (
            f"singleValueExtendedProperties/Any(p: p/id eq '{PID}' and contains(p/value, 'gr'))",
            "contains",
            "gr",
        ),
        (
            f"singleValueExtendedProperties/Any(ep: ep/id eq '{PID}' and startswith(ep/value,'O''B'))",
            "startswith",
            "O'B",
        ),
    ],
)
def test_documented_filter_shapes_parse(raw: str, op: str, value: str) -> None:
    assert parse_filter(raw) == PropertyFilter(property_key(PID), op, value)


@pytest.mark.parametrize(
    "raw",
    [
        "subject eq 'Interview'",
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{PID}')",
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{PID}' or ep/value eq 'x')",
        f"singleValueExtendedProperties/Any(ep: other/id eq '{PID}' and ep/value eq 'x')",
        "singleValueExtendedProperties/Any(ep: ep/id eq 'Color' and ep/value eq 'x')",
    ],
)
def test_other_filters_are_unsupported(raw: str) -> None:
    with pytest.raises(UnsupportedQuery):
        parse_filter(raw)


def test_filter_values_match_case_insensitively() -> None:
    properties = {property_key(PID): (PID, "Light Green")}
    assert PropertyFilter(property_key(PID), "eq", "light green").matches(properties)
    assert PropertyFilter(property_key(PID), "contains", "GREEN").matches(properties)
    assert PropertyFilter(property_key(PID), "startswith", "light").matches(properties)
    assert not PropertyFilter(property_key(PID), "ne", "LIGHT GREEN").matches(properties)
    assert not PropertyFilter(property_key(PID), "eq", "x").matches({})


def test_expand_and_select() -> None:
    assert parse_expand(f"singleValueExtendedProperties($filter=id eq '{PID}')").property_id == PID
    assert parse_expand("singleValueExtendedProperties").property_id is None
    with pytest.raises(UnsupportedQuery):
        parse_expand("attachments")
    canonical = {"subject": "subject", "start": "start"}
    assert parse_select("Subject, START", canonical) == ("subject", "start")
    with pytest.raises(UnsupportedQuery, match="mood"):
        parse_select("subject,mood", canonical)


# -- request bodies ------------------------------------------------------------------------------


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "Subject": "Interview",
        "body": {"contentType": "HTML", "content": "<b>Hi</b>"},
        "start": {"dateTime": "2026-03-18T09:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-03-18T10:00:00", "timeZone": "Europe/Berlin"},
        "showAs": "BUSY",
        "id": "ignored",
        "@odata.type": "#microsoft.graph.event",
        **extra,
    }


def test_body_names_and_enums_are_case_insensitive_and_read_only_ones_ignored() -> None:
    changes = parse_event_body(_body())
    assert changes["subject"] == "Interview" and changes["show_as"] == "busy"
    assert changes["body_type"] == "html" and "id" not in changes
    start, zone, label = changes["start"]
    assert start == datetime(2026, 3, 18, 8, tzinfo=UTC)
    assert zone == "Europe/Berlin" and label == "W. Europe Standard Time"


def test_attendees_are_deduplicated_and_need_an_address() -> None:
    people = [
        {"emailAddress": {"address": "a@x.com", "name": "A"}, "type": "required"},
        {"emailAddress": {"address": "A@x.com"}, "type": "optional"},
        {"emailAddress": {"address": "b@x.com"}},
    ]
    attendees = parse_event_body(_body(attendees=people))["attendees"]
    assert [(a.address, a.type) for a in attendees] == [
        ("a@x.com", "required"),
        ("b@x.com", "required"),
    ]
    with pytest.raises(BadRequest) as bad:
        parse_event_body(_body(attendees=[{"emailAddress": {"name": "nobody"}}]))
    assert bad.value.code == "ErrorInvalidRecipients"


@pytest.mark.parametrize(
    "extra",
    [{"colour": "red"}, {"showAs": "asleep"}, {"isOnlineMeeting": "yes"}, {"importance": 3}],
)
def test_unknown_properties_and_bad_values_are_request_body_errors(extra: dict[str, Any]) -> None:
    with pytest.raises(BadRequest) as bad:
        parse_event_body(_body(**extra))
    assert bad.value.code == "RequestBodyRead"


def test_extended_property_ids_are_checked() -> None:
    good = parse_event_body(_body(singleValueExtendedProperties=[{"id": PID, "value": "v"}]))
    assert good["extended"] == [(PID, "v")]
    with pytest.raises(BadRequest):
        parse_event_body(_body(singleValueExtendedProperties=[{"id": "Color", "value": "v"}]))


# -- meetings ------------------------------------------------------------------------------------


@pytest.fixture
def office() -> tuple[MicrosoftSandbox, Tenant, User]:
    sandbox = MicrosoftSandbox(now=datetime(2026, 3, 11, tzinfo=UTC), seed=7)
    tenant = sandbox.add_tenant("t1", "Tiny", ["tiny.example"], WORLDWIDE_NA)
    boss = sandbox.add_user(tenant, display_name="Boss One", mail="boss@tiny.example")
    sandbox.add_user(tenant, display_name="Ann Two", mail="ann@tiny.example")
    return sandbox, tenant, boss


def _meeting(*attendees: str) -> dict[str, Any]:
    people = [{"emailAddress": {"address": a}} for a in attendees]
    return parse_event_body(_body(attendees=people))


def test_create_replays_a_transaction_and_copies_into_internal_mailboxes(
    office: tuple[MicrosoftSandbox, Tenant, User],
) -> None:
    sandbox, tenant, boss = office
    changes = _meeting("ann@tiny.example", "guest@gmail.com") | {"transaction_id": "t-1"}
    event, created = meetings.create(sandbox, tenant, boss, changes, "digest")
    again, created_again = meetings.create(sandbox, tenant, boss, changes, "digest")
    assert created and not created_again and again is event
    ann = sandbox.find_mailbox(tenant, "ann@tiny.example")
    assert ann is not None
    copy = meetings.copy_of(ann, event.ical_uid)
    assert copy is not None and copy.show_as == "tentative" and copy.response == "notResponded"
    assert [(m.to, m.internal) for m in tenant.outbox] == [
        ("ann@tiny.example", True),
        ("guest@gmail.com", False),
    ]


def test_responses_track_on_the_organizer_and_reset_when_the_time_moves(
    office: tuple[MicrosoftSandbox, Tenant, User],
) -> None:
    sandbox, tenant, boss = office
    event, _ = meetings.create(sandbox, tenant, boss, _meeting("ann@tiny.example"), "d")
    sandbox.respond(tenant, event.id, "ANN@tiny.example", "accepted")
    assert event.attendees[0].response == "accepted"
    later = parse_event_body(
        {
            "start": {"dateTime": "2026-03-19T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-19T10:00:00", "timeZone": "UTC"},
        }
    )
    meetings.update(sandbox, tenant, boss, event, later)
    assert event.attendees[0].response == "none" and event.sequence == 1
    with pytest.raises(ValueError):
        sandbox.respond(tenant, event.id, "ann@tiny.example", "maybe")
    with pytest.raises(KeyError):
        sandbox.respond(tenant, event.id, "nobody@tiny.example", "accepted")


def test_only_the_organizer_sends_cancellations(
    office: tuple[MicrosoftSandbox, Tenant, User],
) -> None:
    sandbox, tenant, boss = office
    event, _ = meetings.create(sandbox, tenant, boss, _meeting("ann@tiny.example"), "d")
    ann = sandbox.find_mailbox(tenant, "ann@tiny.example")
    assert ann is not None
    copy = meetings.copy_of(ann, event.ical_uid)
    assert copy is not None
    meetings.remove(sandbox, tenant, ann, copy)  # the attendee deletes her copy: no message
    assert [m.kind for m in tenant.outbox] == ["request"]
    meetings.remove(sandbox, tenant, boss, event, "sorry")
    assert [(m.kind, m.comment) for m in tenant.outbox][-1] == ("cancellation", "sorry")
    assert event not in boss.events
