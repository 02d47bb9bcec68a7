"""The interview pages, clicked through in real Chromium: a recruiter books an interview
from the form, saves it as a draft, confirms it into the (sandbox) Outlook calendar,
reschedules and cancels it, and reads every step back in its history (seed 003:
"Google/Microsoft automatically sends meeting requests to meeting participants").

Also: what the form does with bad input (the service's sentence next to the field, every
other value kept), what an interviewer may do (look, not change, even by a hand-made
POST), and the scheduling page's "Start interview with this slot" link opening the form
prefilled with that slot."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, expect

from hiresync.sandbox.microsoft.model import WorkingHours
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.services import team
from hiresync.store.db import Database
from tests.conftest import run_async
from tests.e2e.test_calendar_sync_page import log_in
from tests.e2e.test_scheduling_page import (
    CANDIDATE,
    NY,
    add_panel,
    ask,
    at,
    connect_and_match,
    monday_ahead,
)

LONDON = "Europe/London"
USER_STEPS = ("created", "confirmed", "rescheduled", "cancelled")
WRITTEN_WITHIN = 30_000  # ms: the worker writes the event, the page notices by itself


def recruiting_team(stack: Any, make_org: Any) -> tuple[Any, dict[str, tuple[str, str]]]:
    """Rita the recruiter (the organization's admin), interviewers Ann and Ben and Dan (who
    is not on the interview), each with a sandbox mailbox in Contoso, so the event can
    really be written."""
    tag = secrets.token_hex(3)
    people = {}
    for key in ("rita", "ann", "ben", "dan"):
        mail = f"{key}.{tag}@contoso.com"
        stack.sandbox.add_user(
            CONTOSO_ID,
            display_name=f"{key.title()} {tag}",
            mail=mail,
            time_zone=LONDON,
            working_hours=WorkingHours(start=time(9), end=time(17)),
        )
        people[key] = (f"{key.title()} {tag}", mail)
    org = make_org([people[k] for k in ("ann", "ben", "dan")], admin_email=people["rita"][1])
    return org, people


def add_login(stack: Any, org: Any, name: str, email: str, role: str) -> str:
    """Another team member who can log in; returns the password."""
    password = secrets.token_urlsafe(12)

    async def create() -> None:
        database = Database.connect(stack.database_uri, pool_size=1)
        try:
            async with database.transaction() as session:
                await team.add_user(
                    session, org.id, team.NewUser(name, email, role, LONDON, password)
                )
        finally:
            await database.dispose()

    run_async(create)
    return password


def csrf(page: Page) -> str:
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    assert token
    return token


def state_of(page: Page) -> Locator:
    return page.get_by_test_id("calendar-state")


def fill_form(page: Page, day: date, people: dict[str, tuple[str, str]], candidate: str) -> None:
    page.get_by_label("Title", exact=True).fill("Backend interview")
    page.get_by_label("Candidate's name").fill("Casey Candidate")
    page.get_by_label("Candidate's e-mail").fill(candidate)
    page.get_by_label("Candidate's time zone").fill("Europe/Berlin")
    interviewers = page.get_by_role("group", name="Interviewers")
    for key in ("ann", "ben"):
        interviewers.get_by_label(people[key][0]).check()
    page.get_by_label("Date", exact=True).fill(day.isoformat())
    page.get_by_label("Start time").fill("10:00")
    page.get_by_label("Duration (minutes)").fill("60")
    page.get_by_label("Time zone", exact=True).fill(LONDON)
    page.get_by_label("Meeting type").select_option("custom_link")
    page.get_by_label("Meeting URL").fill("https://meet.example.com/backend-42")
    page.get_by_label("Meeting ID").fill("842 1234")
    page.get_by_label("Passcode").fill("4242")
    page.get_by_label("Location").fill("Online")
    page.get_by_label("Notes for interviewers (not shown to the candidate)").fill(
        "Focus on system design."
    )
    page.get_by_label("Message to the candidate").fill("Looking forward to meeting you.")


def expect_values_kept(page: Page, people: dict[str, tuple[str, str]], candidate: str) -> None:
    expect(page.get_by_label("Title", exact=True)).to_have_value("Backend interview")
    expect(page.get_by_label("Candidate's e-mail")).to_have_value(candidate)
    expect(page.get_by_label("Candidate's time zone")).to_have_value("Europe/Berlin")
    interviewers = page.get_by_role("group", name="Interviewers")
    for key in ("ann", "ben"):
        expect(interviewers.get_by_label(people[key][0])).to_be_checked()
    expect(page.get_by_label("Start time")).to_have_value("10:00")
    expect(page.get_by_label("Meeting type")).to_have_value("custom_link")
    expect(page.get_by_label("Meeting ID")).to_have_value("842 1234")
    expect(page.get_by_label("Notes for interviewers (not shown to the candidate)")).to_have_value(
        "Focus on system design."
    )
    expect(page.get_by_label("Message to the candidate")).to_have_value(
        "Looking forward to meeting you."
    )


def refuse_bad_input(page: Page, people: dict[str, tuple[str, str]], candidate: str) -> None:
    """Each mistake comes back next to its field, with everything else as typed."""
    save = page.get_by_role("button", name="Save draft")
    page.get_by_label("Duration (minutes)").fill("-30")
    save.click()
    expect(page.locator("#minutes-error")).to_have_text("The interview ends before it starts.")
    expect(page.get_by_label("Duration (minutes)")).to_have_attribute("aria-invalid", "true")
    expect_values_kept(page, people, candidate)

    page.get_by_label("Duration (minutes)").fill("60")
    page.get_by_label("Time zone", exact=True).fill("Mars/Olympus_Mons")
    save.click()
    expect(page.locator("#tz-error")).to_contain_text(
        "'Mars/Olympus_Mons' is not a known time zone"
    )
    expect(page.get_by_label("Duration (minutes)")).to_have_value("60")
    expect_values_kept(page, people, candidate)

    page.get_by_label("Time zone", exact=True).fill(LONDON)
    page.get_by_label("Meeting URL").fill("")
    save.click()
    expect(page.locator("#meeting_url-error")).to_contain_text(
        "A custom meeting link needs its URL."
    )
    expect(page.get_by_label("Time zone", exact=True)).to_have_value(LONDON)
    expect_values_kept(page, people, candidate)
    page.get_by_label("Meeting URL").fill("https://meet.example.com/backend-42")


def history(page: Page) -> list[tuple[str, str, str]]:
    rows = page.locator("#history tbody tr")
    return [
        (
            row.get_attribute("data-action") or "",
            row.locator("td").nth(2).inner_text(),
            row.locator("td").nth(3).inner_text(),
        )
        for row in rows.all()
    ]


def confirm_and_watch_it_written(page: Page, stack: Any) -> None:
    """Graph answers slowly for a moment, so the page is seen pending first; it turns
    to written by itself (the marker set on the page survives: no reload happened)."""
    slow = stack.sandbox.set_faults(CONTOSO_ID)["latency_ms"]
    stack.sandbox.set_faults(CONTOSO_ID, latency_ms=1500)
    try:
        page.get_by_role("button", name="Confirm", exact=True).click()
        expect(page.get_by_test_id("interview-status")).to_have_text("Confirmed")
        expect(page.get_by_role("status").first).to_contain_text("Confirmed.")
        expect(state_of(page)).to_have_text(["pending"])
        page.evaluate("window.sameDocument = true")
        expect(state_of(page)).to_have_text(["written"], timeout=WRITTEN_WITHIN)
        assert page.evaluate("window.sameDocument === true"), "updated without a reload"
    finally:
        stack.sandbox.set_faults(CONTOSO_ID, latency_ms=slow)


def decline_and_see_it_flagged(page: Page, stack: Any, org: Any, people: dict[str, Any]) -> None:
    """Ann declines in Outlook; once the answers are read back, the page flags her and
    names Dan, who is free then, as a replacement, by itself (no reload)."""
    interview_id = page.url.rsplit("/", 1)[-1]
    event_id = org.api.get(f"/v1/interviews/{interview_id}").json()["calendars"][0]["event_id"]
    page.evaluate("window.notReloaded = true")
    stack.sandbox.respond(CONTOSO_ID, event_id, people["ann"][1], "declined")
    assert org.api.post(f"/v1/interviews/{interview_id}/responses/refresh").status_code == 200
    ann = page.locator(f"#attendees tr[data-attendee='{people['ann'][1]}']")
    expect(ann).to_contain_text("This interviewer needs a replacement")
    expect(page.locator("#replacements")).to_contain_text(people["dan"][0])
    assert page.evaluate("window.notReloaded === true"), "the page followed without a reload"


def expect_draft(page: Page, people: dict[str, tuple[str, str]]) -> None:
    """Saved as a draft: its attendees are known, no calendar has it."""
    expect(page.get_by_role("status").first).to_contain_text("Draft saved.")
    expect(page.get_by_test_id("interview-status")).to_have_text("Draft")
    expect(page.locator("#attendees tbody tr")).to_have_count(3)
    for name in (people["ann"][0], people["ben"][0], "Casey Candidate"):
        expect(page.locator("#attendees")).to_contain_text(name)
    expect(page.locator("#no-writes")).to_contain_text("nothing is written to any calendar")
    expect(state_of(page)).to_have_count(0)
    expect(page.locator("#when")).to_contain_text(f"10:00–11:00 ({LONDON})")
    expect(page.locator("#meeting")).to_contain_text("https://meet.example.com/backend-42")
    expect(page.locator("#meeting")).to_contain_text("842 1234")
    expect(page.locator("#notes")).to_contain_text("Focus on system design.")


def reschedule_then_cancel(page: Page, day: date) -> None:
    page.get_by_label("New date").fill(day.isoformat())
    page.get_by_label("New start time").fill("14:00")
    page.get_by_label("New duration (minutes)").fill("45")
    page.get_by_role("button", name="Reschedule", exact=True).click()
    expect(page.get_by_test_id("interview-status")).to_have_text("Rescheduled")
    expect(page.locator("#when")).to_contain_text(f"14:00–14:45 ({LONDON})")
    expect(state_of(page)).to_have_text(["written"], timeout=WRITTEN_WITHIN)

    page.get_by_text("Cancel this interview…").click()
    page.get_by_label("Message to attendees (optional)").fill("The role has been filled.")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel interview").click()
    expect(page.get_by_test_id("interview-status")).to_have_text("Cancelled")
    expect(page.locator("#actions")).to_have_count(0)
    expect(state_of(page)).to_have_text(["written"], timeout=WRITTEN_WITHIN)


def expect_history(page: Page, actor: str) -> None:
    """Every step by the recruiter, in order, and the calendar's after each sent one."""
    steps = [(a, who, what) for a, who, what in history(page) if a in USER_STEPS]
    assert [(a, who) for a, who, _ in steps] == [(step, actor) for step in USER_STEPS], steps
    assert "14:00–14:45" in steps[2][2] and "The role has been filled." in steps[3][2]
    assert sum(a == "calendar_synced" for a, _, _ in history(page)) >= 3, history(page)


