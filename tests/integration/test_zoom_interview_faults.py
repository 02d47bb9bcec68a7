"""A Zoom interview's meeting through what Zoom can refuse (seed 001, issue #5): the host's
daily quota, a meeting Zoom will not accept, a token Zoom refuses even after a refresh
(and the push again when the host reconnects), an interview moved off Zoom, and a meeting
deleted in Zoom then rescheduled. Each case says why on the interview and never loops."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.sandbox.zoom import ZoomSandbox
from hiresync.store.db import Database
from tests.conftest import Stack, run_async
from tests.integration.browser import Browser, job_report, wait_for
from tests.integration.test_meeting_accounts import (
    add_member,
    connect_zoom,
    logged_in,
    new_zoom_user,
    page_text,
)
from tests.integration.test_zoom_interviews import (
    confirmed,
    meetings_for,
    slot,
    wait_synced,
    zoom_body,
    zteam,
)

__all__ = ["zteam"]  # the module's team, shared with test_zoom_interviews' fixture


# -- helpers -----------------------------------------------------------------------------------


def sql(stack: Stack, query: str, **params: Any) -> list[Any]:
    """Rows of ``query`` (committed), read or written as another process would."""

    async def run() -> list[Any]:
        database = Database.connect(stack.database_uri, pool_size=1)
        try:
            async with database.transaction() as session:
                result = await session.execute(text(query), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            await database.dispose()

    return run_async(run)


def fresh_host(stack: Stack, zteam: Any) -> tuple[str, Any, Browser]:
    """A team member with a Zoom login (Pro) of this test's own, connected: no other test
    spends its quota or breaks its connection."""
    email, password = add_member(stack, zteam)
    user = new_zoom_user(stack.zoom, zteam.pro.id)
    browser = logged_in(stack, email, password)
    assert connect_zoom(browser, user.id).status_code in (200, 303)
    return email, user, browser


def hosted_by(zteam: Any, email: str, **changes: Any) -> dict[str, Any]:
    return zoom_body(zteam, meeting={"type": "zoom", "host": {"email": email}}, **changes)


def send(zteam: Any, body: dict[str, Any]) -> str:
    made = zteam.api.post("/v1/interviews", json=body | {"confirm": True})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def view(zteam: Any, iid: str) -> dict[str, Any]:
    got: dict[str, Any] = zteam.api.get(f"/v1/interviews/{iid}").json()
    return got


def wait_problem(stack: Stack, zteam: Any, iid: str, said: str) -> dict[str, Any]:
    def shown() -> Any:
        got = view(zteam, iid)
        return got if said in (got["meeting"]["problem"] or "") else None

    found = wait_for(shown, timeout=30)
    assert found, f"{view(zteam, iid)}\n{job_report(stack.database_uri)}"
    return found


def event_of(stack: Stack, zteam: Any, got: dict[str, Any]) -> Any:
    """The organizer's (Olga's) event of the interview."""
    olga = stack.sandbox.find_mailbox(CONTOSO_ID, zteam.people["olga"])
    (event,) = [e for e in olga.events if e.id == got["calendars"][0]["event_id"]]
    return event


def push_jobs(stack: Stack, iid: str) -> list[Any]:
    return sql(
        stack,
        "SELECT id, status, scheduled_at, priority, attempts FROM procrastinate_jobs "
        "WHERE task_name LIKE '%push_interview' AND args->>'interview_id' = :iid ORDER BY id",
        iid=iid,
    )


def meeting_row(stack: Stack, iid: str) -> Any:
    (row,) = sql(
        stack,
        "SELECT state, attempts, external_meeting_id, synced_sequence FROM interview_meetings "
        "WHERE interview_id = :iid",
        iid=iid,
    )
    return row


def history(got: dict[str, Any]) -> list[str]:
    return [h["action"] for h in got["history"]]


def reschedule(zteam: Any, iid: str) -> str:
    later, later_end = slot()
    moved = zteam.api.post(
        f"/v1/interviews/{iid}/reschedule", json={"start": later, "end": later_end}
    )
    assert moved.status_code == 200, moved.text
    return later


def next_midnight() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


# -- 1. the host's daily quota -------------------------------------------------------------------


def test_the_hosts_daily_limit_waits_for_the_reset(zteam: Any, stack: Stack) -> None:
    """Zoom's 100 creates/updates per host per UTC day (lowered here): the interview says
    why and when it resets; Zoom is not asked again before then, for this interview or the
    host's others; an interview without a
    meeting waits, one with a meeting goes ahead with its link; the retry waiting for the
    reset holds back no later change of the interview; at the reset the meeting is made."""
    zoom: ZoomSandbox = stack.zoom
    email, user, _ = fresh_host(stack, zteam)
    first = send(zteam, hosted_by(zteam, email))
    made = wait_synced(zteam, first, 1)
    (meeting,) = meetings_for(zoom, user, first)
    refused_before = zoom.stats.daily_limited[user.id]
    saved = zoom.limits.meeting_writes_per_day
    zoom.limits.meeting_writes_per_day = 1  # the host's one write today is spent
    try:
        second = send(zteam, hosted_by(zteam, email))
        waiting = wait_problem(stack, zteam, second, "daily limit")
        reset = f"{next_midnight():%Y-%m-%d %H:%M} UTC"
        assert reset in waiting["meeting"]["problem"], "says when it resets"
        assert waiting["meeting"]["url"] is None and meetings_for(zoom, user, second) == []
        assert not waiting["calendars"][0]["event_id"], "no invitation without its link"

        moved_to = reschedule(zteam, first)
        moved = wait_synced(zteam, first, 2)
        assert moved["meeting"]["url"] == made["meeting"]["url"], "goes ahead, same link"
        assert "daily limit" in moved["meeting"]["problem"]
        assert made["meeting"]["url"] in event_of(stack, zteam, moved).body
        assert zoom.meeting(meeting.id).start_time != datetime.fromisoformat(moved_to)

        time.sleep(3)  # a retry loop would have asked Zoom again by now
        assert zoom.stats.daily_limited[user.id] == refused_before + 1, (
            "one refusal: the host's other interview waits for the same reset unasked"
        )
        for iid in (first, second):
            (retry,) = [j for j in push_jobs(stack, iid) if j.status == "todo"]
            assert retry.scheduled_at == next_midnight(), "queued for the reset"
        assert view(zteam, second)["calendars"][0]["synced_sequence"] < 1

        # The retry waiting for midnight does not hold back a later change (same job lock).
        assert zteam.api.post(f"/v1/interviews/{first}/cancel").status_code == 200
        wait_synced(zteam, first, 3)
        assert meetings_for(zoom, user, first) == [], "the cancel deleted it at once"
    finally:
        zoom.limits.meeting_writes_per_day = saved

    # The reset: the waiting job runs (brought forward) and the invitation goes out.
    (retry,) = [j for j in push_jobs(stack, second) if j.status == "todo"]
    sql(
        stack,
        "UPDATE meeting_accounts SET quota_resets_at = now() WHERE external_user_id = :zoom_id",
        zoom_id=user.id,
    )
    sql(stack, "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = :id", id=retry.id)
    sent = wait_synced(zteam, second, 1)
    (late,) = meetings_for(zoom, user, second)
    assert sent["meeting"]["meeting_id"] == str(late.id) and sent["meeting"]["problem"] is None
    assert sent["meeting"]["url"] in event_of(stack, zteam, sent).body


# -- 2. a meeting Zoom refuses --------------------------------------------------------------------


def test_a_meeting_zoom_refuses_is_said_once_and_not_retried(
    zteam: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zoom's 400 code 300 "Validation Failed." (here: the sandbox takes topics of at most
    5 characters) is shown with Zoom's reason; the job is not retried; the invitation waits;
    an edit that Zoom accepts makes the meeting and sends it."""
    zoom: ZoomSandbox = stack.zoom
    email, user, _ = fresh_host(stack, zteam)
    monkeypatch.setattr("hiresync.sandbox.zoom.meetings.TOPIC_MAX", 5)
    iid = send(zteam, hosted_by(zteam, email))
    refused = wait_problem(stack, zteam, iid, "Zoom refused")
    problem = refused["meeting"]["problem"]
    assert "topic" in problem, "Zoom's reason (the field it refused)"
    assert not refused["calendars"][0]["event_id"] and meetings_for(zoom, user, iid) == []
    time.sleep(3)  # a retry loop would have asked again by now
    assert meeting_row(stack, iid).attempts == 1, "asked Zoom once"
    assert [j.status for j in push_jobs(stack, iid)] == ["succeeded"], "no retry"
    assert history(view(zteam, iid)).count("meeting_not_created") == 1

    monkeypatch.undo()
    fixed = zteam.api.patch(f"/v1/interviews/{iid}", json={"title": "Short"})
    assert fixed.status_code == 200, fixed.text
    sent = wait_synced(zteam, iid, fixed.json()["sequence"])
    (meeting,) = meetings_for(zoom, user, iid)
    assert sent["meeting"]["meeting_id"] == str(meeting.id) and sent["meeting"]["problem"] is None
    assert sent["meeting"]["url"] in event_of(stack, zteam, sent).body


