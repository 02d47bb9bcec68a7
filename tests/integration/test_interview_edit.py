"""Editing an interview through the API (PATCH, JSON merge patch): a draft is corrected
quietly; a sent one keeps its organizer and candidate, and everything else reaches the
(sandbox) Outlook event as an update of the same event, which Exchange turns into
requests for added attendees, cancellations for removed ones and updates for the rest
(seed 003: "Google/Microsoft automatically sends meeting requests to meeting
participants")."""

from __future__ import annotations

import secrets
from datetime import time
from email import message_from_bytes, policy
from typing import Any

import pytest
from icalendar import Calendar

from hiresync.sandbox.microsoft.model import WorkingHours
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from tests.integration.browser import IT_ADMIN, Browser, connect_as, job_report, wait_for
from tests.integration.test_interviews_api import slot, wait_synced
from tests.integration.test_webhooks_out import Receiver, receiver  # noqa: F401 (fixture)

CANDIDATE = "alex.candidate@example.org"


@pytest.fixture(scope="module")
def team(stack: Any, make_org_module: Any) -> Any:
    """Olga organizes; Ivan, Ines and Nora interview; all with sandbox mailboxes, connected."""
    tag = secrets.token_hex(3)
    people = {}
    for name in ("olga", "ivan", "ines", "nora"):
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
    assert wait_for(lambda: len(org.api.get("/v1/directory/matches").json()["matched"]) >= 4), (
        job_report(stack.database_uri)
    )
    org.people = people
    return org


