"""The scheduling page, clicked through in real Chromium as a recruiter would (seed 000:
"you will be able to see everyone's availability as you schedule interviews").

Two required interviewers in New York and London and a pool of two (São Paulo and
London, at least one of them) are added to the sandbox's Contoso with known working
hours (09:00-17:00 local) and two known meetings, so the free slots of one day can be
worked out by hand below and compared with the grid, cell by cell."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from hiresync.sandbox.microsoft.model import WorkingHours
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from tests.e2e.test_calendar_sync_page import log_in, pick_account
from tests.integration.browser import IT_ADMIN

NY, LDN, SP = ZoneInfo("America/New_York"), ZoneInfo("Europe/London"), ZoneInfo("America/Sao_Paulo")
CANDIDATE = ZoneInfo("Europe/Berlin")
LENGTH, BUFFER = timedelta(minutes=30), timedelta(minutes=10)


def monday_ahead() -> date:
    """A Monday at least a week ahead: every slot of its week is in the future."""
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 - today.weekday() + 7)


def at(zone: ZoneInfo, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def add_panel(stack: Any, day: date) -> dict[str, tuple[str, str]]:
    """Ann (New York), Ben (London), Caz (São Paulo), Dan (London): name and mailbox.
    On ``day`` Ann has "Hiring sync" 10:00-10:30 New York time and Caz has "Budget
    review" 11:00-11:30 New York time."""
    tag = secrets.token_hex(3)
    people = {}
    for key, zone in (("ann", NY), ("ben", LDN), ("caz", SP), ("dan", LDN)):
        mail = f"{key}.{tag}@contoso.com"
        stack.sandbox.add_user(
            CONTOSO_ID,
            display_name=f"{key.title()} {tag}",
            mail=mail,
            time_zone=zone.key,
            working_hours=WorkingHours(start=time(9), end=time(17)),
        )
        people[key] = (f"{key.title()} {tag}", mail)
    for key, subject, hour in (("ann", "Hiring sync", 10), ("caz", "Budget review", 11)):
        stack.sandbox.add_event(
            CONTOSO_ID,
            people[key][1],
            subject=subject,
            start=at(NY, day, hour),
            end=at(NY, day, hour, 30),
        )
    return people


def expected_starts(day: date) -> list[datetime]:
    """Half-hour slots inside both Ann's and Ben's working day whose 10-minute buffers stay
    clear of Ann's meeting; Dan (London, no meetings) keeps the pool satisfied."""
    meeting = (at(NY, day, 10), at(NY, day, 10, 30))
    start, end = max(at(NY, day, 9), at(LDN, day, 9)), min(at(NY, day, 17), at(LDN, day, 17))
    starts, cursor = [], start
    while cursor + LENGTH <= end:
        if not (cursor - BUFFER < meeting[1] and cursor + LENGTH + BUFFER > meeting[0]):
            starts.append(cursor)
        cursor += timedelta(minutes=30)
    return starts


def connect_and_match(page: Page, base: str, org: Any, names: list[str]) -> None:
    log_in(page, base, org)
    page.get_by_role("button", name="Connect an Outlook admin account").click()
    pick_account(page, IT_ADMIN)
    expect(page.get_by_test_id("connection-status")).to_have_text("Connected")
    for name in names:
        expect(page.locator("#matched")).to_contain_text(name, timeout=20_000)


def ask(page: Page, required: list[str], pool: list[str], monday: date, tz: str) -> None:
    for name in required:
        page.get_by_role("group", name="Interviewers (all required)").get_by_label(name).check()
    for name in pool:
        page.get_by_role("group", name=re.compile("^Pool")).get_by_label(name).check()
    page.get_by_label("k: how many of the pool must be free").fill("1")
    page.get_by_label("Candidate's time zone").fill(tz)
    page.get_by_label("Duration").select_option("30")
    page.get_by_label("Week of").fill(monday.isoformat())
    page.get_by_label("Buffer before and after").select_option("10")
    page.get_by_role("button", name="Find times").click()


