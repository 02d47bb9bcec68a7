"""Every Zoom interview gets its own meeting on the scheduler's own Zoom account (seed 001,
issue #5): made once on confirm (also through a lost answer and 429s), its link in the
Outlook invitation of the candidate and every interviewer, moved on reschedule, deleted on
cancel, kept when the host disconnects; plan limits warned about; changes made in Zoom
said on the interview."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from hiresync.sandbox.microsoft.meetings import copy_of
from hiresync.sandbox.microsoft.model import WorkingHours
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.sandbox.zoom import ZoomSandbox
from hiresync.sandbox.zoom.model import BASIC, LICENSED
from hiresync.services import team as team_service
from hiresync.store.db import Database
from tests.conftest import Org, Stack, run_async
from tests.integration.browser import IT_ADMIN, Browser, connect_as, job_report, wait_for
from tests.integration.test_meeting_accounts import connect_zoom, logged_in

PAGE = "/settings/connected-apps"


def _login_member(stack: Stack, org: Org, name: str, email: str) -> str:
    """A team member who can log in (to connect Zoom) and whose mailbox is in Contoso."""
    password = secrets.token_urlsafe(12)

    async def create() -> None:
        database = Database.connect(stack.database_uri, pool_size=1)
        try:
            async with database.transaction() as session:
                new = team_service.NewUser(name, email, "recruiter", "Europe/London", password)
                await team_service.add_user(session, org.id, new)
        finally:
            await database.dispose()

    run_async(create)
    return password


@pytest.fixture(scope="module")
def zteam(stack: Stack, make_org_module: Any) -> Any:
    """Two interviewers and four schedulers with Outlook mailboxes; each scheduler with a
    Zoom account of this module's own (Pro, Pro, Basic) but the last, who has none."""
    tag = secrets.token_hex(3)
    people: dict[str, str] = {}
    for name in ("ivan", "ines", "olga", "paul", "bea", "nina"):
        mail = f"{name}.{tag}@contoso.com"
        stack.sandbox.add_user(
            CONTOSO_ID,
            display_name=f"{name.title()} {tag}",
            mail=mail,
            time_zone="Europe/London",
            working_hours=WorkingHours(start=time(9), end=time(17)),
        )
        people[name] = mail
    org = make_org_module([(n.title(), people[n]) for n in ("ivan", "ines")])
    passwords = {
        n: _login_member(stack, org, f"{n.title()} {tag}", people[n])
        for n in ("olga", "paul", "bea", "nina")
    }
    browser = Browser(stack.url)
    try:
        connect_as(browser, org, IT_ADMIN)
    finally:
        browser.close()
    assert wait_for(lambda: len(org.api.get("/v1/directory/matches").json()["matched"]) >= 6), (
        job_report(stack.database_uri)
    )
    zoom: ZoomSandbox = stack.zoom
    pro = zoom.add_account(f"Pro {tag}", "pro")
    free = zoom.add_account(f"Free {tag}", "free")
    org.zoom_users = {}
    org.browsers = {}
    for name, account, kind in (
        ("olga", pro, LICENSED),
        ("paul", pro, LICENSED),
        ("bea", free, BASIC),
    ):
        user = zoom.add_user(
            account.id, email=f"{name}.{tag}@zoom-users.test", first_name=name, user_type=kind
        )
        browser = logged_in(stack, people[name], passwords[name])
        assert connect_zoom(browser, user.id).status_code in (200, 303)
        org.zoom_users[name], org.browsers[name] = user, browser
    org.people, org.passwords, org.pro, org.free = people, passwords, pro, free
    yield org
    for browser in org.browsers.values():
        browser.close()


_DAY = [20]


def slot(minutes: int = 60, hour: int = 10, days: int | None = None) -> tuple[str, str]:
    """A slot on a day of its own (unless ``days``), so interviews do not overlap by chance."""
    if days is None:
        _DAY[0] += 1
        days = _DAY[0]
    day = datetime.now(UTC).date() + timedelta(days=days)
    start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return start.isoformat(), (start + timedelta(minutes=minutes)).isoformat()


def zoom_body(zteam: Any, organizer: str = "olga", **changes: Any) -> dict[str, Any]:
    start, end = slot()
    return {
        "title": f"Zoom interview {secrets.token_hex(2)}",
        "candidate": {"name": "Alex Candidate", "email": "alex.candidate@example.org"},
        "interviewers": [{"email": zteam.people["ivan"]}, {"email": zteam.people["ines"]}],
        "organizer": {"email": zteam.people[organizer]},
        "start": start,
        "end": end,
        "time_zone": "Europe/London",
        "meeting": {"type": "zoom"},
        "message_to_candidate": "Looking forward to meeting you.",
        **changes,
    }


def wait_synced(zteam: Any, interview_id: str, sequence: int) -> dict[str, Any]:
    def synced() -> Any:
        got = zteam.api.get(f"/v1/interviews/{interview_id}").json()
        cals = got["calendars"]
        return got if cals and cals[0]["synced_sequence"] >= sequence else None

    found = wait_for(synced, timeout=30)
    assert found, zteam.api.get(f"/v1/interviews/{interview_id}").text
    return found


