"""Writing interviews into calendars on the sandbox: events CRUD, cancel, meeting semantics.

Every Graph response is validated against the specs (``graph_spec``), and so is every body
we send; the assertions then check the behaviours issue 4 leans on: transactionId
deduplication, attendee copies and the invitations Exchange sends, updates that move the
copies, cancel (organizer only), re-finding an event by its extended property, Teams links
only where the calendar allows them, attendee responses, and faults on the new routes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from hiresync.sandbox.microsoft import CONTOSO_ID, MicrosoftSandbox
from tests.contract.conftest import MS_NOW, replace_limits
from tests.contract.graph_spec import validate_request_body, validate_response

GRAPH = "/graph/v1.0"
PAT, SAM, DANA = "pat.recruiter@contoso.com", "sam.manager@contoso.com", "dana.scott@contoso.com"
DANA_UPN = "dscott@contoso.onmicrosoft.com"  # /users/{id|UPN}: Dana's mail is not her UPN
CANDIDATE = "ada.candidate@gmail.com"
PROPERTY = "String {8e7b2f4a-1c3d-4e5f-9a0b-1c2d3e4f5a6b} Name hiresyncInterviewId"
DAY = (MS_NOW + timedelta(days=7)).replace(hour=0)  # a Wednesday, a week ahead
_numbers = itertools.count(1)


def graph(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Call Graph; validate the JSON we send and the answer we get against the specs."""
    if "json" in kwargs:
        validate_request_body(method, path, kwargs["json"])
    response = http.request(method, GRAPH + path, **kwargs)
    body = response.json() if response.content else None
    validate_response(method, GRAPH + path, response.status_code, body)
    return response


def interview(**changes: Any) -> dict[str, Any]:
    """A create-event body as hiresync sends it: Teams, two attendees, our id, a transactionId."""
    number = next(_numbers)
    body: dict[str, Any] = {
        "subject": f"Interview {number}: Ada Lovelace",
        "body": {"contentType": "html", "content": "<p>Technical interview</p>"},
        "start": {"dateTime": f"{DAY:%Y-%m-%d}T09:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": f"{DAY:%Y-%m-%d}T10:00:00", "timeZone": "Pacific Standard Time"},
        "location": {"displayName": "Room 4.01"},
        "attendees": [
            {"emailAddress": {"address": SAM, "name": "Sam Manager"}, "type": "required"},
            {"emailAddress": {"address": CANDIDATE, "name": "Ada Lovelace"}, "type": "required"},
        ],
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "responseRequested": True,
        "allowNewTimeProposals": False,
        "showAs": "busy",
        "sensitivity": "normal",
        "transactionId": f"tx-{number}-{MS_NOW:%s}",
        "singleValueExtendedProperties": [{"id": PROPERTY, "value": f"iv-{number}"}],
    }
    return body | changes


