"""Editing an interview in real Chromium: a recruiter corrects a draft (everything may
change; a mistake comes back next to its field), swaps an interviewer on a confirmed
interview (organizer and candidate shown with the reason they cannot change, the
Outlook event updated, the swapped people invited and uninvited by Exchange), and, when
the calendar refused to write the event, invites the candidate by e-mail instead."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta
from email import message_from_bytes, policy
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from playwright.sync_api import Page, expect

from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from tests.e2e.test_calendar_sync_page import log_in
from tests.e2e.test_interview_pages import (
    LONDON,
    WRITTEN_WITHIN,
    add_login,
    csrf,
    history,
    recruiting_team,
    state_of,
)
from tests.e2e.test_scheduling_page import connect_and_match
from tests.integration.browser import wait_for


def start_of() -> datetime:
    """When the interviews here start: ten days ahead at 10:00 UTC."""
    return datetime.combine(datetime.now(UTC).date() + timedelta(days=10), time(10), UTC)


def by_api(org: Any, people: dict[str, tuple[str, str]], candidate: str, **extra: Any) -> str:
    """An interview with Ann and Ben, organized by Rita."""
    start = start_of()
    created = org.api.post(
        "/v1/interviews",
        json={
            "title": "Backend interview",
            "candidate": {"name": "Casey Candidate", "email": candidate},
            "interviewers": [{"email": people["ann"][1]}, {"email": people["ben"][1]}],
            "organizer": {"email": people["rita"][1]},
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "time_zone": LONDON,
            "meeting": {"type": "custom_link", "url": "https://meet.example.com/backend-42"},
            "notes_for_interviewers": "Focus on system design.",
            **extra,
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def open_edit(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", name="Edit interview")).to_be_visible()


def test_recruiter_corrects_a_draft_field_by_field(stack: Any, make_org: Any, page: Page) -> None:
    org, people = recruiting_team(stack, make_org)
    log_in(page, stack.url, org)
    url = f"{stack.url}/interviews/{by_api(org, people, 'casey@example.org')}"
    open_edit(page, url)
    expect(page.get_by_label("Title", exact=True)).to_have_value("Backend interview")
    expect(page.get_by_label("Candidate's e-mail")).to_have_value("casey@example.org")
    interviewers = page.get_by_role("group", name="Interviewers")
    expect(interviewers.get_by_label(people["ann"][0])).to_be_checked()
    expect(interviewers.get_by_label(people["dan"][0])).not_to_be_checked()
    expect(page.get_by_label("Meeting URL")).to_have_value("https://meet.example.com/backend-42")
    local = start_of().astimezone(ZoneInfo(LONDON))
    expect(page.get_by_label("Start time")).to_have_value(f"{local:%H:%M}")

    page.get_by_label("Title", exact=True).fill("Backend interview, second round")
    page.get_by_label("Candidate's e-mail").fill("casey.c@example.org")
    interviewers.get_by_label(people["ben"][0]).uncheck()
    interviewers.get_by_label(people["dan"][0]).check()
    page.get_by_label("Meeting type").select_option("phone")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#meeting_phone-error")).to_have_text(
        "A phone interview needs the number to call."
    )
    expect(page.get_by_label("Title", exact=True)).to_have_value("Backend interview, second round")
    expect(interviewers.get_by_label(people["dan"][0])).to_be_checked()
    assert org.api.get(f"/v1/interviews/{url.rsplit('/', 1)[-1]}").json()["title"] == (
        "Backend interview"
    ), "a refused edit leaves the interview as it was"

    page.get_by_label("Phone number to call").fill("+44 20 7946 0000")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").first).to_contain_text("Draft saved.")
    expect(page.get_by_role("heading", name="Backend interview, second round")).to_be_visible()
    expect(page.get_by_test_id("interview-status")).to_have_text("Draft")
    attendees = page.locator("#attendees")
    for present in (people["ann"][0], people["dan"][0], "casey.c@example.org"):
        expect(attendees).to_contain_text(present)
    expect(attendees).not_to_contain_text(people["ben"][0])
    expect(page.locator("#meeting")).to_contain_text("+44 20 7946 0000")
    expect(page.locator("#no-writes")).to_contain_text("nothing is written to any calendar")
    edited = [details for action, _, details in history(page) if action == "edited"]
    assert (
        len(edited) == 1
        and "Title: Backend interview → Backend interview, second round" in (edited[0])
    ), edited


def test_recruiter_swaps_an_interviewer_on_a_confirmed_interview(
    stack: Any, make_org: Any, page: Page
) -> None:
    org, people = recruiting_team(stack, make_org)
    names = [people[k][0] for k in ("ann", "ben", "dan")]
    connect_and_match(page, stack.url, org, names)
    interview_id = by_api(org, people, f"casey.{secrets.token_hex(3)}@example.org", confirm=True)
    page.goto(f"{stack.url}/interviews/{interview_id}")
    expect(state_of(page)).to_have_text(["written"], timeout=WRITTEN_WITHIN)
    event_id = org.api.get(f"/v1/interviews/{interview_id}").json()["calendars"][0]["event_id"]
    before = len(stack.sandbox.invitations(CONTOSO_ID, event_id=event_id))

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.locator("#organizer-fixed")).to_contain_text(people["rita"][1])
    expect(page.locator("#fixed-reason")).to_contain_text("cancel this interview and create")
    expect(page.get_by_label("Candidate's e-mail")).to_have_count(0)
    expect(page.get_by_label("Organizer")).to_have_count(0)
    interviewers = page.get_by_role("group", name="Interviewers")
    interviewers.get_by_label(people["ben"][0]).uncheck()
    interviewers.get_by_label(people["dan"][0]).check()
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("status").first).to_contain_text("Saved. The event is being updated")
    expect(state_of(page)).to_have_text(["written"], timeout=WRITTEN_WITHIN)
    expect(page.locator("#attendees")).to_contain_text(people["dan"][0])
    expect(page.locator("#attendees")).not_to_contain_text(people["ben"][0])
    news = stack.sandbox.invitations(CONTOSO_ID, event_id=event_id)[before:]
    kinds = {m.to.lower(): m.kind for m in news}
    assert kinds[people["dan"][1]] == "request" and kinds[people["ben"][1]] == "cancellation"
    assert kinds[people["ann"][1]] == "update"
    (entry,) = [details for action, _, details in history(page) if action == "edited"]
    assert people["dan"][1] in entry and entry.startswith("Interviewers:"), entry


def test_a_calendar_that_refused_the_event_offers_to_invite_the_candidate_by_email(
    stack: Any, make_org: Any, page: Page, mail_drop: Any
) -> None:
    drop, _ = mail_drop
    org, people = recruiting_team(stack, make_org)
    connect_and_match(page, stack.url, org, [people["ann"][0], people["ben"][0]])
    candidate = f"casey.{secrets.token_hex(3)}@example.org"
    interview_id = by_api(org, people, candidate)
    page.goto(f"{stack.url}/interviews/{interview_id}")
    expect(page.locator("#email-offer")).to_have_count(0)

    stack.sandbox.set_faults(CONTOSO_ID, fail_next=2, fail_status=400)
    try:
        page.get_by_role("button", name="Confirm", exact=True).click()
        expect(state_of(page)).to_have_text(["failed"], timeout=WRITTEN_WITHIN)
    finally:
        stack.sandbox.set_faults(CONTOSO_ID, fail_next=0, fail_status=503)
    offer = page.locator("#email-offer")
    expect(offer).to_contain_text("it has not invited the candidate")
    offer.get_by_role("button", name="Invite the candidate by e-mail instead").click()

    expect(page.get_by_role("status").first).to_contain_text("hiresync's e-mail invitation")
    expect(page.locator("#email-offer")).to_have_count(0)
    expect(state_of(page)).to_have_text(["written"], timeout=WRITTEN_WITHIN)

    def mails() -> list[bytes]:
        return [raw for _, to, raw in drop.messages if to == [candidate]]

    assert wait_for(mails, timeout=30), org.api.get(f"/v1/interviews/{interview_id}").text
    (raw,) = mails()
    message = message_from_bytes(raw, policy=policy.default)
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert str(Calendar.from_ical(part.get_content())["METHOD"]) == "REQUEST"
    assert str(message["Subject"]).startswith("Invitation: Backend interview")
    view = org.api.get(f"/v1/interviews/{interview_id}").json()
    assert view["candidate_invited_by"] == "email"
    event_id = view["calendars"][0]["event_id"]
    to_outlook = {m.to.lower() for m in stack.sandbox.invitations(CONTOSO_ID, event_id=event_id)}
    assert candidate not in to_outlook, "the calendar leaves the candidate to the e-mail"
    assert people["ann"][1] in to_outlook, "and still invites the interviewers"


def test_an_interviewer_can_neither_open_nor_post_the_edit_form(
    stack: Any, make_org: Any, page: Page
) -> None:
    org, people = recruiting_team(stack, make_org)
    url = f"{stack.url}/interviews/{by_api(org, people, 'casey@example.org')}"
    viewer = f"vic.{secrets.token_hex(3)}@example.org"
    password = add_login(stack, org, "Vic Viewer", viewer, "interviewer")
    page.goto(url)
    page.get_by_label("E-mail").fill(viewer)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Backend interview")).to_be_visible()
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)

    answer = page.goto(f"{url}/edit")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("alert")).to_contain_text("Only recruiters and admins")
    posted = page.request.post(f"{url}/edit", form={"csrf": csrf(page), "title": "Hijacked"})
    assert posted.status == 403
    interview = org.api.get(f"/v1/interviews/{url.rsplit('/', 1)[-1]}").json()
    assert interview["title"] == "Backend interview" and len(interview["history"]) == 1