def test_recruiter_drafts_confirms_reschedules_and_cancels_an_interview(
    stack: Any, make_org: Any, page: Page
) -> None:
    org, people = recruiting_team(stack, make_org)
    connect_and_match(page, stack.url, org, [people["ann"][0], people["ben"][0]])
    tuesday = monday_ahead() + timedelta(days=1)
    candidate = f"casey.{secrets.token_hex(3)}@example.org"

    page.get_by_role("link", name="Interviews", exact=True).click()
    expect(page.get_by_role("heading", name="Interviews")).to_be_visible()
    page.get_by_role("link", name="New interview").click()
    expect(page.get_by_role("heading", name="New interview")).to_be_visible()
    expect(page.get_by_label("Organizer")).to_have_value(re.compile(".+"))
    expect(page.get_by_label("Meeting URL")).to_be_hidden()
    fill_form(page, tuesday, people, candidate)
    expect(page.get_by_label("Meeting URL")).to_be_visible()
    refuse_bad_input(page, people, candidate)
    page.get_by_role("button", name="Save draft").click()
    expect_draft(page, people)
    interview_url = page.url

    confirm_and_watch_it_written(page, stack)
    expect(page.locator("#calendars")).to_contain_text(people["rita"][1])
    decline_and_see_it_flagged(page, stack, org, people)
    reschedule_then_cancel(page, tuesday + timedelta(days=1))
    expect_history(page, people["rita"][1])

    again = page.request.post(f"{interview_url}/cancel", form={"csrf": csrf(page)})
    assert again.status == 200, again.status
    assert "Cannot cancel this interview. It is cancelled" in again.text()

    page.get_by_role("link", name="All interviews").click()
    row = page.locator("#upcoming tr", has_text="Backend interview")
    expect(row).to_contain_text("Cancelled")
    expect(row).to_contain_text("Casey Candidate")
    expect(row).to_contain_text("1 written")