def interview(team: Any, days: int, **changes: Any) -> dict[str, Any]:
    start, end = slot(days=days)
    created = team.api.post(
        "/v1/interviews",
        json={
            "title": "Technical interview",
            "candidate": {"name": "Alex Candidate", "email": CANDIDATE},
            "interviewers": [{"email": team.people["ivan"]}, {"email": team.people["ines"]}],
            "organizer": {"email": team.people["olga"]},
            "start": start,
            "end": end,
            "time_zone": "Europe/London",
            "meeting": {"type": "custom_link", "url": "https://meet.example.com/abc"},
            "location": "Online",
            "notes_for_interviewers": "Focus on system design.",
            "message_to_candidate": "Looking forward to meeting you.",
            **changes,
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


def sent(team: Any, days: int) -> tuple[dict[str, Any], str]:
    """A confirmed interview written to Olga's calendar, and its event id."""
    made = interview(team, days, confirm=True)
    view = wait_synced(team, made["id"], 1)
    return view, view["calendars"][0]["event_id"]


def patch(team: Any, interview_id: str, **changes: Any) -> Any:
    return team.api.patch(f"/v1/interviews/{interview_id}", json=changes)


def interviewers(view: dict[str, Any]) -> list[str]:
    return sorted(a["email"] for a in view["attendees"] if a["role"] == "interviewer")


def test_a_draft_is_corrected_quietly_and_a_repeat_changes_nothing(team: Any, stack: Any) -> None:
    draft = interview(team, 30)
    start, end = slot(days=31, hour=14)
    answer = team.api.patch(
        f"/v1/interviews/{draft['id']}",
        content=(
            '{"title": "System design interview",'
            ' "candidate": {"name": "Sam Candidate", "email": "sam.candidate@example.org",'
            ' "time_zone": "Europe/Berlin"},'
            f' "interviewers": [{{"email": "{team.people["nora"]}"}}],'
            f' "organizer": {{"email": "{team.people["ivan"]}"}},'
            f' "start": "{start}", "end": "{end}",'
            ' "meeting": {"type": "phone", "phone": "+44 20 7946 0000"},'
            ' "location": null}'
        ),
        headers={"content-type": "application/merge-patch+json"},
    )
    assert answer.status_code == 200, answer.text
    edited = answer.json()
    assert edited["status"] == "draft" and edited["sequence"] == 0 and edited["calendars"] == []
    assert edited["title"] == "System design interview"
    assert edited["candidate"]["email"] == "sam.candidate@example.org"
    assert edited["candidate"]["time_zone"] == "Europe/Berlin"
    assert sorted((a["role"], a["email"]) for a in edited["attendees"]) == [
        ("candidate", "sam.candidate@example.org"),
        ("interviewer", team.people["nora"]),
    ]
    assert edited["organizer_mailbox"] == team.people["ivan"]
    assert edited["start"].startswith(start[:16]) and edited["location"] is None
    assert edited["meeting"]["type"] == "phone" and edited["meeting"]["url"] is None
    assert edited["notes_for_interviewers"] == "Focus on system design.", "left out: kept"
    (entry,) = [h for h in edited["history"] if h["action"] == "edited"]
    assert entry["details"]["before"]["title"] == "Technical interview"
    assert entry["details"]["after"]["interviewers"] == [team.people["nora"]]
    assert entry["details"]["before"]["location"] == "Online"
    assert "notes_for_interviewers" not in entry["details"]["after"]

    again = patch(team, draft["id"], title=" System design interview ", location=None)
    assert again.status_code == 200
    assert [h["action"] for h in again.json()["history"]] == ["created", "edited"], "no-op"


def test_editing_a_sent_interview_updates_the_same_event_for_everyone_it_concerns(
    team: Any, stack: Any
) -> None:
    view, event_id = sent(team, 32)
    stack.sandbox.respond(CONTOSO_ID, event_id, team.people["ivan"], "accepted")
    team.api.post(f"/v1/interviews/{view['id']}/responses/refresh")
    before = len(stack.sandbox.invitations(CONTOSO_ID, event_id=event_id))

    answer = patch(
        team,
        view["id"],
        title="Technical interview (final round)",
        interviewers=[{"email": team.people["ivan"]}, {"email": team.people["nora"]}],
        message_to_candidate="Bring a laptop.",
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["sequence"] == 2 and answer.json()["status"] == "confirmed"
    assert interviewers(answer.json()) == sorted([team.people["ivan"], team.people["nora"]])
    ivan = next(a for a in answer.json()["attendees"] if a["email"] == team.people["ivan"])
    assert ivan["response"] == "accepted", "an interviewer who stays keeps their answer"

    synced = wait_synced(team, view["id"], 2)
    assert synced["calendars"][0]["event_id"] == event_id, "the same event, updated"
    olga = stack.sandbox.find_mailbox(CONTOSO_ID, team.people["olga"])
    (event,) = [e for e in olga.events if e.id == event_id]
    assert event.subject == "Technical interview (final round)"
    assert "Bring a laptop." in event.body
    assert sorted(a.address.lower() for a in event.attendees) == sorted(
        [CANDIDATE, team.people["ivan"], team.people["nora"]]
    )
    news = stack.sandbox.invitations(CONTOSO_ID, event_id=event_id)[before:]
    assert sorted((m.to.lower(), m.kind) for m in news) == sorted(
        [
            (team.people["nora"], "request"),
            (team.people["ines"], "cancellation"),
            (team.people["ivan"], "update"),
            (CANDIDATE, "update"),
        ]
    ), "Exchange invites the added, cancels for the removed, updates the rest"
    entry = [h for h in synced["history"] if h["action"] == "edited"][-1]
    assert entry["details"]["before"]["interviewers"] == sorted(
        [team.people["ines"], team.people["ivan"]]
    )
    assert entry["details"]["after"]["message_to_candidate"] == "Bring a laptop."


def test_notes_for_interviewers_alone_are_not_sent_to_anyone(team: Any, stack: Any) -> None:
    view, event_id = sent(team, 33)
    before = len(stack.sandbox.invitations(CONTOSO_ID, event_id=event_id))
    answer = patch(team, view["id"], notes_for_interviewers="Ask about the migration project.")
    assert answer.status_code == 200
    edited = answer.json()
    assert edited["notes_for_interviewers"] == "Ask about the migration project."
    assert edited["sequence"] == 1 and edited["calendars"][0]["synced_sequence"] == 1
    assert edited["history"][-1]["action"] == "edited"
    moved_start, moved_end = slot(days=34)
    patch(team, view["id"], start=moved_start, end=moved_end)  # a later push, for comparison
    wait_synced(team, view["id"], 2)
    news = stack.sandbox.invitations(CONTOSO_ID, event_id=event_id)[before:]
    assert len(news) == 3 and all(m.kind == "update" for m in news), "only the move was sent"
    olga = stack.sandbox.find_mailbox(CONTOSO_ID, team.people["olga"])
    (event,) = [e for e in olga.events if e.id == event_id]
    assert "migration" not in event.body, "notes stay internal"


def test_moving_a_sent_interview_by_edit_is_a_reschedule(team: Any) -> None:
    view, _ = sent(team, 35)
    start, end = slot(days=36, hour=15)
    moved = patch(team, view["id"], start=start, end=end).json()
    assert moved["status"] == "rescheduled" and moved["sequence"] == 2
    assert moved["history"][-1]["action"] == "rescheduled"
    assert moved["history"][-1]["details"]["after"]["start"].startswith(start[:16])


def test_a_sent_interview_keeps_its_organizer_and_candidate(team: Any) -> None:
    view, _ = sent(team, 37)
    for change in (
        {"organizer": {"email": team.people["ivan"]}},
        {"candidate": {"name": "Someone Else", "email": "someone.else@example.org"}},
    ):
        refused = patch(team, view["id"], title="Renamed", **change)
        assert refused.status_code == 409, refused.text
        message = refused.json()["error"]["message"]
        assert "cannot change its organizer" in message and "create a new one" in message
    same = patch(team, view["id"], organizer={"email": team.people["olga"]})
    assert same.status_code == 200, "naming the same organizer again is no change"
    after = team.api.get(f"/v1/interviews/{view['id']}").json()
    assert after["title"] == "Technical interview" and after["sequence"] == 1


def test_a_cancelled_interview_cannot_be_edited(team: Any) -> None:
    draft = interview(team, 38)
    team.api.post(f"/v1/interviews/{draft['id']}/cancel", json={})
    refused = patch(team, draft["id"], title="Too late")
    assert refused.status_code == 409
    assert "It is cancelled" in refused.json()["error"]["message"]
    assert team.api.get(f"/v1/interviews/{draft['id']}").json()["title"] == "Technical interview"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"interviewers": []}, "interviewers"),
        ({"interviewers": [{"email": "stranger@elsewhere.example"}]}, "interviewers.0"),
        ({"meeting": {"type": "custom_link"}}, "meeting.url"),
        ({"meeting": {"type": "in_person"}, "location": None}, "meeting.address"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
        ({"start": "2031-01-06T10:00:00"}, "start"),
        ({"end": "2020-01-01T00:00:00Z"}, "end"),
        ({"start": "2020-01-06T10:00:00Z", "end": "2020-01-06T11:00:00Z"}, "start"),
        ({"candidate": {"name": "X", "email": "not-an-address"}}, "candidate.email"),
        ({"candidate_id": "00000000-0000-0000-0000-000000000000"}, "candidate"),
        ({"organizer": {"email": "nobody@contoso.com"}}, "organizer"),
        ({"location": "x" * 501}, "location"),
        ({"candidate_invitations": "carrier pigeon"}, "candidate_invitations"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_edits_say_what_to_fix_and_change_nothing(
    team: Any, change: dict[str, Any], field: str
) -> None:
    draft = interview(team, 39)
    answer = patch(team, draft["id"], **{"title": "Half-written?", **change})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["message"] and error.get("field", "").startswith(field), error
    assert team.api.get(f"/v1/interviews/{draft['id']}").json() == draft, "nothing half-written"


def test_another_organizations_interview_is_not_found(team: Any, make_org: Any) -> None:
    draft = interview(team, 40)
    other = make_org()
    assert patch(other, draft["id"], title="Mine now").status_code == 404
    assert team.api.get(f"/v1/interviews/{draft['id']}").json()["title"] == "Technical interview"


def test_the_hiring_platform_hears_of_an_edit_with_the_fields_it_changed(
    team: Any,
    receiver: tuple[Receiver, str],  # noqa: F811
) -> None:
    target, url = receiver
    endpoint = team.api.post(
        "/v1/webhook-endpoints",
        json={"url": url, "event_types": ["interview.updated", "interview.rescheduled"]},
    ).json()
    try:
        view, _ = sent(team, 41)
        patch(team, view["id"], title="Culture interview", location="Room 4")
        assert wait_for(lambda: target.of_type("interview.updated"))
        ((body, _),) = target.of_type("interview.updated")
        assert view["id"] in body.decode()
        assert '"changed":["location","title"]' in body.decode()
        assert '"title":"Culture interview"' in body.decode()
        assert '"sequence":2' in body.decode()
    finally:
        team.api.delete(f"/v1/webhook-endpoints/{endpoint['id']}")
    assert target.of_type("interview.rescheduled") == [], "one event per change"


def candidate_mails(drop: Any, interview_id: str) -> list[Any]:
    return [
        message_from_bytes(raw, policy=policy.default)
        for _, to, raw in drop.messages
        if to == [CANDIDATE] and interview_id in raw.decode(errors="replace")
    ]


def test_switching_the_candidate_to_email_sends_them_one_invitation_and_takes_them_off_the_event(
    team: Any, stack: Any, mail_drop: Any
) -> None:
    drop, _ = mail_drop
    view, event_id = sent(team, 42)
    answer = patch(team, view["id"], candidate_invitations="email")
    assert answer.status_code == 200, answer.text
    assert answer.json()["candidate_invited_by"] == "email"

    received = wait_for(lambda: candidate_mails(drop, view["id"]), timeout=30)
    assert received, team.api.get(f"/v1/interviews/{view['id']}").json()["candidate_emails"]
    synced = wait_synced(team, view["id"], 2)
    assert [(e["kind"], e["status"]) for e in synced["candidate_emails"]] == [
        ("invitation", "sent")
    ]
    assert len(candidate_mails(drop, view["id"])) == 1, "one e-mail"
    part = next(p for p in received[0].walk() if p.get_content_type() == "text/calendar")
    calendar = Calendar.from_ical(part.get_content())
    assert str(calendar["METHOD"]) == "REQUEST"
    assert int(calendar.walk("VEVENT")[0]["SEQUENCE"]) == 2
    olga = stack.sandbox.find_mailbox(CONTOSO_ID, team.people["olga"])
    (event,) = [e for e in olga.events if e.id == event_id]
    assert CANDIDATE not in [a.address.lower() for a in event.attendees]

    back = patch(team, view["id"], candidate_invitations="calendar")
    assert back.status_code == 409 and "second copy" in back.json()["error"]["message"]


def test_moving_a_sent_teams_interview_to_another_meeting_says_outlook_keeps_the_teams_link(
    team: Any, stack: Any
) -> None:
    made = interview(team, 36, confirm=True, meeting={"type": "teams"})

    def written_with_link() -> Any:
        got = team.api.get(f"/v1/interviews/{made['id']}").json()
        cals = got["calendars"]
        return got if cals and cals[0]["synced_sequence"] >= 1 and got["meeting"]["url"] else None

    view = wait_for(written_with_link, timeout=30)
    assert view, (
        "the calendar made a Teams meeting with the event: "
        + team.api.get(f"/v1/interviews/{made['id']}").text
    )
    answer = patch(
        team, view["id"], meeting={"type": "custom_link", "url": "https://meet.example.com/xyz"}
    )
    assert answer.status_code == 200, answer.text
    meeting = answer.json()["meeting"]
    assert meeting["type"] == "custom_link" and meeting["url"] == "https://meet.example.com/xyz"
    assert "Teams link" in (meeting["problem"] or ""), "the recruiter is told what stays"
    event_id = wait_synced(team, view["id"], 2)["calendars"][0]["event_id"]
    olga = stack.sandbox.find_mailbox(CONTOSO_ID, team.people["olga"])
    (event,) = [e for e in olga.events if e.id == event_id]
    assert "https://meet.example.com/xyz" in event.body
    assert event.is_online_meeting and event.online_meeting, "Outlook kept the Teams meeting"
