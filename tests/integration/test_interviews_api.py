"""Interviews through the API, written into (sandbox) Outlook calendars exactly once
(seed 003: "Google/Microsoft automatically sends meeting requests to meeting
participants")."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time as clock
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select

from hiresync.runtime import Runtime
from hiresync.sandbox.microsoft.model import WorkingHours
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.services import calendar_settings, calendar_sync
from hiresync.services import team as teams
from hiresync.services.calendar_remotes import CalDavLogin
from hiresync.store.tables import SyncedCalendar
from tests.conftest import run_async
from tests.dav_servers import DavServer, running
from tests.integration.browser import IT_ADMIN, Browser, connect_as, job_report, wait_for


@pytest.fixture(scope="module")
def team(stack: Any, make_org_module: Any) -> Any:
    """An organizer and two interviewers with sandbox mailboxes, connected."""
    tag = secrets.token_hex(3)
    people = {}
    for name in ("olga", "ivan", "ines"):
        mail = f"{name}.{tag}@contoso.com"
        stack.sandbox.add_user(
            CONTOSO_ID,
            display_name=f"{name.title()} {tag}",
            mail=mail,
            time_zone="Europe/London",
            working_hours=WorkingHours(start=time(9), end=time(17)),
        )
        people[name] = mail
    org = make_org_module([(n.title(), m) for n, m in people.items()])
    browser = Browser(stack.url)
    try:
        connect_as(browser, org, IT_ADMIN)
    finally:
        browser.close()
    assert wait_for(lambda: len(org.api.get("/v1/directory/matches").json()["matched"]) >= 3), (
        job_report(stack.database_uri)
    )
    org.people = people
    return org


def slot(days: int = 10, hour: int = 10) -> tuple[str, str]:
    day = datetime.now(UTC).date() + timedelta(days=days)
    start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return start.isoformat(), (start + timedelta(hours=1)).isoformat()


def body(team: Any, **changes: Any) -> dict[str, Any]:
    start, end = slot()
    return {
        "title": "Technical interview",
        "candidate": {"name": "Alex Candidate", "email": "alex.candidate@example.org"},
        "interviewers": [{"email": team.people["ivan"]}, {"email": team.people["ines"]}],
        "organizer": {"email": team.people["olga"]},
        "start": start,
        "end": end,
        "time_zone": "Europe/London",
        "meeting": {"type": "custom_link", "url": "https://meet.example.com/abc", "passcode": "42"},
        "notes_for_interviewers": "Focus on system design.",
        "message_to_candidate": "Looking forward to meeting you.",
        **changes,
    }


def test_a_draft_is_kept_in_hiresync_with_its_attendees_and_history(team: Any) -> None:
    created = team.api.post("/v1/interviews", json=body(team))
    assert created.status_code == 201, created.text
    interview = created.json()
    assert interview["status"] == "draft" and interview["calendars"] == []
    roles = sorted((a["role"], a["email"]) for a in interview["attendees"])
    assert roles == [
        ("candidate", "alex.candidate@example.org"),
        ("interviewer", team.people["ines"]),
        ("interviewer", team.people["ivan"]),
    ]
    assert [h["action"] for h in interview["history"]] == ["created"]
    assert interview["organizer_mailbox"] == team.people["olga"]
    again = team.api.get(f"/v1/interviews/{interview['id']}").json()
    assert again == interview


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": "2020-01-06T10:00:00Z", "end": "2020-01-06T11:00:00Z"}, "start"),
        ({"end": "2020-01-01T00:00:00Z"}, "end"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
        ({"interviewers": [{"email": "stranger@elsewhere.example"}]}, "interviewers.0"),
        ({"candidate": {"name": "X", "email": "not-an-address"}}, "candidate.email"),
        ({"meeting": {"type": "custom_link"}}, "meeting.url"),
        ({"meeting": {"type": "phone"}}, "meeting.phone"),
        ({"organizer": {"email": "nobody@contoso.com"}}, "organizer"),
        ({"candidate_id": "00000000-0000-0000-0000-000000000000"}, "candidate"),
    ],
)
def test_bad_interviews_are_refused_and_nothing_is_written(
    team: Any, change: dict[str, Any], field: str
) -> None:
    before = len(team.api.get("/v1/interviews").json())
    answer = team.api.post("/v1/interviews", json=body(team, **change))
    assert 400 <= answer.status_code < 500, answer.text
    error = answer.json()["error"]
    assert error["message"] and error.get("field", "").startswith(field), error
    assert len(team.api.get("/v1/interviews").json()) == before, "nothing half-written"


def test_an_interviewer_from_another_organization_is_unknown_here(team: Any, make_org: Any) -> None:
    other = make_org([("Someone Else", "someone.else@contoso.com")])
    theirs = other.api.get("/v1/users").json()[0]["id"]
    answer = team.api.post("/v1/interviews", json=body(team, interviewers=[{"user_id": theirs}]))
    assert answer.status_code == 422 and theirs in answer.json()["error"]["message"]


def test_cancelling_a_draft_touches_no_calendar_and_twice_is_refused(team: Any, stack: Any) -> None:
    interview = team.api.post("/v1/interviews", json=body(team)).json()
    cancelled = team.api.post(f"/v1/interviews/{interview['id']}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = team.api.post(f"/v1/interviews/{interview['id']}/cancel", json={})
    assert again.status_code == 409 and "cancelled" in again.json()["error"]["message"]
    confirm = team.api.post(f"/v1/interviews/{interview['id']}/confirm")
    assert confirm.status_code == 409
    assert cancelled.json()["calendars"] == []


def test_rescheduling_a_draft_says_to_confirm_first(team: Any) -> None:
    interview = team.api.post("/v1/interviews", json=body(team)).json()
    start, end = slot(days=11)
    moved = team.api.post(
        f"/v1/interviews/{interview['id']}/reschedule", json={"start": start, "end": end}
    )
    assert moved.status_code == 409 and "confirm it first" in moved.json()["error"]["message"]


def test_another_organizations_interview_is_not_found(team: Any, make_org: Any) -> None:
    interview = team.api.post("/v1/interviews", json=body(team)).json()
    other = make_org()
    assert other.api.get(f"/v1/interviews/{interview['id']}").status_code == 404
    assert other.api.post(f"/v1/interviews/{interview['id']}/cancel", json={}).status_code == 404


def test_sent_interviews_count_toward_an_interviewers_daily_cap(team: Any) -> None:
    ivan = next(u for u in team.api.get("/v1/users").json() if u["email"] == team.people["ivan"])
    capped = team.api.patch(f"/v1/users/{ivan['id']}", json={"max_interviews_per_day": 1})
    assert capped.status_code == 200
    start, end = slot(days=20, hour=10)
    try:
        sent = team.api.post(
            "/v1/interviews",
            json=body(
                team, start=start, end=end, interviewers=[{"email": ivan["email"]}], confirm=True
            ),
        )
        assert sent.status_code == 201 and sent.json()["status"] == "confirmed", sent.text
        day = start[:10]
        question = {
            "participants": [{"members": [{"email": ivan["email"]}]}],
            "required_duration": {"minutes": 60},
            "query_periods": [{"start": f"{day}T00:00:00Z", "end": f"{day}T23:59:00Z"}],
        }
        answer = team.api.post("/v1/availability", json=question)
        assert answer.status_code == 200 and answer.json()["available_slots"] == []
        why = team.api.post(
            "/v1/availability/explain",
            json={
                "participants": [{"email": ivan["email"]}],
                "start": f"{day}T14:00:00Z",
                "required_duration": {"minutes": 60},
            },
        ).json()["people"][0]
        assert "daily_cap" in [r["reason"] for r in why["reasons"]]
    finally:
        team.api.patch(f"/v1/users/{ivan['id']}", json={"max_interviews_per_day": None})


def wait_synced(team: Any, interview_id: str, sequence: int) -> dict[str, Any]:
    def synced() -> Any:
        got = team.api.get(f"/v1/interviews/{interview_id}").json()
        cals = got["calendars"]
        return got if cals and cals[0]["synced_sequence"] >= sequence else None

    found = wait_for(synced, timeout=30)
    assert found, team.api.get(f"/v1/interviews/{interview_id}").text
    return found


def test_confirm_reschedule_cancel_reach_the_calendar_and_every_attendee(
    team: Any, stack: Any
) -> None:
    start, end = slot(days=12)
    made = team.api.post("/v1/interviews", json=body(team, start=start, end=end, confirm=True))
    assert made.status_code == 201, made.text
    interview = wait_synced(team, made.json()["id"], 1)
    (calendar,) = interview["calendars"]
    assert calendar["state"] == "synced" and calendar["mailbox"] == team.people["olga"]
    event_id = calendar["event_id"]
    sent = stack.sandbox.invitations(CONTOSO_ID, event_id=event_id)
    assert sorted((m.to.lower(), m.kind) for m in sent) == sorted(
        [
            ("alex.candidate@example.org", "request"),
            (team.people["ines"].lower(), "request"),
            (team.people["ivan"].lower(), "request"),
        ]
    ), "Microsoft invites the candidate and each interviewer once"
    assert all("system design" not in str(m.__dict__) for m in sent), "notes stay internal"

    later, later_end = slot(days=13, hour=14)
    moved = team.api.post(
        f"/v1/interviews/{interview['id']}/reschedule", json={"start": later, "end": later_end}
    )
    assert moved.status_code == 200 and moved.json()["status"] == "rescheduled"
    moved_view = wait_synced(team, interview["id"], 2)
    assert moved_view["calendars"][0]["event_id"] == event_id, "the same event moves"
    updates = [
        m for m in stack.sandbox.invitations(CONTOSO_ID, event_id=event_id) if m.kind == "update"
    ]
    assert len(updates) == 3

    gone = team.api.post(
        f"/v1/interviews/{interview['id']}/cancel", json={"message": "Role filled"}
    )
    assert gone.status_code == 200
    wait_synced(team, interview["id"], 3)
    cancels = [
        m
        for m in stack.sandbox.invitations(CONTOSO_ID, event_id=event_id)
        if m.kind == "cancellation"
    ]
    assert len(cancels) == 3 and all(m.comment == "Role filled" for m in cancels)
    history = [
        h["action"] for h in team.api.get(f"/v1/interviews/{interview['id']}").json()["history"]
    ]
    assert history[:2] == ["created", "confirmed"] and "cancelled" in history


def test_a_teams_interview_gets_its_link_or_says_why_not(team: Any, stack: Any) -> None:
    teams = {"type": "teams"}
    made = team.api.post("/v1/interviews", json=body(team, meeting=teams, confirm=True)).json()
    wait_synced(team, made["id"], 1)

    def with_link() -> Any:
        got = team.api.get(f"/v1/interviews/{made['id']}").json()
        return got if got["meeting"]["url"] else None

    view = wait_for(with_link, timeout=30)
    assert view, team.api.get(f"/v1/interviews/{made['id']}").text  # the history says why
    assert view["meeting"]["problem"] is None
    stack.sandbox.set_online_meeting_providers(CONTOSO_ID, [], user=team.people["olga"])
    try:
        start, end = slot(days=14)
        made = team.api.post(
            "/v1/interviews", json=body(team, start=start, end=end, meeting=teams, confirm=True)
        ).json()
        view = wait_synced(team, made["id"], 1)
        assert view["meeting"]["url"] is None
        assert "Teams meetings are not enabled" in view["meeting"]["problem"]
    finally:
        stack.sandbox.set_online_meeting_providers(
            CONTOSO_ID, ["teamsForBusiness"], user=team.people["olga"]
        )


def test_a_lost_answer_from_microsoft_never_makes_a_second_event(team: Any, stack: Any) -> None:
    dropped = sum(stack.sandbox.stats.dropped.values())
    stack.sandbox.set_faults(CONTOSO_ID, drop_response_after_commit_next=1)
    try:
        start, end = slot(days=15)
        made = team.api.post("/v1/interviews", json=body(team, start=start, end=end, confirm=True))
        view = wait_synced(team, made.json()["id"], 1)
    finally:
        stack.sandbox.set_faults(CONTOSO_ID, drop_response_after_commit_next=0)
    assert sum(stack.sandbox.stats.dropped.values()) == dropped + 1, "the answer was lost"
    olga = stack.sandbox.find_mailbox(CONTOSO_ID, team.people["olga"])
    when = datetime.fromisoformat(start)
    same = [e for e in olga.events if e.start == when and not e.is_cancelled]
    assert [e.id for e in same] == [view["calendars"][0]["event_id"]], "exactly one event"
    requests = [
        m for m in stack.sandbox.invitations(CONTOSO_ID, event_id=same[0].id) if m.kind == "request"
    ]
    assert len(requests) == 3, "and every invitation went out once"


def test_a_declined_interviewer_is_flagged_and_free_colleagues_are_suggested(
    team: Any, stack: Any
) -> None:
    start, end = slot(days=16)
    made = team.api.post("/v1/interviews", json=body(team, start=start, end=end, confirm=True))
    view = wait_synced(team, made.json()["id"], 1)
    event_id = view["calendars"][0]["event_id"]
    stack.sandbox.respond(CONTOSO_ID, event_id, team.people["ivan"], "declined")
    stack.sandbox.respond(CONTOSO_ID, event_id, "alex.candidate@example.org", "accepted")
    fresh = team.api.post(f"/v1/interviews/{view['id']}/responses/refresh")
    assert fresh.status_code == 200, fresh.text
    answers = {a["email"].lower(): a["response"] for a in fresh.json()["attendees"]}
    assert answers[team.people["ivan"].lower()] == "declined"
    assert answers["alex.candidate@example.org"] == "accepted"
    assert answers[team.people["ines"].lower()] == "none"
    assert [h["action"] for h in fresh.json()["history"]].count("attendee_responded") == 2
    again = team.api.post(f"/v1/interviews/{view['id']}/responses/refresh").json()
    assert [h["action"] for h in again["history"]].count("attendee_responded") == 2, "once each"
    assert team.api.get(f"/v1/interviews/{view['id']}/replacements").json() == [], (
        "the organizer holds the event, so she is not free to step in"
    )
    nina = f"nina.{secrets.token_hex(3)}@contoso.com"
    stack.sandbox.add_user(
        CONTOSO_ID, display_name="Nina Free", mail=nina, time_zone="Europe/London"
    )
    team.api.post("/v1/users", json={"name": "Nina Free", "email": nina, "role": "interviewer"})
    team.api.post("/v1/directory/refresh")
    assert wait_for(
        lambda: any(u["email"] == nina and u["match"] for u in team.api.get("/v1/users").json())
    )
    suggested = team.api.get(f"/v1/interviews/{view['id']}/replacements").json()
    assert [s["email"] for s in suggested] == [nina], "a matched interviewer free at that time"


def test_a_job_that_died_after_its_write_is_re_linked_not_repeated(team: Any, stack: Any) -> None:
    """Every answer to the create is lost, so the first job gives up; the next one finds
    the event by our key and adopts it: one event, one invitation each, no update."""
    stack.sandbox.set_faults(CONTOSO_ID, drop_response_after_commit_next=6)
    try:
        start, end = slot(days=17)
        made = team.api.post("/v1/interviews", json=body(team, start=start, end=end, confirm=True))
        interview_id = made.json()["id"]
        assert wait_for(
            lambda: stack.sandbox.tenant(CONTOSO_ID).faults.drop_response_after_commit_next == 0,
            timeout=60,
        )
    finally:
        stack.sandbox.set_faults(CONTOSO_ID, drop_response_after_commit_next=0)
    view = wait_synced(team, interview_id, 1)
    actions = [h["action"] for h in view["history"]]
    assert "relinked" in actions, actions
    event_id = view["calendars"][0]["event_id"]
    olga = stack.sandbox.find_mailbox(CONTOSO_ID, team.people["olga"])
    when = datetime.fromisoformat(start)
    assert [e.id for e in olga.events if e.start == when and not e.is_cancelled] == [event_id]
    kinds = [m.kind for m in stack.sandbox.invitations(CONTOSO_ID, event_id=event_id)]
    assert sorted(kinds) == ["request"] * 3, "no second request, and no update either"


def test_a_shared_interviews_mailbox_organizes_when_the_organization_says_so(
    team: Any, stack: Any
) -> None:
    shared = f"interviews.{secrets.token_hex(3)}@contoso.com"
    refused = team.api.patch(
        "/v1/interview-settings", json={"organizer": "shared_mailbox", "shared_mailbox": shared}
    )
    assert refused.status_code == 422 and "not a mailbox" in refused.json()["error"]["message"]
    assert team.api.get("/v1/interview-settings").json()["organizer"] == "scheduler"
    stack.sandbox.add_user(CONTOSO_ID, display_name="Interviews", mail=shared)
    team.api.post("/v1/directory/refresh")
    assert wait_for(
        lambda: (
            team.api.patch(
                "/v1/interview-settings",
                json={"organizer": "shared_mailbox", "shared_mailbox": shared.upper()},
            ).status_code
            == 200
        )
    )
    try:
        start, end = slot(days=18)
        made = team.api.post(
            "/v1/interviews", json=body(team, start=start, end=end, organizer=None, confirm=True)
        )
        assert made.status_code == 201, made.text
        assert made.json()["organizer_mailbox"] == shared
        view = wait_synced(team, made.json()["id"], 1)
        event_id = view["calendars"][0]["event_id"]
        sent = stack.sandbox.invitations(CONTOSO_ID, event_id=event_id)
        assert {m.organizer.lower() for m in sent} == {shared}
        assert len(sent) == 3
    finally:
        team.api.patch("/v1/interview-settings", json={"organizer": "scheduler"})
    missing = team.api.post("/v1/interviews", json=body(team, organizer=None))
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "organizer"


def test_hiresync_invites_the_candidate_itself_when_the_organization_chooses_email(
    team: Any, stack: Any, mail_drop: Any
) -> None:
    from email import message_from_bytes, policy

    from icalendar import Calendar

    drop, _ = mail_drop
    assert (
        team.api.patch(
            "/v1/interview-settings", json={"candidate_invitations": "email"}
        ).status_code
        == 200
    )
    try:
        start, end = slot(days=19)
        made = team.api.post("/v1/interviews", json=body(team, start=start, end=end, confirm=True))
        interview_id = made.json()["id"]
        assert made.json()["candidate_invited_by"] == "email"
        view = wait_synced(team, interview_id, 1)
        event_id = view["calendars"][0]["event_id"]
        to_microsoft = {
            m.to.lower() for m in stack.sandbox.invitations(CONTOSO_ID, event_id=event_id)
        }
        assert "alex.candidate@example.org" not in to_microsoft, "the calendar does not invite them"
        later, later_end = slot(days=19, hour=15)
        team.api.post(
            f"/v1/interviews/{interview_id}/reschedule", json={"start": later, "end": later_end}
        )
        team.api.post(f"/v1/interviews/{interview_id}/cancel", json={"message": "Position filled"})

        def mails() -> list[Any]:
            got = [
                message_from_bytes(raw, policy=policy.default)
                for _, to, raw in drop.messages
                if to == ["alex.candidate@example.org"]
                and interview_id in raw.decode(errors="replace")
            ]
            return got if len(got) == 3 else []

        received = wait_for(mails, timeout=30)
        assert received, team.api.get(f"/v1/interviews/{interview_id}").json()["candidate_emails"]
        calendars = []
        for message in received:
            part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
            calendars.append(Calendar.from_ical(part.get_content()))
        assert [str(c["METHOD"]) for c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
        events = [c.walk("VEVENT")[0] for c in calendars]
        assert len({str(e["UID"]) for e in events}) == 1, "one UID for every version"
        assert [int(e["SEQUENCE"]) for e in events] == [1, 2, 3]
        assert all("system design" not in m.as_string() for m in received), "notes stay internal"
        log = team.api.get(f"/v1/interviews/{interview_id}").json()["candidate_emails"]
        assert [(e["kind"], e["status"]) for e in log] == [
            ("invitation", "sent"),
            ("update", "sent"),
            ("cancellation", "sent"),
        ]
    finally:
        team.api.patch("/v1/interview-settings", json={"candidate_invitations": "calendar"})


def test_the_interview_page_hears_of_every_change_by_its_event_stream(
    team: Any, stack: Any, make_org: Any
) -> None:
    """What keeps an open interview page current without a reload: its stream says
    ``changed`` when the interview changes (here an edit through the API); it is for
    logged-in members of the organization only."""
    interview = team.api.post("/v1/interviews", json=body(team)).json()
    path = f"/interviews/{interview['id']}"
    browser = Browser(stack.url)
    try:
        assert browser.login(team.admin_email, team.password).status_code == 303
        page = browser.http.get(path).text
        version = page.split('data-version="', 1)[1].split('"', 1)[0]
        assert version, "the page says which state it shows"
        assert browser.http.get(f"/interviews/{uuid.uuid4()}/events").status_code == 404
        assert browser.http.get("/interviews/not-an-id/events").status_code == 404
        with browser.http.stream("GET", f"{path}/events", params={"since": version}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            edited = team.api.patch(f"/v1/interviews/{interview['id']}", json={"title": "Renamed"})
            assert edited.status_code == 200, edited.text
            changed = next(line for line in lines if line.startswith("data: "))
        assert changed.removeprefix("data: ") != version
    finally:
        browser.close()
    with httpx.Client(base_url=stack.url) as anonymous:
        assert anonymous.get(f"{path}/events").status_code == 401
    other = make_org()
    stranger = Browser(stack.url)
    try:
        assert stranger.login(other.admin_email, other.password).status_code == 303
        assert stranger.http.get(f"{path}/events").status_code == 404, "another organization's"
    finally:
        stranger.close()


# -- a dead calendar server ---------------------------------------------------------------------


@asynccontextmanager
async def _runtime(stack: Any) -> AsyncIterator[Runtime]:
    """A runtime of this test's own beside the stack's (its own loop: ``run_async``)."""
    runtime = Runtime.build(stack.settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close()


async def _caldav_calendars(stack: Any, org: Any, server: DavServer, count: int) -> list[str]:
    """The admin connects a CalDAV account holding ``count`` calendars; returns their ids
    once all have had their first sync."""
    async with server.http() as http:
        for n in range(count):
            made = await http.request("MKCALENDAR", f"/{server.username}/team-{n}/")
            assert made.status_code == 201, made.text
    async with _runtime(stack) as runtime:
        async with runtime.db.transaction() as session:
            admin = await teams.find_by_email(session, org.id, org.admin_email)
            assert admin is not None
            login = CalDavLogin(
                email=f"{server.username}@example.org",
                password=server.password,
                username=server.username,
                server_url=server.url,
            )
            account = await calendar_settings.start_caldav(runtime, session, admin, login)
        deadline = clock.monotonic() + 60
        while True:
            async with runtime.db.sessions() as session:
                rows = list(
                    await session.scalars(
                        select(SyncedCalendar).where(SyncedCalendar.account_id == account.id)
                    )
                )
            if len(rows) >= count and all(r.state == "ready" for r in rows):
                return [str(r.id) for r in rows]
            assert clock.monotonic() < deadline, [(r.name, r.state, r.last_error) for r in rows]
            await asyncio.sleep(0.2)


async def _queue_syncs(stack: Any, calendar_ids: list[str]) -> None:
    async with _runtime(stack) as runtime, runtime.db.transaction() as session:
        for calendar_id in calendar_ids:
            await calendar_sync.queue_sync(runtime, session, uuid.UUID(calendar_id))


def _syncs_running(stack: Any, calendar_ids: list[str]) -> int:
    with psycopg.connect(stack.database_uri, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'hiresync:sync_calendar' "
            "AND status = 'doing' AND args->>'calendar_id' = ANY(%s)",
            (calendar_ids,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_calendar_syncs_stuck_on_a_dead_server_never_delay_an_interview(
    team: Any, stack: Any, tmp_path: Path
) -> None:
    """A company's CalDAV server that stops answering holds each sync of its calendars until
    the client gives up (a minute). Six of them at once would have taken every slot of the
    worker, and interviews would have waited that minute; syncs have slots of their own, so
    the interview is written while they still hang."""
    with running("radicale", tmp_path / "radicale") as server:
        calendar_ids = run_async(lambda: _caldav_calendars(stack, team, server, count=6))
        assert len(calendar_ids) >= 6
        server.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
        try:
            run_async(lambda: _queue_syncs(stack, calendar_ids))
            assert wait_for(lambda: _syncs_running(stack, calendar_ids) >= 2), job_report(
                stack.database_uri
            )
            start, end = slot(days=16)
            started = clock.monotonic()
            made = team.api.post(
                "/v1/interviews", json=body(team, start=start, end=end, confirm=True)
            )
            assert made.status_code == 201, made.text
            interview = wait_synced(team, made.json()["id"], 1)
            assert interview["calendars"][0]["state"] == "synced"
            assert clock.monotonic() - started < 15
            assert _syncs_running(stack, calendar_ids) >= 2  # still hanging meanwhile
        finally:
            server.process.send_signal(signal.SIGCONT)