def meetings_for(zoom: ZoomSandbox, user: Any, interview_id: str) -> list[Any]:
    return [m for m in zoom.meetings_of(user) if f"hiresync:{interview_id}" in m.agenda]


def confirmed(zteam: Any, organizer: str = "olga") -> dict[str, Any]:
    made = zteam.api.post("/v1/interviews", json=zoom_body(zteam, organizer, confirm=True))
    assert made.status_code == 201, made.text
    return wait_synced(zteam, made.json()["id"], 1)


def test_confirm_reschedule_cancel_one_meeting_in_every_invitation(
    zteam: Any, stack: Stack
) -> None:
    zoom: ZoomSandbox = stack.zoom
    draft = zteam.api.post("/v1/interviews", json=zoom_body(zteam))
    assert draft.status_code == 201, draft.text
    assert draft.json()["meeting"]["url"] is None, "made on confirm, not before"
    iid = draft.json()["id"]
    assert zteam.api.post(f"/v1/interviews/{iid}/confirm").status_code == 200
    view = wait_synced(zteam, iid, 1)
    (meeting,) = meetings_for(zoom, zteam.zoom_users["olga"], iid)
    assert meeting.settings.get("join_before_host") is True, "no host needed to join"
    got = view["meeting"]
    assert got["url"] and str(meeting.id) in got["url"]
    assert got["meeting_id"] == str(meeting.id) and got["passcode"] == meeting.password
    event_id = view["calendars"][0]["event_id"]
    olga = stack.sandbox.find_mailbox(CONTOSO_ID, zteam.people["olga"])
    (event,) = [e for e in olga.events if e.id == event_id]
    for shown in (got["url"], got["meeting_id"], got["passcode"]):
        assert shown and shown in event.body, "the invitation carries the Zoom details"
    invited = {a.address.lower() for a in event.attendees}
    assert "alex.candidate@example.org" in invited, "the candidate gets the same invitation"
    for name in ("ivan", "ines"):
        mailbox = stack.sandbox.find_mailbox(CONTOSO_ID, zteam.people[name])
        copy = copy_of(mailbox, event.ical_uid)
        assert copy is not None and got["url"] in copy.body, f"{name}'s copy has the link"

    later, later_end = slot()
    moved = zteam.api.post(
        f"/v1/interviews/{iid}/reschedule", json={"start": later, "end": later_end}
    )
    assert moved.status_code == 200, moved.text
    again = wait_synced(zteam, iid, 2)
    (same,) = meetings_for(zoom, zteam.zoom_users["olga"], iid)
    assert same.id == meeting.id and same.start_time == datetime.fromisoformat(later)
    assert again["meeting"]["url"] == got["url"], "the same link"

    assert zteam.api.post(f"/v1/interviews/{iid}/cancel").status_code == 200
    wait_synced(zteam, iid, 3)
    assert meetings_for(zoom, zteam.zoom_users["olga"], iid) == [], "deleted in Zoom"
    history = [h["action"] for h in zteam.api.get(f"/v1/interviews/{iid}").json()["history"]]
    assert "zoom_meeting_created" in history and "zoom_meeting_deleted" in history


def test_a_lost_answer_from_zoom_never_makes_a_second_meeting(zteam: Any, stack: Stack) -> None:
    zoom: ZoomSandbox = stack.zoom
    dropped = zoom.stats.dropped[zteam.pro.id]
    zoom.set_faults(zteam.pro, drop_response_after_commit_next=1)
    try:
        view = confirmed(zteam)
    finally:
        zoom.set_faults(zteam.pro, drop_response_after_commit_next=0)
    assert zoom.stats.dropped[zteam.pro.id] == dropped + 1, "the answer was lost"
    made = meetings_for(zoom, zteam.zoom_users["olga"], view["id"])
    assert len(made) == 1 and view["meeting"]["meeting_id"] == str(made[0].id)


def test_zoom_throttling_is_waited_out(zteam: Any, stack: Stack) -> None:
    zoom: ZoomSandbox = stack.zoom
    throttled = zoom.stats.throttled[f"{zteam.pro.id}/QPS"]
    zoom.set_faults(zteam.pro, fail_next=2, fail_status=429)
    try:
        view = confirmed(zteam)
    finally:
        zoom.set_faults(zteam.pro, fail_next=0, fail_status=503)
    assert zoom.stats.throttled[f"{zteam.pro.id}/QPS"] == throttled + 2
    assert len(meetings_for(zoom, zteam.zoom_users["olga"], view["id"])) == 1


def test_without_a_zoom_connection_confirming_says_how_to_connect(zteam: Any) -> None:
    sent = zteam.api.post("/v1/interviews", json=zoom_body(zteam, "nina", confirm=True))
    assert sent.status_code == 422, sent.text
    error = sent.json()["error"]
    assert error["code"] == "zoom_not_connected"
    assert "Settings › Connected applications" in error["hint"] and "custom_link" in error["hint"]
    draft = zteam.api.post("/v1/interviews", json=zoom_body(zteam, "nina"))
    assert draft.status_code == 201, "a draft is kept without a connection"
    assert "has not connected Zoom" in draft.json()["meeting"]["warnings"][0]
    refused = zteam.api.post(f"/v1/interviews/{draft.json()['id']}/confirm")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "zoom_not_connected"


