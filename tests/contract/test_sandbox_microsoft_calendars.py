"""A mailbox's calendars on the sandbox: list, create, rename, delete, and events, views,
delta and subscriptions on one calendar (``graph_calendars.py``), held to the specs.

Every request body and answer is validated against the paths file for its operation
(``/users/{user-id}/calendars…``) and every calendar and event against the types file. The
behaviours checked are Graph's: calendar-delete.md ("a calendar other than the default
calendar"), user-post-calendars.md, ErrorFolderExists on a name already used (corso PR
#3318), event ids unique across a mailbox's calendars (docs issue #391), getSchedule reading
the default calendar only (outlook-get-free-busy-schedule.md), ``…/events`` subscriptions
covering every calendar of the mailbox (outlook-change-notifications-overview.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hiresync.sandbox.microsoft import CONTOSO_ID, DEMO_CLIENT_ID, MicrosoftSandbox
from hiresync.sandbox.microsoft import tokens as sandbox_tokens
from hiresync.sandbox.microsoft.model import User
from tests.contract.conftest import replace_limits
from tests.contract.graph_spec import validate_entity, validate_request_body, validate_response
from tests.contract.test_sandbox_microsoft_subscriptions import (  # noqa: F401 (fixtures)
    STATE,
    Receiver,
    base,
    hook,
    receiver,
    subscribe,
)

GRAPH = "/graph/v1.0"
START = datetime(2026, 4, 6, tzinfo=UTC)  # a Monday
END = START + timedelta(days=7)
_numbers = itertools.count(1)


@pytest.fixture
def endpoint(hook: Receiver, base: str) -> tuple[Receiver, str]:  # noqa: F811
    """The subscription tests' notification receiver (reset, manual delivery) and its URL."""
    return hook, base


@pytest.fixture
def mailbox(ms_sandbox: MicrosoftSandbox) -> Iterator[User]:
    number = next(_numbers)
    yield ms_sandbox.add_user(
        "contoso.com", display_name=f"Cal Keeper{number}", mail=f"calkeeper{number}@contoso.com"
    )


