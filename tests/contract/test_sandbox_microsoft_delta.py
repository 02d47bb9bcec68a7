"""``calendarView/delta`` on the sandbox: rounds, paging, ``@removed``, expired tokens, windows.

Every answer is validated against the spec path ``/users/{user-id}/calendarView/
microsoft.graph.delta()`` and every item against the ``event`` type of the types file
(``graph_spec``). The behaviours checked are Graph's (event-delta.md, delta-query-events.md,
delta-query-overview.md) and the quirks the sandbox reproduces from the field (occurrence
stubs, series never split across pages, no ``@removed`` for a single deleted occurrence).
Each test gets a mailbox of its own, so rounds are exact.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hiresync.providers.errors import SyncTokenExpired
from hiresync.providers.microsoft import AppTokenProvider, GraphClient, RetryPolicy
from hiresync.sandbox.microsoft import CONTOSO_ID, MicrosoftSandbox
from hiresync.sandbox.microsoft.model import Override, User
from tests.contract.conftest import MS_NOW, replace_limits
from tests.contract.graph_spec import template_for, validate_entity, validate_response

GRAPH = "/graph/v1.0"
DELTA_TEMPLATE = "/users/{user-id}/calendarView/microsoft.graph.delta()"
START = datetime(2026, 3, 16, tzinfo=UTC)  # a Monday, the week after MS_NOW
END = START + timedelta(days=7)
STUB_KEYS = {"@odata.type", "@odata.etag", "id", "seriesMasterId", "type", "start", "end"}
_numbers = itertools.count(1)


@pytest.fixture
def mailbox(ms_sandbox: MicrosoftSandbox, ms_http: httpx.Client) -> User:
    """A fresh, empty mailbox in Contoso (its own delta state, nothing seeded)."""
    number = next(_numbers)
    return ms_sandbox.add_user(
        "contoso.com", display_name=f"Delta Tester{number}", mail=f"delta{number}@contoso.com"
    )


def add(sandbox: MicrosoftSandbox, user: User, day: int, hour: int, subject: str = "") -> str:
    start = START + timedelta(days=day, hours=hour)
    event = sandbox.add_event(
        "contoso.com",
        user.id,
        subject=subject or f"Meeting {day}/{hour}",
        start=start,
        end=start + timedelta(minutes=30),
    )
    return event.id


def get(http: httpx.Client, url: str, page: int | None = None, **headers: str) -> httpx.Response:
    """One delta request (a path or a full link), validated against the specs."""
    if page is not None:
        headers["Prefer"] = ", ".join(
            filter(None, [headers.get("Prefer"), f"odata.maxpagesize={page}"])
        )
    response = http.get(url if url.startswith("http") else GRAPH + url, headers=headers)
    body = response.json() if response.content else None
    path = httpx.URL(url).path if url.startswith("http") else GRAPH + url.split("?")[0]
    assert template_for(path) == DELTA_TEMPLATE or "calendars" in path
    validate_response("GET", path, response.status_code, body)
    for item in (body or {}).get("value", []):
        validate_entity("event", item)
    return response


def first_url(user: User, start: datetime = START, end: datetime = END) -> str:
    return (
        f"/users/{user.id}/calendarView/delta?startDateTime={start:%Y-%m-%dT%H:%M:%SZ}"
        f"&endDateTime={end:%Y-%m-%dT%H:%M:%SZ}"
    )


def run_round(
    http: httpx.Client, url: str, page: int | None = None
) -> tuple[list[list[dict[str, Any]]], str]:
    """Every page of a round (values), and its deltaLink."""
    pages: list[list[dict[str, Any]]] = []
    link: str | None = url
    while link:
        body = get(http, link, page).json()
        assert ("@odata.nextLink" in body) != ("@odata.deltaLink" in body)
        pages.append(body["value"])
        link = body.get("@odata.nextLink")
        if link is None:
            return pages, body["@odata.deltaLink"]
    raise AssertionError("unreachable")


def flat(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page]


def removed(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items if "@removed" in i}


def present(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items if "@removed" not in i}


# -- a first round -------------------------------------------------------------------------------


def test_first_round_pages_with_skiptokens_and_ends_with_a_delta_link(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    inside = {add(ms_sandbox, mailbox, day, 9) for day in range(5)}
    add(ms_sandbox, mailbox, 9, 9)  # after the window
    response = get(ms_graph, first_url(mailbox), page=2)
    body = response.json()
    assert response.headers["preference-applied"] == "odata.maxpagesize=2"
    assert body["@odata.context"].endswith("/$metadata#Collection(event)")
    assert (
        "$skiptoken=" in body["@odata.nextLink"] and "startDateTime" not in body["@odata.nextLink"]
    )
    assert all(item["@odata.type"] == "#microsoft.graph.event" for item in body["value"])
    ms_sandbox.stats.reset()
    pages, delta_link = run_round(ms_graph, first_url(mailbox), page=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert present(flat(pages)) == inside and not removed(flat(pages))
    assert "$deltatoken=" in delta_link and delta_link.startswith("http")
    assert ms_sandbox.stats.by_route["calendarViewDelta"] == 3  # round trips are counted


def test_default_page_is_ten_and_maxpagesize_is_capped(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    for day in range(6):
        for hour in (9, 11):
            add(ms_sandbox, mailbox, day, hour)
    pages, _ = run_round(ms_graph, first_url(mailbox))
    assert [len(p) for p in pages] == [10, 2]
    replace_limits(ms_sandbox, delta_max_page_size=5)
    response = get(ms_graph, first_url(mailbox), page=50)
    assert len(response.json()["value"]) == 5
    assert response.headers["preference-applied"] == "odata.maxpagesize=5"


def test_window_is_required_and_query_options_are_refused(
    ms_graph: httpx.Client, mailbox: User
) -> None:
    no_window = get(ms_graph, f"/users/{mailbox.id}/calendarView/delta")
    assert no_window.status_code == 400
    assert no_window.json()["error"]["code"] == "ErrorInvalidParameter"
    for option in ("$select=subject", "$filter=subject eq 'x'", "$orderby=start/dateTime"):
        refused = get(ms_graph, f"{first_url(mailbox)}&{option}")
        assert refused.status_code == 400, option
        assert refused.json()["error"]["code"] == "ErrorInvalidUrlQuery"
        assert option.split("=")[0] in refused.json()["error"]["message"]


def test_prefer_outlook_timezone_applies_per_request(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    add(ms_sandbox, mailbox, 1, 16)
    response = get(
        ms_graph, first_url(mailbox), page=5, Prefer='outlook.timezone="Pacific Standard Time"'
    )
    event = response.json()["value"][0]
    assert event["start"] == {
        "dateTime": "2026-03-17T09:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    applied = response.headers["preference-applied"]
    assert (
        "odata.maxpagesize=5" in applied and 'outlook.timezone="Pacific Standard Time"' in applied
    )


def test_a_retried_skiptoken_answers_the_same_page(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    for day in range(4):
        add(ms_sandbox, mailbox, day, 10)
    link = get(ms_graph, first_url(mailbox), page=2).json()["@odata.nextLink"]
    once, again = get(ms_graph, link, page=2).json(), get(ms_graph, link, page=2).json()
    assert [e["id"] for e in once["value"]] == [e["id"] for e in again["value"]]
    assert once["@odata.deltaLink"] == again["@odata.deltaLink"]


# -- the next rounds ---------------------------------------------------------------------------


def test_next_round_sends_only_what_changed(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    kept, edited, deleted, moved = (add(ms_sandbox, mailbox, day, 9) for day in range(4))
    _, delta_link = run_round(ms_graph, first_url(mailbox))
    ms_sandbox.update_event_as_user(
        CONTOSO_ID, mailbox.id, edited, {"subject": "Edited in Outlook"}
    )
    ms_sandbox.delete_event_as_user(CONTOSO_ID, mailbox.id, deleted)
    late = (START + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S")
    later = (START + timedelta(days=20, hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    ms_sandbox.update_event_as_user(
        CONTOSO_ID,
        mailbox.id,
        moved,
        {
            "start": {"dateTime": late, "timeZone": "UTC"},
            "end": {"dateTime": later, "timeZone": "UTC"},
        },
    )
    created = add(ms_sandbox, mailbox, 5, 14, "Booked by the user")
    pages, next_link = run_round(ms_graph, delta_link)
    items = flat(pages)
    assert present(items) == {edited, created}
    assert removed(items) == {deleted, moved}  # deleted, and moved out of the window
    assert kept not in present(items) | removed(items)
    gone = next(i for i in items if i["id"] == deleted)
    assert gone == {
        "@odata.type": "#microsoft.graph.event",
        "id": deleted,
        "@removed": {"reason": "deleted"},
    }
    assert next(i for i in items if i["id"] == edited)["subject"] == "Edited in Outlook"
    assert next_link != delta_link
    quiet, _ = run_round(ms_graph, next_link)
    assert quiet == [[]]  # nothing changed since: one empty page and a new deltaLink


def test_changes_outside_the_window_come_as_removed(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    """event-delta.md: "Events that are outside the date range and that have been added,
    deleted, or updated since the previous delta call" come under @removed."""
    outside = add(ms_sandbox, mailbox, 30, 9)
    _, delta_link = run_round(ms_graph, first_url(mailbox))
    ms_sandbox.update_event_as_user(CONTOSO_ID, mailbox.id, outside, {"subject": "Later"})
    added = add(ms_sandbox, mailbox, 40, 9)
    pages, next_link = run_round(ms_graph, delta_link)
    assert removed(flat(pages)) == {outside, added} and not present(flat(pages))
    replace_limits(ms_sandbox, delta_out_of_window_removed=False)
    add(ms_sandbox, mailbox, 50, 9)
    assert run_round(ms_graph, next_link)[0] == [[]]