def test_a_basic_host_is_warned_of_the_40_minute_cap(zteam: Any) -> None:
    start, end = slot(minutes=60)
    made = zteam.api.post(
        "/v1/interviews", json=zoom_body(zteam, "bea", start=start, end=end, confirm=True)
    )
    assert made.status_code == 201, made.text
    (warning,) = made.json()["meeting"]["warnings"]
    assert "Basic" in warning and "end at 40 minutes" in warning


def test_a_pro_host_is_warned_of_an_overlapping_zoom_interview(zteam: Any) -> None:
    start, end = slot(hour=13)
    first = zteam.api.post(
        "/v1/interviews",
        json=zoom_body(zteam, "paul", start=start, end=end, confirm=True, title="Panel A"),
    )
    assert first.status_code == 201 and first.json()["meeting"]["warnings"] == []
    half = (datetime.fromisoformat(start) + timedelta(minutes=30)).isoformat()
    late = (datetime.fromisoformat(end) + timedelta(minutes=30)).isoformat()
    second = zteam.api.post(
        "/v1/interviews", json=zoom_body(zteam, "paul", start=half, end=late, confirm=True)
    )
    assert second.status_code == 201, "a warning does not block"
    (warning,) = second.json()["meeting"]["warnings"]
    assert '"Panel A"' in warning and "one can run at once" in warning


def _plan(browser: Any, start: str, minutes: int, **extra: str) -> Any:
    """The interview form's question, as its script asks it (UTC date and time)."""
    at = datetime.fromisoformat(start)
    query = {"date": at.date().isoformat(), "time": f"{at:%H:%M}", "minutes": str(minutes)}
    return browser.http.get("/interviews/zoom-plan", params={"tz": "UTC", **query, **extra})


def test_the_form_warns_of_the_plan_before_anything_is_saved(zteam: Any, stack: Stack) -> None:
    start, end = slot(hour=15)
    panel = zteam.api.post(
        "/v1/interviews",
        json=zoom_body(zteam, "paul", start=start, end=end, confirm=True, title="Panel B"),
    )
    assert panel.status_code == 201, panel.text
    paul, bea = zteam.browsers["paul"], zteam.browsers["bea"]

    clash = _plan(paul, start, 45).json()
    assert clash["connected"] is True
    (warning,) = clash["warnings"]
    assert '"Panel B"' in warning and "one can run at once" in warning
    editing = _plan(paul, start, 45, interview=panel.json()["id"]).json()
    assert editing["warnings"] == [], "an interview does not clash with itself"
    assert _plan(paul, end, 30).json()["warnings"] == [], "back to back is no clash"

    (cap,) = _plan(bea, start, 60).json()["warnings"]
    assert "Basic" in cap and "end at 40 minutes" in cap and "lasts 60" in cap
    assert _plan(bea, start, 40).json()["warnings"] == []
    unfinished = bea.http.get("/interviews/zoom-plan", params={"date": "", "minutes": "60"})
    assert unfinished.status_code == 200 and unfinished.json()["warnings"] == []

    nobody = Browser(stack.url)
    try:
        answer = nobody.http.get("/interviews/zoom-plan", params={"minutes": "60"})
    finally:
        nobody.close()
    assert answer.status_code == 401 and "Sign in" in answer.json()["error"]


def test_a_disconnected_host_keeps_the_link_already_made(zteam: Any, stack: Stack) -> None:
    zoom: ZoomSandbox = stack.zoom
    view = confirmed(zteam, "paul")
    browser = zteam.browsers["paul"]
    done = browser.post_form(PAGE + "/zoom/disconnect", page=PAGE, confirm="yes")
    assert done.status_code == 303
    later, later_end = slot()
    moved = zteam.api.post(
        f"/v1/interviews/{view['id']}/reschedule", json={"start": later, "end": later_end}
    )
    assert moved.status_code == 200, moved.text
    after = wait_synced(zteam, view["id"], 2)
    assert after["meeting"]["url"] == view["meeting"]["url"], "the link is kept"
    assert "not updated" in after["meeting"]["problem"]
    assert len(meetings_for(zoom, zteam.zoom_users["paul"], view["id"])) == 1


def test_a_meeting_deleted_in_zoom_is_said_on_the_interview(zteam: Any, stack: Stack) -> None:
    zoom: ZoomSandbox = stack.zoom
    view = confirmed(zteam)
    zoom.delete_meeting_in_zoom(view["meeting"]["meeting_id"])
    zoom.deliver_webhooks(force=True)

    def said() -> Any:
        got = zteam.api.get(f"/v1/interviews/{view['id']}").json()
        return got if "deleted in Zoom" in (got["meeting"]["problem"] or "") else None

    shown = wait_for(said, timeout=20)
    assert shown, job_report(stack.database_uri)
    assert "Reschedule or edit the interview" in shown["meeting"]["problem"]