def create(http: httpx.Client, body: dict[str, Any], mailbox: str = PAT) -> dict[str, Any]:
    response = graph(http, "POST", f"/users/{mailbox}/events", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def sent(http: httpx.Client, event_id: str) -> list[tuple[str, str, int]]:
    """(kind, to, sequence) of every meeting message for an event, from the control API."""
    log = http.get(f"/_control/tenants/contoso.com/invitations?eventId={event_id}").json()
    return [(m["kind"], m["to"], m["sequence"]) for m in log]


def copy_in(http: httpx.Client, mailbox: str, ical_uid: str) -> dict[str, Any] | None:
    """The attendee's copy, found through their calendar view of the interview day."""
    url = (
        f"/users/{mailbox}/calendarView?startDateTime={DAY - timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"
        f"&endDateTime={DAY + timedelta(days=3):%Y-%m-%dT%H:%M:%SZ}"
    )
    found: list[dict[str, Any]] = []
    while url:
        body = graph(http, "GET", url, headers={"Prefer": "odata.maxpagesize=100"}).json()
        found += [e for e in body["value"] if e["iCalUId"] == ical_uid]
        url = body.get("@odata.nextLink", "").split("/v1.0", 1)[-1] or None
    return found[0] if found else None


@pytest.fixture
def teams_restored(ms_sandbox: MicrosoftSandbox) -> Iterator[MicrosoftSandbox]:
    yield ms_sandbox
    ms_sandbox.set_online_meeting_providers("contoso.com", ["teamsForBusiness"])
    for user in ms_sandbox.tenant("contoso.com").users.values():
        user.online_meeting_providers = None


# -- create -----------------------------------------------------------------------------------


def test_create_returns_the_whole_event_as_graph_does(ms_graph: httpx.Client) -> None:
    event = create(ms_graph, interview())
    assert event["isOrganizer"] is True and event["type"] == "singleInstance"
    assert event["organizer"]["emailAddress"] == {"name": "Pat Recruiter", "address": PAT}
    assert event["responseStatus"]["response"] == "organizer"
    assert event["start"] == {
        "dateTime": f"{DAY:%Y-%m-%d}T16:00:00.0000000",
        "timeZone": "UTC",
    }  # PDT
    assert event["originalStartTimeZone"] == "Pacific Standard Time"
    assert [a["status"] for a in event["attendees"]] == [
        {"response": "none", "time": "0001-01-01T00:00:00Z"}
    ] * 2
    assert event["isOnlineMeeting"] is True and event["onlineMeetingProvider"] == "teamsForBusiness"
    assert event["onlineMeeting"]["joinUrl"].startswith(
        "https://teams.microsoft.com/l/meetup-join/"
    )
    assert event["iCalUId"].startswith("040000008200E00074C5B7101A82E008")
    assert event["changeKey"] and event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["transactionId"].startswith("tx-") and event["webLink"].startswith("https://")
    assert event["location"]["displayName"] == "Room 4.01"
    assert event["allowNewTimeProposals"] is False
    assert "singleValueExtendedProperties" not in event  # only with $expand


def test_iana_zones_and_prefer_outlook_timezone(ms_graph: httpx.Client) -> None:
    body = interview(
        start={"dateTime": f"{DAY:%Y-%m-%d}T09:00:00", "timeZone": "Europe/Berlin"},
        end={"dateTime": f"{DAY:%Y-%m-%d}T09:45:00", "timeZone": "Europe/Berlin"},
    )
    response = graph(
        ms_graph,
        "POST",
        f"/users/{PAT}/events",
        json=body,
        headers={"Prefer": 'outlook.timezone="Tokyo Standard Time"'},
    )
    event = response.json()
    assert event["start"] == {
        "dateTime": f"{DAY:%Y-%m-%d}T17:00:00.0000000",
        "timeZone": "Tokyo Standard Time",
    }
    assert response.headers["preference-applied"] == 'outlook.timezone="Tokyo Standard Time"'


def test_bad_bodies_are_refused_before_anything_is_written(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    pat = ms_sandbox.find_user("contoso.com", PAT)
    assert pat is not None
    before = len(pat.events)
    late = interview(end={"dateTime": f"{DAY:%Y-%m-%d}T08:00:00", "timeZone": "UTC"})
    late["start"]["timeZone"] = "UTC"
    unknown = ms_graph.post(f"{GRAPH}/users/{PAT}/events", json={**interview(), "colour": "red"})
    backwards = graph(ms_graph, "POST", f"/users/{PAT}/events", json=late)
    bad_zone = interview(start={"dateTime": f"{DAY:%Y-%m-%d}T08:00:00", "timeZone": "Mars/Base"})
    zone = graph(ms_graph, "POST", f"/users/{PAT}/events", json=bad_zone)
    assert unknown.status_code == backwards.status_code == zone.status_code == 400
    assert unknown.json()["error"]["code"] == "RequestBodyRead"
    assert backwards.json()["error"]["code"] == "ErrorCalendarEndDateIsEarlierThanStartDate"
    assert zone.json()["error"]["code"] == "TimeZoneNotSupportedException"
    assert len(pat.events) == before


def test_retried_post_with_the_same_transaction_id_creates_nothing(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    body = interview()
    first, again = create(ms_graph, body), create(ms_graph, body)
    assert again["id"] == first["id"] and again["iCalUId"] == first["iCalUId"]
    pat = ms_sandbox.find_user("contoso.com", PAT)
    assert pat is not None
    assert sum(e.transaction_id == body["transactionId"] for e in pat.events) == 1
    assert sorted(sent(ms_graph, first["id"])) == [("request", CANDIDATE, 0), ("request", SAM, 0)]


@pytest.mark.parametrize(
    ("mode", "status", "same"),
    [("return_existing", 201, True), ("create", 201, False), ("error", 400, None)],
)
def test_same_transaction_id_with_another_body_is_configurable(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mode: str, status: int, same: bool | None
) -> None:
    replace_limits(ms_sandbox, transaction_id_mismatch=mode)
    body = interview()
    first = create(ms_graph, body)
    other = graph(ms_graph, "POST", f"/users/{PAT}/events", json={**body, "subject": "Other"})
    assert other.status_code == status
    if same is not None:
        assert (other.json()["id"] == first["id"]) is same


# -- meeting semantics --------------------------------------------------------------------------


def test_attendees_of_the_tenant_get_a_copy_and_everyone_an_invitation(
    ms_graph: httpx.Client,
) -> None:
    event = create(ms_graph, interview())
    copy = copy_in(ms_graph, SAM, event["iCalUId"])
    assert copy is not None and copy["id"] != event["id"]
    assert copy["isOrganizer"] is False and copy["showAs"] == "tentative"
    assert copy["responseStatus"]["response"] == "notResponded"
    assert copy["organizer"]["emailAddress"]["address"] == PAT
    assert copy["onlineMeeting"]["joinUrl"] == event["onlineMeeting"]["joinUrl"]
    log = ms_graph.get("/_control/tenants/contoso.com/invitations", params={"eventId": event["id"]})
    messages = {m["to"]: m for m in log.json()}
    assert messages[SAM]["internal"] is True and messages[CANDIDATE]["internal"] is False
    assert {m["kind"] for m in messages.values()} == {"request"}
    assert messages[CANDIDATE]["iCalUId"] == event["iCalUId"]
    assert messages[CANDIDATE]["subject"] == event["subject"]


def test_free_busy_shows_the_interview_for_organizer_and_attendee(ms_graph: httpx.Client) -> None:
    create(
        ms_graph,
        interview(
            start={"dateTime": f"{DAY:%Y-%m-%d}T02:00:00", "timeZone": "UTC"},
            end={"dateTime": f"{DAY:%Y-%m-%d}T03:00:00", "timeZone": "UTC"},
        ),
    )
    body = {
        "schedules": [PAT, SAM],
        "startTime": {"dateTime": f"{DAY:%Y-%m-%d}T02:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": f"{DAY:%Y-%m-%d}T03:00:00", "timeZone": "UTC"},
        "availabilityViewInterval": 60,
    }
    views = graph(ms_graph, "POST", f"/users/{PAT}/calendar/getSchedule", json=body).json()
    assert [v["availabilityView"] for v in views["value"]] == ["2", "1"]  # busy, tentative


def test_patch_moves_the_copies_and_sends_updates(ms_graph: httpx.Client) -> None:
    event = create(ms_graph, interview())
    later = {"dateTime": f"{DAY:%Y-%m-%d}T13:00:00", "timeZone": "Pacific Standard Time"}
    end = {"dateTime": f"{DAY:%Y-%m-%d}T14:00:00", "timeZone": "Pacific Standard Time"}
    changes = {"start": later, "end": end, "location": {"displayName": "Room 2.12"}}
    response = graph(ms_graph, "PATCH", f"/users/{PAT}/events/{event['id']}", json=changes)
    moved = response.json()
    assert response.status_code == 200 and moved["changeKey"] != event["changeKey"]
    assert moved["start"]["dateTime"] == f"{DAY:%Y-%m-%d}T20:00:00.0000000"
    copy = copy_in(ms_graph, SAM, event["iCalUId"])
    assert copy is not None and copy["start"] == moved["start"]
    assert copy["location"]["displayName"] == "Room 2.12"
    assert sorted(sent(ms_graph, event["id"]))[-2:] == [
        ("update", CANDIDATE, 1),
        ("update", SAM, 1),
    ]


def test_patching_only_attendees_tells_only_those_who_changed(ms_graph: httpx.Client) -> None:
    event = create(ms_graph, interview())
    attendees = [
        {"emailAddress": {"address": SAM, "name": "Sam Manager"}, "type": "required"},
        {"emailAddress": {"address": DANA, "name": "Dana Scott"}, "type": "optional"},
    ]
    graph(ms_graph, "PATCH", f"/users/{PAT}/events/{event['id']}", json={"attendees": attendees})
    assert sent(ms_graph, event["id"])[2:] == [("cancellation", CANDIDATE, 0), ("request", DANA, 0)]
    assert copy_in(ms_graph, DANA_UPN, event["iCalUId"]) is not None


def test_organizer_cancels_with_a_comment_and_the_event_goes(ms_graph: httpx.Client) -> None:
    event = create(ms_graph, interview())
    path = f"/users/{PAT}/events/{event['id']}"
    response = graph(ms_graph, "POST", f"{path}/cancel", json={"comment": "Position filled"})
    assert response.status_code == 202 and response.content == b""
    gone = graph(ms_graph, "GET", path)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "ErrorItemNotFound"
    log = ms_graph.get(f"/_control/tenants/contoso.com/invitations?eventId={event['id']}").json()
    cancellations = [m for m in log if m["kind"] == "cancellation"]
    assert {m["to"] for m in cancellations} == {SAM, CANDIDATE}
    assert {m["comment"] for m in cancellations} == {"Position filled"}
    assert copy_in(ms_graph, SAM, event["iCalUId"]) is None  # cancelled: off the view


def test_cancelled_copies_stay_marked_until_removed(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    event = create(ms_graph, interview())
    graph(ms_graph, "POST", f"/users/{PAT}/events/{event['id']}/cancel", json={})
    sam = ms_sandbox.find_user("contoso.com", SAM)
    assert sam is not None
    copy = next(e for e in sam.events if e.ical_uid == event["iCalUId"])
    listed = graph(ms_graph, "GET", f"/users/{SAM}/events/{copy.id}").json()
    assert listed["isCancelled"] is True and listed["subject"].startswith("Canceled: ")
    replace_limits(ms_sandbox, cancelled_copies="remove")
    other = create(ms_graph, interview())
    graph(ms_graph, "DELETE", f"/users/{PAT}/events/{other['id']}")
    assert not any(e.ical_uid == other["iCalUId"] for e in sam.events)


def test_only_the_organizer_may_cancel(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    event = create(ms_graph, interview())
    sam = ms_sandbox.find_user("contoso.com", SAM)
    assert sam is not None
    copy = next(e for e in sam.events if e.ical_uid == event["iCalUId"])
    response = graph(ms_graph, "POST", f"/users/{SAM}/events/{copy.id}/cancel", json={})
    assert response.status_code == 400
    assert "You need to be an organizer to cancel a meeting" in response.json()["error"]["message"]
    assert graph(ms_graph, "GET", f"/users/{PAT}/events/{event['id']}").status_code == 200


def test_organizer_delete_sends_cancellations(ms_graph: httpx.Client) -> None:
    event = create(ms_graph, interview())
    response = graph(ms_graph, "DELETE", f"/users/{PAT}/events/{event['id']}")
    assert response.status_code == 204
    assert sorted(sent(ms_graph, event["id"]))[:2] == [
        ("cancellation", CANDIDATE, 1),
        ("cancellation", SAM, 1),
    ]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE", "POST"])
def test_unknown_event_ids_are_404(ms_graph: httpx.Client, method: str) -> None:
    path = f"/users/{PAT}/events/AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAA="
    kwargs: dict[str, Any] = {"json": {"subject": "x"}} if method == "PATCH" else {}
    if method == "POST":
        path, kwargs = path + "/cancel", {"json": {"comment": "x"}}
    response = graph(ms_graph, method, path, **kwargs)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ErrorItemNotFound"


# -- finding an event again ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "singleValueExtendedProperties/Any(ep: ep/id eq '{id}' and ep/value eq '{value}')",
        "singleValueExtendedProperties/any(ep:ep/Id eq '{id}' and ep/Value eq '{value}')",
    ],
)
def test_an_event_is_found_again_by_its_extended_property(
    ms_graph: httpx.Client, template: str
) -> None:
    body = interview()
    event = create(ms_graph, body)
    value = body["singleValueExtendedProperties"][0]["value"].upper()  # values: case-insensitive
    query = {"$filter": template.format(id=PROPERTY, value=value)}
    found = graph(ms_graph, "GET", f"/users/{PAT}/events", params=query).json()["value"]
    assert [e["id"] for e in found] == [event["id"]]
    assert "singleValueExtendedProperties" not in found[0]
    renamed = PROPERTY.replace("hiresyncInterviewId", "HIRESYNCINTERVIEWID")  # names: exact
    query = {"$filter": template.format(id=renamed, value=value)}
    assert graph(ms_graph, "GET", f"/users/{PAT}/events", params=query).json()["value"] == []


def test_a_teams_event_found_again_with_hiresyncs_select_carries_its_link(
    ms_graph: httpx.Client,
) -> None:
    """What the push reads after a create whose answer it never saw: the Teams link too."""
    from hiresync.providers.microsoft.client import WRITTEN_SELECT

    body = interview()
    event = create(ms_graph, body)
    value = body["singleValueExtendedProperties"][0]["value"]
    query = {
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROPERTY}' "
        f"and ep/value eq '{value}')",
        "$select": WRITTEN_SELECT,
    }
    (found,) = graph(ms_graph, "GET", f"/users/{PAT}/events", params=query).json()["value"]
    assert found["onlineMeeting"]["joinUrl"] == event["onlineMeeting"]["joinUrl"]


def test_get_with_select_and_expand_of_the_extended_property(ms_graph: httpx.Client) -> None:
    body = interview()
    event = create(ms_graph, body)
    expand = f"singleValueExtendedProperties($filter=id eq '{PROPERTY}')"
    path = f"/users/{PAT}/events/{event['id']}"
    got = graph(ms_graph, "GET", path, params={"$select": "subject,start", "$expand": expand})
    assert set(got.json()) == {
        "@odata.context",
        "@odata.etag",
        "id",
        "subject",
        "start",
        "singleValueExtendedProperties",
    }
    assert got.json()["singleValueExtendedProperties"] == body["singleValueExtendedProperties"]
    other = expand.replace("hiresyncInterviewId", "somethingElse")
    assert (
        "singleValueExtendedProperties"
        not in graph(ms_graph, "GET", path, params={"$expand": other}).json()
    )


@pytest.mark.parametrize(
    "query",
    [
        {"$filter": "subject eq 'Interview'"},
        {"$filter": "singleValueExtendedProperties/Any(ep: ep/value eq 'x')"},
        {
            "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROPERTY}' or ep/value eq 'x')"
        },
    ],
)
def test_filters_the_sandbox_does_not_support_are_400(
    ms_graph: httpx.Client, query: dict[str, str]
) -> None:
    response = graph(ms_graph, "GET", f"/users/{PAT}/events", params=query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidUrlQueryFilter"


def test_unknown_select_property_is_400(ms_graph: httpx.Client) -> None:
    event = create(ms_graph, interview())
    response = graph(
        ms_graph, "GET", f"/users/{PAT}/events/{event['id']}", params={"$select": "mood"}
    )
    assert response.status_code == 400 and "mood" in response.json()["error"]["message"]


# -- calendars and Teams ------------------------------------------------------------------------


def test_calendars_say_which_online_meeting_providers_they_allow(
    ms_graph: httpx.Client, teams_restored: MicrosoftSandbox
) -> None:
    default = graph(ms_graph, "GET", f"/users/{PAT}/calendar").json()
    assert default["allowedOnlineMeetingProviders"] == ["teamsForBusiness"]
    listed = graph(ms_graph, "GET", f"/users/{PAT}/calendars").json()["value"]
    assert [c["id"] for c in listed] == [default["id"]]
    one = graph(ms_graph, "GET", f"/users/{PAT}/calendars/{default['id']}").json()
    assert one["id"] == default["id"] and one["isDefaultCalendar"] is True
    put = ms_graph.put(
        "/_control/tenants/contoso.com/online-meetings", json={"providers": [], "user": DANA}
    )
    assert put.status_code == 200
    dana = graph(ms_graph, "GET", f"/users/{DANA_UPN}/calendar").json()
    assert dana["allowedOnlineMeetingProviders"] == []
    assert dana["defaultOnlineMeetingProvider"] == "unknown"


def test_teams_link_only_where_the_calendar_allows_it(
    ms_graph: httpx.Client, teams_restored: MicrosoftSandbox
) -> None:
    teams_restored.set_online_meeting_providers("contoso.com", [], user=DANA)
    event = create(ms_graph, interview(), mailbox=DANA_UPN)
    assert event["isOnlineMeeting"] is False and event["onlineMeeting"] is None
    assert event["onlineMeetingProvider"] == "unknown"
    replace_limits(teams_restored, online_meeting_not_allowed="error")
    refused = graph(ms_graph, "POST", f"/users/{DANA_UPN}/events", json=interview())
    assert refused.status_code == 400
    teams_restored.set_online_meeting_providers("contoso.com", [])  # the whole tenant
    assert create(ms_graph, interview(isOnlineMeeting=False, onlineMeetingProvider="unknown"))


def test_events_in_a_named_calendar_and_the_default_calendar_path(ms_graph: httpx.Client) -> None:
    calendar = graph(ms_graph, "GET", f"/users/{PAT}/calendar").json()["id"]
    event = graph(
        ms_graph, "POST", f"/users/{PAT}/calendars/{calendar}/events", json=interview()
    ).json()
    got = graph(ms_graph, "GET", f"/users/{PAT}/calendar/events/{event['id']}")
    assert got.status_code == 200 and got.json()["id"] == event["id"]
    wrong = graph(ms_graph, "POST", f"/users/{PAT}/calendars/AAMkADnope/events", json=interview())
    assert wrong.status_code == 404


# -- responses ----------------------------------------------------------------------------------


def test_attendee_responses_reach_the_organizers_event(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    event = create(ms_graph, interview())
    answer = ms_graph.post(
        f"/_control/tenants/contoso.com/events/{event['id']}/responses",
        json={"attendee": CANDIDATE, "response": "tentativelyAccepted"},
    )
    assert answer.status_code == 200
    ms_sandbox.respond("contoso.com", event["id"], SAM, "declined")
    got = graph(ms_graph, "GET", f"/users/{PAT}/events/{event['id']}").json()
    statuses = {a["emailAddress"]["address"]: a["status"] for a in got["attendees"]}
    assert statuses[CANDIDATE]["response"] == "tentativelyAccepted"
    assert (
        statuses[SAM]["response"] == "declined" and statuses[SAM]["time"] != "0001-01-01T00:00:00Z"
    )
    assert copy_in(ms_graph, SAM, event["iCalUId"]) is None  # declined: off Sam's calendar


def test_accepting_makes_the_copy_busy(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    event = create(ms_graph, interview())
    ms_sandbox.respond("contoso.com", event["id"], SAM, "accepted")
    copy = copy_in(ms_graph, SAM, event["iCalUId"])
    assert copy is not None and copy["showAs"] == "busy"
    assert copy["responseStatus"]["response"] == "accepted"


def test_responses_from_strangers_or_unknown_events_are_refused(ms_graph: httpx.Client) -> None:
    event = create(ms_graph, interview())
    base = "/_control/tenants/contoso.com/events"
    stranger = ms_graph.post(
        f"{base}/{event['id']}/responses", json={"attendee": DANA, "response": "accepted"}
    )
    unknown = ms_graph.post(
        f"{base}/nope/responses", json={"attendee": SAM, "response": "accepted"}
    )
    bad = ms_graph.post(
        f"{base}/{event['id']}/responses", json={"attendee": SAM, "response": "maybe"}
    )
    assert (stranger.status_code, unknown.status_code, bad.status_code) == (404, 404, 400)


# -- faults, statistics, pages ------------------------------------------------------------------


def test_fail_next_applies_to_creates_and_nothing_is_written(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    ms_sandbox.set_faults("contoso.com", fail_next=1, fail_status=503)
    body = interview()
    failed = graph(ms_graph, "POST", f"/users/{PAT}/events", json=body)
    assert failed.status_code == 503 and failed.headers["retry-after"]
    pat = ms_sandbox.find_user("contoso.com", PAT)
    assert pat is not None and not any(
        e.transaction_id == body["transactionId"] for e in pat.events
    )
    ms_sandbox.set_faults("contoso.com", throttle_rate=1.0)
    throttled = graph(ms_graph, "GET", f"/users/{PAT}/events")
    assert throttled.status_code == 429


def test_mailbox_concurrency_limit_covers_event_writes(
    ms_graph: httpx.Client, ms_token: str, ms_base_url: str, ms_sandbox: MicrosoftSandbox
) -> None:
    ms_sandbox.set_faults("contoso.com", latency_ms=300)

    async def five() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {ms_token}"}
        async with httpx.AsyncClient(base_url=ms_base_url, headers=headers, timeout=15) as client:
            return await asyncio.gather(
                *(client.post(f"{GRAPH}/users/{PAT}/events", json=interview()) for _ in range(5))
            )

    statuses = sorted(r.status_code for r in asyncio.run(five()))
    assert statuses == [201, 201, 201, 201, 429]


def test_a_lost_response_after_commit_then_a_retry_finds_the_event(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    ms_sandbox.set_faults("contoso.com", drop_response_after_commit_next=1)
    body = interview()
    with pytest.raises(httpx.TransportError):
        ms_graph.post(f"{GRAPH}/users/{PAT}/events", json=body)
    retried = create(ms_graph, body)  # same transactionId: the committed event comes back
    pat = ms_sandbox.find_user("contoso.com", PAT)
    assert pat is not None
    assert [e.id for e in pat.events if e.transaction_id == body["transactionId"]] == [
        retried["id"]
    ]
    assert sum(ms_sandbox.stats.snapshot()["dropped"].values()) == 1


def test_a_lost_response_can_be_a_504_instead(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    event = create(ms_graph, interview())
    ms_graph.put(
        "/_control/tenants/contoso.com/faults",
        json={"drop_response_after_commit_next": 1, "drop_response_status": 504},
    )
    path = f"/users/{PAT}/events/{event['id']}"
    lost = graph(ms_graph, "PATCH", path, json={"subject": "Renamed"})
    assert lost.status_code == 504
    assert graph(ms_graph, "GET", path).json()["subject"] == "Renamed"  # it was applied


def test_stats_count_the_event_routes_per_mailbox(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox
) -> None:
    ms_graph.post("/_control/stats/reset")
    event = create(ms_graph, interview())
    graph(ms_graph, "GET", f"/users/{PAT}/events/{event['id']}")
    graph(ms_graph, "PATCH", f"/users/{PAT}/events/{event['id']}", json={"subject": "x"})
    graph(ms_graph, "POST", f"/users/{PAT}/events/{event['id']}/cancel", json={})
    stats = ms_graph.get("/_control/stats").json()
    assert stats["by_route"] == {
        "createEvent": 1,
        "getEvent": 1,
        "updateEvent": 1,
        "cancelEvent": 1,
    }
    pat = ms_sandbox.find_user("contoso.com", PAT)
    assert pat is not None
    assert stats["requests"] == {f"{CONTOSO_ID}/{pat.id}": 4}
    assert stats["by_mailbox_route"][f"{CONTOSO_ID}/{pat.id}/createEvent"] == 1


def test_sandbox_pages_show_the_invitations_microsoft_sent(ms_graph: httpx.Client) -> None:
    event = create(ms_graph, interview())
    home = ms_graph.get("/")
    assert "Meeting messages sent" in home.text and event["subject"] in home.text
    page = ms_graph.get("/invitations", params={"tenant": "contoso.com"})
    assert page.status_code == 200 and CANDIDATE in page.text and "Invitation" in page.text
    assert ms_graph.get("/invitations", params={"tenant": "nowhere.example"}).status_code == 404