def test_a_cancelled_meeting_copy_leaves_the_attendees_view(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    organizer = ms_sandbox.add_user(
        "contoso.com", display_name="Org Anizer", mail=f"organizer{next(_numbers)}@contoso.com"
    )
    meeting = ms_sandbox.create_event_as_user(
        CONTOSO_ID,
        organizer.id,
        {
            "subject": "Panel",
            "start": {"dateTime": "2026-03-17T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-17T11:00:00", "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": mailbox.mail}, "type": "required"}],
        },
    )
    pages, delta_link = run_round(ms_graph, first_url(mailbox))
    (copy,) = flat(pages)
    assert copy["subject"] == "Panel" and copy["isOrganizer"] is False
    ms_sandbox.delete_event_as_user(CONTOSO_ID, organizer.id, meeting.id)
    pages, _ = run_round(ms_graph, delta_link)
    assert removed(flat(pages)) == {copy["id"]}


# -- recurring series ----------------------------------------------------------------------------


def standup(sandbox: MicrosoftSandbox, user: User, days: int = 5) -> str:
    body = {
        "subject": "Stand-up",
        "start": {"dateTime": "2026-03-16T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-16T09:15:00", "timeZone": "UTC"},
        "recurrence": {
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "startDate": "2026-03-16", "numberOfOccurrences": days},
        },
    }
    return sandbox.create_event_as_user(CONTOSO_ID, user.id, body).id