def test_recruiter_finds_the_free_slots_and_sees_who_is_free_and_why_not(
    stack: Any, make_org: Any, page: Page
) -> None:
    monday = monday_ahead()
    tuesday = monday + timedelta(days=1)
    people = add_panel(stack, tuesday)
    org = make_org([(name, mail) for name, mail in people.values()])
    ann, ben, caz, dan = (people[k][0] for k in ("ann", "ben", "caz", "dan"))
    connect_and_match(page, stack.url, org, [ann, ben, caz, dan])

    page.get_by_role("link", name="Schedule").click()
    expect(page.get_by_role("heading", name="Schedule an interview")).to_be_visible()
    ask(page, [ann, ben], [caz, dan], monday, CANDIDATE.key)

    column = page.locator(f"#slots td[data-day='{tuesday.isoformat()}'] button.free-slot")
    expect(column.first).to_be_visible()
    expected = expected_starts(tuesday)
    assert expected, "the two working days overlap"
    got = [b.get_attribute("data-start") for b in column.all()]
    assert got == [s.isoformat() for s in expected], "exactly the free half-hour slots"
    labels = [b.locator(".at").inner_text() for b in column.all()]
    assert labels == [f"{s.astimezone(CANDIDATE):%H:%M}" for s in expected], "candidate's zone"
    for busy in (at(NY, tuesday, 9, 30), at(NY, tuesday, 10), at(NY, tuesday, 10, 30)):
        assert busy.isoformat() not in got, "Ann's meeting (and its buffer) is never offered"

    everyone = page.locator(f"#slots button[data-start='{at(NY, tuesday, 9).isoformat()}']")
    expect(everyone.locator(".count")).to_have_text("4/4")
    slot = page.locator(f"#slots button[data-start='{at(NY, tuesday, 11).isoformat()}']")
    expect(slot.locator(".count")).to_have_text("3/4")
    slot.click()
    panel = page.get_by_role("complementary", name="Selected slot")
    expect(panel).to_be_visible()
    expect(slot).to_have_attribute("aria-pressed", "true")
    candidate_time = at(NY, tuesday, 11).astimezone(CANDIDATE)
    expect(panel.locator("#sel-candidate")).to_contain_text(f"{candidate_time:%H:%M}–")
    expect(panel.locator("#sel-candidate")).to_contain_text("Europe/Berlin")
    viewer_time = at(NY, tuesday, 11).astimezone(LDN)
    expect(panel.locator("#sel-viewer")).to_contain_text(f"{viewer_time:%H:%M}–")
    expect(panel.locator("#sel-viewer")).to_contain_text("Europe/London")
    free = panel.locator("#sel-free li")
    expect(free).to_have_text([ann, ben, dan])
    why = panel.locator("#sel-busy li")
    expect(why).to_have_count(1)
    expect(why).to_contain_text(caz)
    expect(why).to_contain_text("“Budget review”")
    expect(why).to_contain_text("overlaps this slot")
    expect(why).to_contain_text(f"{candidate_time:%H:%M}–")
    start_link = panel.get_by_role("link", name="Start interview with this slot")
    if start_link.count():
        expect(start_link).to_have_attribute("href", re.compile(r"^/interviews/new\?start="))
    else:
        expect(panel).to_contain_text("Interview scheduling arrives with the interviews feature")


def test_bad_input_and_an_empty_week_are_explained(stack: Any, make_org: Any, page: Page) -> None:
    people = add_panel(stack, monday_ahead())
    org = make_org([people["ann"], people["ben"]])
    connect_and_match(page, stack.url, org, [people["ann"][0], people["ben"][0]])
    page.goto(f"{stack.url}/schedule")
    ask(page, [people["ann"][0], people["ben"][0]], [], monday_ahead(), "Mars/Olympus_Mons")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("'Mars/Olympus_Mons' is not a known time zone.")
    expect(alert).to_contain_text("Use an IANA name such as Europe/London")
    expect(page.get_by_label("Candidate's time zone")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#slots")).to_have_count(0)
    ask(page, [], [], monday_ahead(), "America")  # a folder of zones, not a zone
    expect(page.get_by_role("alert")).to_contain_text("'America' is not a known time zone.")

    ask(page, [], [], date(2020, 1, 6), "Europe/Berlin")  # a week long past: nothing bookable
    expect(page.get_by_role("status")).to_have_text(
        "No time this week suits everyone — try the pool option, a shorter interview or the next week"
    )