# -- 3. a token Zoom refuses even after a refresh -------------------------------------------------


def test_a_token_refused_after_refresh_asks_the_host_to_reconnect(zteam: Any, stack: Stack) -> None:
    """The host removed hiresync in Zoom and the webhook has not come: the 401, the refresh
    Zoom refuses, and the connection becomes "reconnect needed"; the host is notified; the
    interview says why and its invitation waits."""
    zoom: ZoomSandbox = stack.zoom
    email, user, browser = fresh_host(stack, zteam)
    zoom.deauthorize(user)  # its app_deauthorized webhook is not delivered
    iid = send(zteam, hosted_by(zteam, email))
    waiting = wait_problem(stack, zteam, iid, "Zoom connection needs to be renewed")
    assert "invitation waits" in waiting["meeting"]["problem"]
    assert not waiting["calendars"][0]["event_id"] and meetings_for(zoom, user, iid) == []
    (account,) = sql(
        stack,
        "SELECT a.status, a.last_error FROM meeting_accounts a JOIN users u ON u.id = a.user_id "
        "WHERE lower(u.email) = lower(:email)",
        email=email,
    )
    assert account.status == "reconnect_needed" and "Zoom no longer accepts" in account.last_error
    notes = sql(
        stack,
        "SELECT n.title FROM notifications n JOIN users u ON u.id = n.user_id "
        "WHERE lower(u.email) = lower(:email)",
        email=email,
    )
    assert [n.title for n in notes] == ["Reconnect Zoom"], "the host is told once"
    shown = page_text(browser)
    assert "Reconnect needed" in shown and "Reconnect Zoom" in shown
    time.sleep(2)
    assert [j.status for j in push_jobs(stack, iid)] == ["succeeded"], "no retry loop"