def test_series_come_as_master_stubs_and_exceptions_never_split(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    master_id = standup(ms_sandbox, mailbox)
    master = next(e for e in mailbox.events if e.id == master_id)
    moved = datetime(2026, 3, 18, 10, tzinfo=UTC)
    ms_sandbox.add_exception(
        mailbox,
        master,
        datetime(2026, 3, 18).date(),
        Override(moved, moved + timedelta(minutes=15), subject="Late stand-up"),
    )
    ms_sandbox.add_exception(mailbox, master, datetime(2026, 3, 19).date(), None)
    single = add(ms_sandbox, mailbox, 6, 9)
    pages, _ = run_round(ms_graph, first_url(mailbox), page=2)
    assert len(pages[0]) == 5  # master + 4 instances: a series is never split across pages
    series = pages[0]
    assert series[0]["type"] == "seriesMaster" and series[0]["id"] == master_id
    assert series[0]["recurrence"]["pattern"]["type"] == "daily"
    stubs = [i for i in series if i["type"] == "occurrence"]
    assert len(stubs) == 3 and all(set(s) == STUB_KEYS for s in stubs)
    assert all(s["seriesMasterId"] == master_id for s in stubs)
    (exception,) = [i for i in series if i["type"] == "exception"]
    assert exception["subject"] == "Late stand-up" and exception["seriesMasterId"] == master_id
    assert present(flat(pages[1:])) == {single}
    replace_limits(ms_sandbox, delta_split_series=True)
    split, _ = run_round(ms_graph, first_url(mailbox), page=2)
    assert [len(p) for p in split] == [2, 2, 2]


def test_a_cancelled_occurrence_resends_its_series_without_removing_it(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    master_id = standup(ms_sandbox, mailbox, days=3)
    master = next(e for e in mailbox.events if e.id == master_id)
    first_pages, delta_link = run_round(ms_graph, first_url(mailbox))
    cancelled = next(i["id"] for i in flat(first_pages) if i["id"].endswith("_20260317"))
    ms_sandbox.add_exception(mailbox, master, datetime(2026, 3, 17).date(), None)
    pages, next_link = run_round(ms_graph, delta_link)
    items = flat(pages)
    assert present(items) == {master_id, f"{master_id}_20260316", f"{master_id}_20260318"}
    assert not removed(items)  # docs PR #4501: "No indication is given for a deleted occurrence"
    replace_limits(ms_sandbox, delta_cancelled_occurrence_removed=True)
    ms_sandbox.add_exception(mailbox, master, datetime(2026, 3, 18).date(), None)
    assert removed(flat(run_round(ms_graph, next_link)[0])) == {f"{master_id}_20260318"}
    assert cancelled == f"{master_id}_20260317"


# -- expired and reset tokens --------------------------------------------------------------------


def test_expired_tokens_answer_410_sync_state_not_found(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    add(ms_sandbox, mailbox, 1, 9)
    _, delta_link = run_round(ms_graph, first_url(mailbox))
    assert ms_sandbox.expire_delta_tokens("contoso.com", mailbox.mail) >= 1
    gone = get(ms_graph, delta_link)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "syncStateNotFound"
    unknown = get(ms_graph, f"/users/{mailbox.id}/calendarView/delta?$deltatoken=not-a-token")
    assert unknown.status_code == 410
    _, fresh = run_round(ms_graph, first_url(mailbox))
    other = ms_sandbox.add_user(
        "contoso.com", display_name="Oth Er", mail=f"other{next(_numbers)}@contoso.com"
    )
    stolen = fresh.replace(mailbox.id, other.id)  # a token of another mailbox
    assert get(ms_graph, stolen).status_code == 410


def test_tokens_age_out_after_the_configured_lifetime(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    add(ms_sandbox, mailbox, 1, 9)
    replace_limits(ms_sandbox, delta_token_lifetime=0.2)
    _, delta_link = run_round(ms_graph, first_url(mailbox))
    assert get(ms_graph, delta_link).status_code == 200
    time.sleep(0.3)
    assert get(ms_graph, delta_link).status_code == 410


def test_the_token_cache_evicts_the_oldest(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    replace_limits(ms_sandbox, delta_token_cache=2)
    _, oldest = run_round(ms_graph, first_url(mailbox))
    for _ in range(2):
        run_round(ms_graph, first_url(mailbox))
    assert get(ms_graph, oldest).status_code == 410


def test_a_reset_answers_resync_required_with_the_initial_request_as_location(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    event_id = add(ms_sandbox, mailbox, 2, 9)
    _, delta_link = run_round(ms_graph, first_url(mailbox))
    response = ms_graph.post(
        "/_control/tenants/contoso.com/expire-delta-tokens", json={"reset": True}
    )
    assert response.status_code == 200 and response.json()["expired"] >= 1
    gone = get(ms_graph, delta_link)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "resyncRequired"
    location = gone.headers["location"]
    assert "startDateTime=2026-03-16T00:00:00Z" in location and location.endswith("$deltatoken=")
    pages, _ = run_round(ms_graph, location)
    assert present(flat(pages)) == {event_id}  # a full round again


# -- other paths, control API, our client ----------------------------------------------------------


def test_a_named_calendar_has_its_own_delta_path(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    event_id = add(ms_sandbox, mailbox, 1, 9)
    calendar = ms_graph.get(f"{GRAPH}/users/{mailbox.id}/calendar").json()["id"]
    url = first_url(mailbox).replace("/calendarView/", f"/calendars/{calendar}/calendarView/")
    pages, delta_link = run_round(ms_graph, url)
    assert (
        present(flat(pages)) == {event_id} and f"/calendars/{calendar}/calendarView/" in delta_link
    )
    wrong = get(ms_graph, url.replace(calendar, "AAMkADnotacalendar"))
    assert wrong.status_code == 404


def test_control_api_edits_events_as_the_user_would(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    event_id = add(ms_sandbox, mailbox, 1, 9)
    _, delta_link = run_round(ms_graph, first_url(mailbox))
    base = f"/_control/tenants/contoso.com/users/{mailbox.mail}/events"
    assert ms_graph.patch(f"{base}/{event_id}", json={"subject": "Renamed"}).status_code == 200
    assert ms_graph.patch(f"{base}/{event_id}", json={"colour": "red"}).status_code == 400
    assert ms_graph.patch(f"{base}/nope", json={"subject": "x"}).status_code == 404
    pages, delta_link = run_round(ms_graph, delta_link)
    assert [i["subject"] for i in flat(pages)] == ["Renamed"]
    assert ms_graph.delete(f"{base}/{event_id}").status_code == 204
    assert removed(flat(run_round(ms_graph, delta_link)[0])) == {event_id}


async def test_our_client_follows_every_link_and_maps_an_expired_token(
    ms_sandbox: MicrosoftSandbox, ms_base_url: str, mailbox: User
) -> None:
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    tokens = AppTokenProvider(
        login_url=ms_base_url,
        tenant_id=CONTOSO_ID,
        client_id=ms_sandbox.demo_client_id,
        client_secret=ms_sandbox.demo_client_secret,
    )
    client = GraphClient(
        graph_url=ms_base_url + "/graph",
        get_token=tokens,
        retry=RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.05),
        event_hooks={"request": [record]},
    )
    try:
        ids = {add(ms_sandbox, mailbox, day, 9) for day in range(5)}
        first = await client.calendar_view_delta(mailbox.id, START, END, page_size=2)
        assert {e["id"] for e in first.events} == ids and first.pages == 3
        assert all(template_for(r.url.path) == DELTA_TEMPLATE for r in seen)
        assert seen[0].url.params["startDateTime"] == "2026-03-16T00:00:00Z"
        assert all("$skiptoken" in r.url.params for r in seen[1:])
        assert "odata.maxpagesize=2" in seen[0].headers["Prefer"]
        gone = sorted(ids)[0]
        ms_sandbox.delete_event_as_user(CONTOSO_ID, mailbox.id, gone)
        second = await client.calendar_view_delta(mailbox.id, delta_link=first.delta_link)
        assert second.removed == (gone,) and not second.events
        ms_sandbox.expire_delta_tokens(CONTOSO_ID, mailbox.id)
        with pytest.raises(SyncTokenExpired):
            await client.calendar_view_delta(mailbox.id, delta_link=second.delta_link)
    finally:
        await client.aclose()
        tokens.close()
    assert MS_NOW < START