def graph(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A Graph call whose body and answer are validated against the specs; calendars and
    events in the answer against their types."""
    if "json" in kwargs:
        validate_request_body(method, path.split("?")[0], kwargs["json"])
    response = http.request(method, GRAPH + path, **kwargs)
    body = response.json() if response.content else None
    validate_response(method, GRAPH + path.split("?")[0], response.status_code, body)
    if response.status_code in (200, 201) and isinstance(body, dict):
        kind = "event" if "/events" in path or "calendarView" in path else "calendar"
        if "getSchedule" in path:
            kind = "scheduleInformation"
        for item in body.get("value", [body]):
            validate_entity(kind, {k: v for k, v in item.items() if k != "@odata.context"})
    return response


def event_body(subject: str, day: int = 0, hour: int = 10) -> dict[str, Any]:
    start = START + timedelta(days=day, hours=hour)
    return {
        "subject": subject,
        "start": {"dateTime": f"{start:%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
        "end": {"dateTime": f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
    }


def window() -> str:
    return f"startDateTime={START:%Y-%m-%dT%H:%M:%SZ}&endDateTime={END:%Y-%m-%dT%H:%M:%SZ}"


def new_calendar(http: httpx.Client, user: User, name: str = "Hiring interviews") -> str:
    made = graph(http, "POST", f"/users/{user.id}/calendars", json={"name": name})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def delta_round(http: httpx.Client, url: str) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    while True:
        page = http.get(url if url.startswith("http") else GRAPH + url)
        assert page.status_code == 200, page.text
        validate_response("GET", httpx.URL(page.url).path, 200, page.json())
        items += page.json()["value"]
        if "@odata.deltaLink" in page.json():
            return items, page.json()["@odata.deltaLink"]
        url = page.json()["@odata.nextLink"]


# -- the calendars ------------------------------------------------------------------------------


def test_a_new_calendar_is_listed_after_the_default_one_and_paged(
    ms_graph: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    listed = graph(ms_graph, "GET", f"/users/{mailbox.id}/calendars").json()["value"]
    assert [(c["name"], c["isDefaultCalendar"]) for c in listed] == [("Calendar", True)]
    made = graph(
        ms_graph, "POST", f"/users/{mailbox.id}/calendars", json={"name": "Hiring interviews"}
    )
    assert made.status_code == 201
    calendar = made.json()
    assert calendar["name"] == "Hiring interviews" and not calendar["isDefaultCalendar"]
    assert calendar["isRemovable"] and calendar["canEdit"] and calendar["changeKey"]
    assert calendar["owner"]["address"] == mailbox.mail
    assert calendar["allowedOnlineMeetingProviders"] == ["teamsForBusiness"]

    replace_limits(ms_sandbox, calendars_page_size=2)
    new_calendar(ms_graph, mailbox, "Side projects")
    first = graph(ms_graph, "GET", f"/users/{mailbox.id}/calendars?$select=id,name").json()
    assert [c["name"] for c in first["value"]] == ["Calendar", "Hiring interviews"]
    assert set(first["value"][0]) == {"@odata.id", "id", "name"}, "$select is honoured"
    rest = ms_graph.get(first["@odata.nextLink"]).json()
    assert [c["name"] for c in rest["value"]] == ["Side projects"] and "@odata.nextLink" not in rest
    one = graph(ms_graph, "GET", f"/users/{mailbox.id}/calendars/{calendar['id']}").json()
    assert one["id"] == calendar["id"] and one["name"] == "Hiring interviews"


def test_a_name_already_used_is_409_error_folder_exists_and_an_empty_one_400(
    ms_graph: httpx.Client, mailbox: User
) -> None:
    new_calendar(ms_graph, mailbox, "Hiring interviews")
    for name in ("Hiring interviews", "hiring INTERVIEWS", "Calendar"):
        again = graph(ms_graph, "POST", f"/users/{mailbox.id}/calendars", json={"name": name})
        assert again.status_code == 409, name
        assert again.json()["error"]["code"] == "ErrorFolderExists"
    empty = graph(ms_graph, "POST", f"/users/{mailbox.id}/calendars", json={"name": " "})
    assert empty.status_code == 400
    listed = graph(ms_graph, "GET", f"/users/{mailbox.id}/calendars").json()["value"]
    assert len(listed) == 2, "nothing made twice"


def test_renaming_a_calendar_keeps_its_id_and_refuses_a_name_in_use(
    ms_graph: httpx.Client, mailbox: User
) -> None:
    cid = new_calendar(ms_graph, mailbox, "Interviews")
    new_calendar(ms_graph, mailbox, "Other")
    renamed = graph(
        ms_graph,
        "PATCH",
        f"/users/{mailbox.id}/calendars/{cid}",
        json={"name": "Acme interviews", "color": "lightGreen"},
    )
    assert renamed.status_code == 200
    assert (renamed.json()["id"], renamed.json()["name"]) == (cid, "Acme interviews")
    taken = graph(ms_graph, "PATCH", f"/users/{mailbox.id}/calendars/{cid}", json={"name": "Other"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "ErrorFolderExists"


def test_the_default_calendar_cannot_be_deleted(ms_graph: httpx.Client, mailbox: User) -> None:
    default = graph(ms_graph, "GET", f"/users/{mailbox.id}/calendar").json()
    refused = graph(ms_graph, "DELETE", f"/users/{mailbox.id}/calendars/{default['id']}")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "ErrorDeleteDistinguishedFolder"
    assert graph(ms_graph, "GET", f"/users/{mailbox.id}/calendar").status_code == 200


def test_deleting_a_calendar_deletes_its_events_and_every_route_under_it_is_404(
    ms_graph: httpx.Client, mailbox: User
) -> None:
    cid = new_calendar(ms_graph, mailbox)
    made = graph(
        ms_graph, "POST", f"/users/{mailbox.id}/calendars/{cid}/events", json=event_body("Int")
    )
    event_id = made.json()["id"]
    _, link = delta_round(
        ms_graph, f"/users/{mailbox.id}/calendars/{cid}/calendarView/delta?{window()}"
    )
    kept = graph(ms_graph, "POST", f"/users/{mailbox.id}/events", json=event_body("Mine"))

    assert graph(ms_graph, "DELETE", f"/users/{mailbox.id}/calendars/{cid}").status_code == 204
    for path in (
        f"/users/{mailbox.id}/calendars/{cid}",
        f"/users/{mailbox.id}/calendars/{cid}/events",
        f"/users/{mailbox.id}/calendars/{cid}/calendarView?{window()}",
        f"/users/{mailbox.id}/events/{event_id}",
    ):
        gone = graph(ms_graph, "GET", path)
        assert gone.status_code == 404, path
        assert gone.json()["error"]["code"] == "ErrorItemNotFound", path
    after = ms_graph.get(link)  # the calendar's delta, with the token it had
    assert after.status_code == 404 and after.json()["error"]["code"] == "ErrorItemNotFound"
    still = graph(ms_graph, "GET", f"/users/{mailbox.id}/events/{kept.json()['id']}")
    assert still.status_code == 200, "the default calendar's events are untouched"
    again = graph(ms_graph, "DELETE", f"/users/{mailbox.id}/calendars/{cid}")
    assert again.status_code == 404


# -- events of one calendar -----------------------------------------------------------------------


def test_events_of_a_calendar_stay_in_it_and_out_of_the_default_one_and_free_busy(
    ms_graph: httpx.Client, mailbox: User
) -> None:
    cid = new_calendar(ms_graph, mailbox)
    ours = graph(
        ms_graph,
        "POST",
        f"/users/{mailbox.id}/calendars/{cid}/events",
        json=event_body("Interview", hour=10),
    ).json()
    mine = graph(
        ms_graph, "POST", f"/users/{mailbox.id}/events", json=event_body("Standup", hour=14)
    ).json()

    def subjects(path: str) -> list[str]:
        return sorted(e["subject"] for e in graph(ms_graph, "GET", path).json()["value"])

    assert subjects(f"/users/{mailbox.id}/calendars/{cid}/events") == ["Interview"]
    assert subjects(f"/users/{mailbox.id}/events") == ["Standup"]
    assert subjects(f"/users/{mailbox.id}/calendar/events") == ["Standup"]
    assert subjects(f"/users/{mailbox.id}/calendars/{cid}/calendarView?{window()}") == ["Interview"]
    assert subjects(f"/users/{mailbox.id}/calendarView?{window()}") == ["Standup"]
    # An event is found by id whichever calendar holds it, and edited there.
    found = graph(ms_graph, "GET", f"/users/{mailbox.id}/events/{ours['id']}").json()
    assert found["subject"] == "Interview"
    moved = graph(
        ms_graph,
        "PATCH",
        f"/users/{mailbox.id}/events/{ours['id']}",
        json={"subject": "Interview (moved)"},
    )
    assert moved.status_code == 200
    assert subjects(f"/users/{mailbox.id}/calendars/{cid}/events") == ["Interview (moved)"]

    schedule = {
        "schedules": [mailbox.mail],
        "startTime": {"dateTime": f"{START:%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
        "endTime": {
            "dateTime": f"{START + timedelta(days=1):%Y-%m-%dT%H:%M:%S}",
            "timeZone": "UTC",
        },
        "availabilityViewInterval": 60,
    }
    busy = graph(
        ms_graph, "POST", f"/users/{mailbox.id}/calendar/getSchedule", json=schedule
    ).json()
    items = busy["value"][0]["scheduleItems"]
    assert [i["start"]["dateTime"][11:16] for i in items] == ["14:00"], "the default calendar only"
    assert busy["value"][0]["availabilityView"][10] == "0" and mine["id"]


def test_delta_on_a_calendar_sees_only_its_changes_and_the_default_one_none_of_them(
    ms_graph: httpx.Client, mailbox: User
) -> None:
    cid = new_calendar(ms_graph, mailbox)
    view = f"/users/{mailbox.id}/calendars/{cid}/calendarView/delta?{window()}"
    first, link = delta_round(ms_graph, view)
    assert first == []
    _, default_link = delta_round(ms_graph, f"/users/{mailbox.id}/calendarView/delta?{window()}")

    made = graph(
        ms_graph, "POST", f"/users/{mailbox.id}/calendars/{cid}/events", json=event_body("Int")
    ).json()
    items, link = delta_round(ms_graph, link)
    assert [i["id"] for i in items] == [made["id"]]
    for item in items:
        validate_entity("event", item)
    assert delta_round(ms_graph, default_link)[0] == [], "the default calendar did not change"

    graph(ms_graph, "DELETE", f"/users/{mailbox.id}/events/{made['id']}")
    items, _ = delta_round(ms_graph, link)
    assert items == [
        {
            "@odata.type": "#microsoft.graph.event",
            "id": made["id"],
            "@removed": {"reason": "deleted"},
        }
    ]


def test_me_routes_reach_the_signed_in_users_calendars(
    ms_http: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    tenant = ms_sandbox.tenant(CONTOSO_ID)
    token = sandbox_tokens.issue(
        ms_sandbox.signing_key,
        tenant_id=tenant.id,
        client_id=DEMO_CLIENT_ID,
        app_name="hiresync",
        issued_at=ms_sandbox.clock(),
        lifetime=600,
        scopes=("Calendars.ReadWrite", "User.Read"),
        user_id=mailbox.id,
        upn=mailbox.user_principal_name,
    )
    ms_http.headers["Authorization"] = f"Bearer {token}"
    made = graph(ms_http, "POST", "/me/calendars", json={"name": "Mine"})
    assert made.status_code == 201
    cid = made.json()["id"]
    posted = graph(ms_http, "POST", f"/me/calendars/{cid}/events", json=event_body("Via me"))
    assert posted.status_code == 201
    items, _ = delta_round(ms_http, f"/me/calendars/{cid}/calendarView/delta?{window()}")
    assert [i["subject"] for i in items] == ["Via me"]
    assert mailbox.calendars[0].events[0].subject == "Via me"
    assert graph(ms_http, "DELETE", f"/me/calendars/{cid}").status_code == 204
    assert mailbox.calendars == []


# -- subscriptions on one calendar ---------------------------------------------------------------


def test_a_subscription_on_a_calendar_hears_only_that_calendar_and_ends_with_it(
    ms_graph: httpx.Client,
    ms_sandbox: MicrosoftSandbox,
    endpoint: tuple[Receiver, str],
    mailbox: User,
) -> None:
    listener, url = endpoint
    cid = new_calendar(ms_graph, mailbox)
    one = subscribe(ms_graph, url, mailbox, resource=f"users/{mailbox.id}/calendars/{cid}/events")
    assert one.status_code == 201, one.text
    default = subscribe(ms_graph, url, mailbox, resource=f"users/{mailbox.id}/calendar/events")
    everything = subscribe(ms_graph, url, mailbox)  # users/{id}/events: the whole mailbox
    ids = {
        name: r.json()["id"]
        for name, r in (("one", one), ("default", default), ("all", everything))
    }

    ms_sandbox.create_event_as_user(CONTOSO_ID, mailbox.id, event_body("In it"), calendar=cid)
    ms_sandbox.create_event_as_user(CONTOSO_ID, mailbox.id, event_body("Outside", hour=15))
    ms_sandbox.deliver_notifications(force=True)
    heard: dict[str, int] = {}
    for item in listener.notifications():
        assert item["clientState"] == STATE
        heard[item["subscriptionId"]] = heard.get(item["subscriptionId"], 0) + 1
    assert heard == {ids["one"]: 1, ids["default"]: 1, ids["all"]: 2}

    ms_sandbox.delete_calendar_as_user(CONTOSO_ID, mailbox.id, "Hiring interviews")
    ms_sandbox.deliver_notifications(force=True)
    ended = [n for n in listener.notifications("/lifecycle") if n["subscriptionId"] == ids["one"]]
    assert [n["lifecycleEvent"] for n in ended] == ["subscriptionRemoved"]
    listed = {s.id for s in ms_sandbox.list_subscriptions(CONTOSO_ID)}
    assert ids["one"] not in listed and {ids["default"], ids["all"]} <= listed
    renew = graph(
        ms_graph,
        "PATCH",
        f"/subscriptions/{ids['one']}",
        json={"expirationDateTime": "2099-01-01T00:00:00Z"},
    )
    assert renew.status_code == 404
    again = subscribe(ms_graph, url, mailbox, resource=f"users/{mailbox.id}/calendars/{cid}/events")
    assert again.status_code == 404, "a deleted calendar cannot be watched"


def test_controls_add_and_delete_a_calendar_as_the_user(
    ms_http: httpx.Client, ms_sandbox: MicrosoftSandbox, mailbox: User
) -> None:
    control = f"/_control/tenants/{CONTOSO_ID}/users/{mailbox.id}/calendars"
    made = ms_http.post(control, json={"name": "Acme interviews"})
    assert made.status_code == 201 and made.json()["name"] == "Acme interviews"
    assert ms_http.post(control, json={"name": "acme interviews"}).status_code == 409
    assert ms_http.post(control, json={}).status_code == 400
    assert ms_http.delete(f"{control}/{made.json()['id']}").status_code == 204
    assert ms_http.delete(f"{control}/{made.json()['id']}").status_code == 404
    assert mailbox.calendars == []