def send_without_a_connection(page: Page, base: str, org: Any, day: date) -> None:
    """ "Confirm and send" while no calendar is connected: the service's sentence on the
    form, the values kept, and nothing saved (not even the candidate)."""
    log_in(page, base, org)
    page.goto(f"{base}/interviews/new")
    page.get_by_label("Title", exact=True).fill("Culture interview")
    page.get_by_label("Candidate's name").fill("Dana Candidate")
    page.get_by_label("Candidate's e-mail").fill("dana@example.org")
    page.get_by_role("group", name="Interviewers").get_by_label("Ivy Interviewer").check()
    page.get_by_label("Date", exact=True).fill(day.isoformat())
    page.get_by_label("Start time").fill("10:00")
    page.get_by_label("Meeting type").select_option("phone")
    page.get_by_label("Phone number to call").fill("+44 20 7946 0000")
    page.get_by_role("button", name="Confirm and send").click()
    expect(page.locator("#form-error")).to_contain_text(
        "The company calendar is not connected, so the interview cannot be sent."
    )
    expect(page.get_by_label("Phone number to call")).to_have_value("+44 20 7946 0000")
    expect(page.get_by_label("Candidate's e-mail")).to_have_value("dana@example.org")
    assert org.api.get("/v1/interviews").json() == []
    assert org.api.get("/v1/candidates").json() == [], "nothing half-written"
    page.get_by_role("button", name="Log out").click()