# -- 4. a live Zoom interview moved to another meeting type ---------------------------------------


def test_an_interview_moved_off_zoom_deletes_its_meeting(zteam: Any, stack: Stack) -> None:
    zoom: ZoomSandbox = stack.zoom
    got = confirmed(zteam)
    iid, zoom_url = got["id"], got["meeting"]["url"]
    assert len(meetings_for(zoom, zteam.zoom_users["olga"], iid)) == 1
    own = {
        "type": "custom_link",
        "url": "https://meet.example.org/panel-7",
        "meeting_id": "777 123",
        "passcode": "sesame",
    }
    edited = zteam.api.patch(f"/v1/interviews/{iid}", json={"meeting": own})
    assert edited.status_code == 200, edited.text
    after = wait_synced(zteam, iid, edited.json()["sequence"])
    assert meetings_for(zoom, zteam.zoom_users["olga"], iid) == [], "deleted in Zoom"
    assert after["meeting"]["url"] == own["url"] and after["meeting"]["problem"] is None
    body = event_of(stack, zteam, after).body
    assert own["url"] in body and own["passcode"] in body and zoom_url not in body
    assert "zoom_meeting_deleted" in history(after)
    assert meeting_row(stack, iid).state == "deleted"


# -- 5. deleted in Zoom, then rescheduled -----------------------------------------------------------