def draft_by_api(org: Any, viewer: str, day: date) -> str:
    start = datetime.combine(day, time(10), UTC)
    created = org.api.post(
        "/v1/interviews",
        json={
            "title": "Culture interview",
            "candidate": {"name": "Dana Candidate", "email": "dana@example.org"},
            "interviewers": [{"email": "ivy@example.org"}, {"email": viewer}],
            "organizer": {"email": org.admin_email},
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "time_zone": LONDON,
            "meeting": {"type": "phone", "phone": "+44 20 7946 0000"},
            "notes_for_interviewers": "Ask about teamwork.",
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def hand_made_posts_are_refused(page: Page, base: str, url: str) -> None:
    """The buttons are hidden, but the server is what says no."""
    refused = page.request.post(f"{url}/cancel", form={"csrf": csrf(page), "message": "x"})
    assert refused.status == 403
    assert "Only recruiters and admins can create or change interviews." in refused.text()
    assert page.request.post(f"{url}/confirm", form={"csrf": csrf(page)}).status == 403
    assert page.request.post(f"{base}/interviews/new", form={"csrf": csrf(page)}).status == 403
    page.reload()
    expect(page.get_by_test_id("interview-status")).to_have_text("Draft")
    assert [a for a, _, _ in history(page)] == ["created"]


def test_an_interviewer_sees_the_interview_but_cannot_change_it(
    stack: Any, make_org: Any, page: Page
) -> None:
    org = make_org([("Ivy Interviewer", "ivy@example.org"), ("Ian Interviewer", "ian@example.org")])
    viewer = "vic.viewer@example.org"
    password = add_login(stack, org, "Vic Viewer", viewer, "interviewer")
    day = datetime.now(UTC).date() + timedelta(days=10)
    send_without_a_connection(page, stack.url, org, day)
    url = f"{stack.url}/interviews/{draft_by_api(org, viewer, day)}"

    page.goto(url)
    page.get_by_label("E-mail").fill(viewer)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Culture interview")).to_be_visible()
    expect(page.get_by_test_id("interview-status")).to_have_text("Draft")
    expect(page.locator("#notes")).to_contain_text("Ask about teamwork.")
    expect(page.locator("#view-only")).to_be_visible()
    for name in ("Confirm", "Reschedule", "Cancel interview"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    hand_made_posts_are_refused(page, stack.url, url)

    page.goto(f"{stack.url}/interviews")
    expect(page.locator("#upcoming")).to_contain_text("Culture interview")
    expect(page.get_by_role("link", name="New interview")).to_have_count(0)
    answer = page.goto(f"{stack.url}/interviews/new")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("alert")).to_contain_text("Only recruiters and admins")


def test_start_interview_with_this_slot_opens_the_form_prefilled(
    stack: Any, make_org: Any, page: Page
) -> None:
    monday = monday_ahead()
    tuesday = monday + timedelta(days=1)
    people = add_panel(stack, tuesday)
    org = make_org([people["ann"], people["ben"]])
    ann, ben = people["ann"][0], people["ben"][0]
    connect_and_match(page, stack.url, org, [ann, ben])

    page.get_by_role("link", name="Schedule").click()
    ask(page, [ann, ben], [], monday, CANDIDATE.key)
    moment = at(NY, tuesday, 11)
    page.locator(f"#slots button[data-start='{moment.isoformat()}']").click()
    page.get_by_role("link", name="Start interview with this slot").click()

    expect(page.get_by_role("heading", name="New interview")).to_be_visible()
    local = moment.astimezone(ZoneInfo(CANDIDATE.key))
    expect(page.get_by_label("Date", exact=True)).to_have_value(local.date().isoformat())
    expect(page.get_by_label("Start time")).to_have_value(f"{local:%H:%M}")
    expect(page.get_by_label("Duration (minutes)")).to_have_value("30")
    expect(page.get_by_label("Time zone", exact=True)).to_have_value(CANDIDATE.key)
    expect(page.get_by_label("Candidate's time zone")).to_have_value(CANDIDATE.key)
    interviewers = page.get_by_role("group", name="Interviewers")
    expect(interviewers.get_by_label(ann)).to_be_checked()
    expect(interviewers.get_by_label(ben)).to_be_checked()
    expect(page.get_by_label("Organizer").locator("option:checked")).to_contain_text("Hiring Admin")