def test_a_meeting_deleted_in_zoom_is_made_again_on_reschedule(zteam: Any, stack: Stack) -> None:
    """The rule: a meeting deleted in Zoom is not re-made on its own (said on the
    interview); the next reschedule or edit makes a new one, whose link the update carries."""
    zoom: ZoomSandbox = stack.zoom
    got = confirmed(zteam)
    iid, old = got["id"], got["meeting"]
    zoom.delete_meeting_in_zoom(old["meeting_id"])
    zoom.deliver_webhooks(force=True)
    wait_problem(stack, zteam, iid, "deleted in Zoom")
    assert meetings_for(zoom, zteam.zoom_users["olga"], iid) == [], "not re-made on its own"

    moved_to = reschedule(zteam, iid)
    after = wait_synced(zteam, iid, 2)
    (meeting,) = meetings_for(zoom, zteam.zoom_users["olga"], iid)
    assert str(meeting.id) != old["meeting_id"] and meeting.start_time == datetime.fromisoformat(
        moved_to
    )
    new = after["meeting"]
    assert new["meeting_id"] == str(meeting.id) and new["url"] != old["url"]
    assert new["problem"] is None
    body = event_of(stack, zteam, after).body
    assert new["url"] in body and old["url"] not in body, "the update carries the new link"
    assert history(after).count("zoom_meeting_created") == 2


# -- 6. the host reconnects ------------------------------------------------------------------------


def test_reconnecting_zoom_pushes_the_interviews_that_waited(zteam: Any, stack: Stack) -> None:
    """Interviews held back by the lost connection are pushed in the reconnect's own
    transaction: one waiting for its meeting gets it and its invitation; one whose reschedule
    could not move its meeting gets it moved, same link."""
    zoom: ZoomSandbox = stack.zoom
    email, user, browser = fresh_host(stack, zteam)
    kept = send(zteam, hosted_by(zteam, email))
    before = wait_synced(zteam, kept, 1)
    (meeting,) = meetings_for(zoom, user, kept)
    zoom.deauthorize(user)  # its webhook is not delivered
    waiting = send(zteam, hosted_by(zteam, email))
    wait_problem(stack, zteam, waiting, "Zoom connection needs to be renewed")
    moved_to = reschedule(zteam, kept)
    stale = wait_synced(zteam, kept, 2)
    assert "not updated" in stale["meeting"]["problem"]
    assert zoom.meeting(meeting.id).start_time != datetime.fromisoformat(moved_to)

    assert connect_zoom(browser, user.id).status_code in (200, 303)
    sent = wait_synced(zteam, waiting, 1)
    (made,) = meetings_for(zoom, user, waiting)
    assert sent["meeting"]["meeting_id"] == str(made.id) and sent["meeting"]["problem"] is None
    assert sent["meeting"]["url"] in event_of(stack, zteam, sent).body

    def moved() -> Any:
        return zoom.meeting(meeting.id).start_time == datetime.fromisoformat(moved_to)

    assert wait_for(moved, timeout=30), job_report(stack.database_uri)
    after = view(zteam, kept)
    assert after["meeting"]["url"] == before["meeting"]["url"], "the same link"
    assert after["meeting"]["problem"] is None
    assert len(meetings_for(zoom, user, kept)) == 1
