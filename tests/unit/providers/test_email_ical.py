"""iCalendar invitations and the e-mails that carry them: parsed back with icalendar and
the ``email`` package, as a candidate's mail client would."""

from __future__ import annotations

import email
import email.policy
import inspect
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event, Timezone

from hiresync.domain.interviews import Meeting, MeetingType
from hiresync.providers.email.ical import (
    InvitationEvent,
    Method,
    Person,
    attendees_of,
    local_time,
    to_ics,
    uid_for,
    vtimezone,
)
from hiresync.services.invitations import (
    TEMPLATE_NAMES,
    VARIABLES,
    InvitationContext,
    Kind,
    TemplateError,
    build_event,
    check_template,
    compose,
    context_for,
    default_source,
    format_when,
    render,
)

INTERVIEW_ID = uuid.UUID("0b6f6c8e-9a55-4b47-8d0e-2f0a4a1c9e01")
ORGANIZER = Person("interviews@acme.example", "Acme Recruiting")
CANDIDATE = Person("ada@candidate.example", "Ada Lovelace")
INTERVIEWER = Person("grace@acme.example", "Grace Hopper")
SENDER = Person("no-reply@acme.example", "Acme Interviews")
STAMP = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOTES = "SECRET-NOTES: push hard on system design, salary cap 90k"
MEETING = Meeting(
    MeetingType.CUSTOM_LINK,
    url="https://meet.example.com/abc-defg",
    meeting_id="812 3456",
    passcode="tulip",
)


def _calendar(ics: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(ics)
    (event,) = calendar.events
    return calendar, event


def _context(start: datetime, end: datetime, *, zone: str = "Europe/Berlin", **kw: object):
    defaults: dict[str, object] = {
        "candidate_name": CANDIDATE.name,
        "candidate_time_zone": zone,
        "title": "Backend engineer: technical interview",
        "start": start,
        "end": end,
        "organizer_name": "Acme Recruiting",
        "meeting": MEETING,
        "message": "Please bring your laptop.",
    }
    return context_for(**{**defaults, **kw})  # type: ignore[arg-type]


def _event(
    kind: Kind, start: datetime, end: datetime, *, sequence: int, zone: str = "Europe/London"
) -> InvitationEvent:
    return build_event(
        kind,
        interview_id=INTERVIEW_ID,
        sequence=sequence,
        title="Backend engineer: technical interview",
        start=start,
        end=end,
        time_zone=zone,
        organizer=ORGANIZER,
        attendees=(INTERVIEWER, CANDIDATE),
        context=_context(start, end),
        stamp=STAMP,
    )


# March 2026: London moves to BST on the 29th at 01:00 UTC; New York to EDT on the 8th.
BEFORE_DST = datetime(2026, 3, 27, 14, 0, tzinfo=UTC)
AFTER_DST = datetime(2026, 3, 31, 14, 0, tzinfo=UTC)
START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


# -- the iCalendar object ------------------------------------------------------------------


def test_request_says_what_an_itip_invitation_must() -> None:
    event = _event("invitation", BEFORE_DST, BEFORE_DST + timedelta(hours=1), sequence=1)
    calendar, vevent = _calendar(to_ics(event))

    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert vevent["UID"] == f"{INTERVIEW_ID}@hiresync"
    assert vevent["SEQUENCE"] == 1
    assert vevent["STATUS"] == "CONFIRMED"
    assert vevent["SUMMARY"] == "Backend engineer: technical interview"
    assert vevent.decoded("DTSTAMP") == STAMP
    assert vevent["URL"] == "https://meet.example.com/abc-defg"
    assert "LOCATION" not in vevent  # a link meeting has no address
    assert "Meeting ID: 812 3456" in vevent["DESCRIPTION"]
    assert "Please bring your laptop." in vevent["DESCRIPTION"]
    organizer = vevent["ORGANIZER"]
    assert organizer == "mailto:interviews@acme.example"
    assert organizer.params["CN"] == "Acme Recruiting"


def test_attendees_are_required_participants_asked_to_reply() -> None:
    event = _event("invitation", BEFORE_DST, BEFORE_DST + timedelta(hours=1), sequence=1)
    _, vevent = _calendar(to_ics(event))

    attendees = {str(a): a.params for a in vevent.attendees}
    assert set(attendees) == {"mailto:grace@acme.example", "mailto:ada@candidate.example"}
    for email_, params in attendees.items():
        assert params["ROLE"] == "REQ-PARTICIPANT", email_
        assert params["PARTSTAT"] == "NEEDS-ACTION"
        assert params["RSVP"] == "TRUE"
    assert attendees["mailto:ada@candidate.example"]["CN"] == "Ada Lovelace"


def test_uid_is_stable_across_request_update_and_cancel() -> None:
    start = BEFORE_DST
    first = _event("invitation", start, start + timedelta(hours=1), sequence=1)
    moved = _event("update", AFTER_DST, AFTER_DST + timedelta(hours=1), sequence=2)
    cancel = _event("cancellation", AFTER_DST, AFTER_DST + timedelta(hours=1), sequence=3)

    parsed = [_calendar(to_ics(e)) for e in (first, moved, cancel)]

    assert [e.method for e in (first, moved, cancel)] == [
        Method.REQUEST,
        Method.REQUEST,
        Method.CANCEL,
    ]

    assert [c["METHOD"] for c, _ in parsed] == ["REQUEST", "REQUEST", "CANCEL"]
    assert {e["UID"] for _, e in parsed} == {uid_for(INTERVIEW_ID)}
    assert [e["SEQUENCE"] for _, e in parsed] == [1, 2, 3]
    assert [e["STATUS"] for _, e in parsed] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert parsed[1][1].decoded("DTSTART") == AFTER_DST


def test_cancel_names_attendees_but_asks_no_reply() -> None:
    cancel = _event("cancellation", AFTER_DST, AFTER_DST + timedelta(hours=1), sequence=3)
    _, vevent = _calendar(to_ics(cancel))

    for attendee in vevent.attendees:
        assert "RSVP" not in attendee.params
        assert "PARTSTAT" not in attendee.params


@pytest.mark.parametrize(
    ("zone", "winter", "summer", "changes"),
    [
        # Spring forward at 01:00 UTC (01:00 GMT), fall back at 01:00 UTC (02:00 BST).
        (
            "Europe/London",
            timedelta(0),
            timedelta(hours=1),
            [datetime(2026, 3, 29, 1), datetime(2026, 10, 25, 1)],
        ),
        # 02:00 EST is 07:00 UTC; 02:00 EDT is 06:00 UTC.
        (
            "America/New_York",
            timedelta(hours=-5),
            timedelta(hours=-4),
            [datetime(2026, 3, 8, 7), datetime(2026, 11, 1, 6)],
        ),
    ],
)
def test_vtimezone_has_the_right_offsets_either_side_of_dst(
    zone: str, winter: timedelta, summer: timedelta, changes: list[datetime]
) -> None:
    start = datetime(2026, 3, 20, 14, 0, tzinfo=UTC)
    event = _event("invitation", start, start + timedelta(hours=1), sequence=1, zone=zone)
    calendar, vevent = _calendar(to_ics(event))

    assert vevent["DTSTART"].params["TZID"] == zone
    assert vevent["DTEND"].params["TZID"] == zone
    (vtimezone,) = calendar.walk("VTIMEZONE")
    assert vtimezone["TZID"] == zone
    # The transitions as an RFC 5545 reader computes them from the VTIMEZONE alone
    # (DTSTART of an observance read in its TZOFFSETFROM), in UTC:
    instants, infos = Timezone.from_ical(vtimezone.to_ical()).get_transitions()
    assert [i for i in instants if i.year == 2026] == changes
    assert {info[0] for info in infos} == {winter, summer}
    # And the zone it defines, without looking the TZID up anywhere:
    embedded = Timezone.from_ical(vtimezone.to_ical()).to_tz(lookup_tzid=False)
    spring, autumn = (c.replace(tzinfo=UTC) for c in changes)
    for instant, offset in (
        (spring - timedelta(minutes=1), winter),
        (spring + timedelta(minutes=1), summer),
        (autumn - timedelta(minutes=1), summer),
        (autumn + timedelta(minutes=1), winter),
        (datetime(2026, 1, 15, 12, tzinfo=UTC), winter),
        (datetime(2027, 7, 15, 12, tzinfo=UTC), summer),
    ):
        assert instant.astimezone(ZoneInfo(zone)).utcoffset() == offset, instant
        assert instant.astimezone(embedded).utcoffset() == offset, instant


def test_vtimezone_onsets_are_in_the_offset_before_the_change() -> None:
    # RFC 5545 §3.6.5, with its own New York example: both changes at 02:00 local.
    zone = vtimezone(
        "America/New_York", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    onsets = {
        sub.name: (sub["DTSTART"].dt, sub["TZOFFSETFROM"].td, sub["TZOFFSETTO"].td)
        for sub in zone.subcomponents
        if sub["TZOFFSETFROM"] != sub["TZOFFSETTO"]
    }
    assert onsets == {
        "DAYLIGHT": (datetime(2026, 3, 8, 2), timedelta(hours=-5), timedelta(hours=-4)),
        "STANDARD": (datetime(2026, 11, 1, 2), timedelta(hours=-4), timedelta(hours=-5)),
    }


def test_vtimezone_handles_half_hour_changes() -> None:
    # Lord Howe Island moves by 30 minutes, at 02:00 local both ways.
    zone = vtimezone(
        "Australia/Lord_Howe", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    instants, _ = Timezone.from_ical(zone.to_ical()).get_transitions()
    assert instants[1:] == [datetime(2026, 4, 4, 15), datetime(2026, 10, 3, 15, 30)]


@pytest.mark.parametrize("start", [BEFORE_DST, AFTER_DST])
def test_local_wall_time_is_right_either_side_of_dst(start: datetime) -> None:
    event = _event("invitation", start, start + timedelta(hours=1), sequence=1)
    ics = to_ics(event).decode()
    # 14:00 UTC is 14:00 in London in GMT and 15:00 in BST.
    wall = "140000" if start == BEFORE_DST else "150000"
    assert f"DTSTART;TZID=Europe/London:{start:%Y%m%d}T{wall}" in ics
    _, vevent = _calendar(ics.encode())
    assert vevent.decoded("DTSTART") == start
    assert vevent.decoded("DTEND") == start + timedelta(hours=1)


def test_a_repeated_local_hour_is_written_in_utc() -> None:
    # 1 Nov 2026 01:30 happens twice in New York; the second time is 06:30 UTC.
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    zone = ZoneInfo("America/New_York")
    assert local_time(first, zone).tzinfo == zone
    assert local_time(second, zone).tzinfo == UTC

    event = _event("invitation", second, second + timedelta(hours=1), sequence=1)
    event = InvitationEvent(**{**_fields(event), "time_zone": "America/New_York"})
    _, vevent = _calendar(to_ics(event))
    assert vevent.decoded("DTSTART") == second
    assert "TZID" not in vevent["DTSTART"].params


def _fields(event: InvitationEvent) -> dict[str, object]:
    return {name: getattr(event, name) for name in InvitationEvent.__dataclass_fields__}


def test_utc_interviews_need_no_vtimezone() -> None:
    event = _event(
        "invitation", BEFORE_DST, BEFORE_DST + timedelta(hours=1), sequence=0, zone="UTC"
    )
    calendar, vevent = _calendar(to_ics(event))
    assert vevent.decoded("DTSTART") == BEFORE_DST
    assert "Z" in vevent["DTSTART"].to_ical().decode()
    assert calendar.walk("VTIMEZONE") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start": datetime(2026, 3, 1, 9)}, "aware"),
        ({"end": BEFORE_DST - timedelta(hours=1)}, "after its start"),
        ({"time_zone": "Mars/Olympus"}, "IANA"),
        ({"sequence": -1}, "negative"),
    ],
)
def test_bad_invitations_are_refused(change: dict[str, object], message: str) -> None:
    good = _event("invitation", BEFORE_DST, BEFORE_DST + timedelta(hours=1), sequence=1)
    with pytest.raises(ValueError, match=message):
        InvitationEvent(**{**_fields(good), **change})


def test_attendees_of_drops_repeated_addresses() -> None:
    people = attendees_of([("A@x.example", "A"), ("a@x.example", "again"), (" b@x.example", None)])
    assert people == (Person("A@x.example", "A"), Person("b@x.example", None))


def test_special_characters_survive_the_round_trip() -> None:
    start = BEFORE_DST
    event = InvitationEvent(
        **{
            **_fields(_event("invitation", start, start + timedelta(hours=1), sequence=1)),
            "summary": "Entretien; «Zoë», étape 2, café",
            "organizer": Person("o@acme.example", 'Zoë "the boss", Smith'),
        }
    )
    _, vevent = _calendar(to_ics(event))
    assert vevent["SUMMARY"] == "Entretien; «Zoë», étape 2, café"
    assert vevent["ORGANIZER"].params["CN"] == 'Zoë "the boss", Smith'


def test_an_in_person_interview_has_its_address_as_location() -> None:
    meeting = Meeting(MeetingType.IN_PERSON, address="1 Canal Street, Manchester")
    context = _context(START, START + timedelta(hours=1), meeting=meeting)
    event = build_event(
        "invitation",
        interview_id=INTERVIEW_ID,
        sequence=1,
        title="Onsite",
        start=START,
        end=START + timedelta(hours=1),
        time_zone="Europe/London",
        organizer=ORGANIZER,
        attendees=(CANDIDATE,),
        context=context,
        stamp=STAMP,
    )
    _, vevent = _calendar(to_ics(event))
    assert vevent["LOCATION"] == "1 Canal Street, Manchester"
    assert "URL" not in vevent


# -- the candidate's local time ------------------------------------------------------------


def test_when_is_in_the_candidates_zone_across_dst() -> None:
    # Berlin moves to summer time on 29 March 2026.
    saturday = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    monday = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert (
        format_when(saturday, saturday + hour, "Europe/Berlin")
        == "Saturday 28 March 2026, 10:00–11:00 (Europe/Berlin)"
    )
    assert (
        format_when(monday, monday + hour, "Europe/Berlin")
        == "Monday 30 March 2026, 11:00–12:00 (Europe/Berlin)"
    )
    december = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert (
        format_when(december, december + hour, "Europe/Berlin")
        == "Tuesday 1 December 2026, 15:00–16:00 (Europe/Berlin)"
    )


def test_when_names_both_days_past_midnight() -> None:
    start = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
    assert (
        format_when(start, start + timedelta(hours=1), "Europe/Berlin")
        == "Tuesday 1 December 2026, 23:30 – Wednesday 2 December 2026, 00:30 (Europe/Berlin)"
    )


def test_context_is_in_the_candidates_zone_not_the_interviews() -> None:
    start = datetime(2026, 7, 1, 13, 0, tzinfo=UTC)
    context = _context(start, start + timedelta(minutes=45), zone="America/New_York")
    assert (context.date, context.start_time, context.end_time) == (
        "Wednesday 1 July 2026",
        "09:00",
        "09:45",
    )
    assert context.joining_lines == (
        "Join: https://meet.example.com/abc-defg",
        "Meeting ID: 812 3456",
        "Passcode: tulip",
    )


# -- templates -----------------------------------------------------------------------------


def test_default_templates_render_and_pass_their_own_check() -> None:
    for name in TEMPLATE_NAMES:
        check_template(name, default_source(name))
    bodies = render("invitation", _context(START, START + timedelta(hours=1)))
    assert "Tuesday 1 December 2026, 15:00–16:00 (Europe/Berlin)" in bodies.text
    assert "Passcode: tulip" in bodies.text
    assert '<a href="https://meet.example.com/abc-defg">' in bodies.html
    assert "replaces" not in bodies.text
    update = render("update", _context(START, START + timedelta(hours=1)))
    assert "replaces the one you received before" in update.text
    cancelled = render("cancellation", _context(START, START + timedelta(hours=1)))
    assert "cancelled" in cancelled.text and "cancelled" in cancelled.html


def test_an_organizations_override_is_used_and_the_other_default_kept() -> None:
    override = "Dear {{ candidate_name }}, see you {{ date }} at {{ start_time }}.\n"
    bodies = render(
        "invitation", _context(START, START + timedelta(hours=1)), {"invitation.txt": override}
    )
    assert bodies.text == "Dear Ada Lovelace, see you Tuesday 1 December 2026 at 15:00.\n"
    assert "<!DOCTYPE html>" in bodies.html  # the default HTML


def test_a_template_that_does_not_compile_is_refused_with_its_line() -> None:
    broken = "Hello {{ candidate_name }},\n\n{% if message %}\n{{ message }\n{% endif %}\n"
    with pytest.raises(TemplateError) as caught:
        check_template("invitation.txt", broken)
    assert caught.value.line == 4
    assert str(caught.value).startswith("invitation.txt, line 4:")
    with pytest.raises(TemplateError, match="line 4"):
        render("invitation", _context(START, START), {"invitation.txt": broken})


def test_an_unknown_variable_is_refused_with_its_line_and_the_known_ones() -> None:
    source = "<p>Hello {{ candidate_name }}</p>\n<p>{{ title }}</p>\n<p>{{ notes_for_interviewers }}</p>\n"
    with pytest.raises(TemplateError) as caught:
        check_template("invitation.html", source)
    assert caught.value.line == 3
    assert "notes_for_interviewers" in str(caught.value)
    assert "candidate_name" in str(caught.value)  # says what may be used


def test_an_unknown_attribute_is_refused_when_rendered_with_its_line() -> None:
    source = "Hello {{ candidate_name }},\n{{ title.secret }}\n"
    with pytest.raises(TemplateError) as caught:
        check_template("invitation.txt", source)
    assert caught.value.line == 2


def test_the_sandbox_refuses_reaching_into_python() -> None:
    source = "{{ candidate_name.__class__.__mro__[1].__subclasses__() }}\n"
    with pytest.raises(TemplateError, match="line 1"):
        check_template("invitation.txt", source)
    with pytest.raises(TemplateError):
        check_template("invitation.txt", "{{ joining_lines.append('x') }}")


def test_an_override_for_a_template_we_do_not_use_is_refused() -> None:
    with pytest.raises(TemplateError, match="not a template hiresync uses"):
        render("invitation", _context(START, START), {"welcome.txt": "hi"})


def test_html_is_escaped_and_text_is_not() -> None:
    context = _context(
        START,
        START + timedelta(hours=1),
        candidate_name="<script>alert(1)</script> & Co",
        message='Bring "ID" <b>now</b>\nsecond line',
    )
    bodies = render("invitation", context)
    assert "<script>" not in bodies.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in bodies.html
    assert "&lt;b&gt;now&lt;/b&gt;<br>second line" in bodies.html
    assert "<script>alert(1)</script> & Co" in bodies.text
    overridden = render("invitation", context, {"invitation.html": "<p>{{ candidate_name }}</p>"})
    assert overridden.html == "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</p>"


def test_notes_for_interviewers_cannot_enter_the_context() -> None:
    assert "notes_for_interviewers" not in VARIABLES
    assert not any("note" in field for field in InvitationContext.__dataclass_fields__)
    with pytest.raises(TypeError):
        _context(START, START, notes_for_interviewers=NOTES)


# -- the message ---------------------------------------------------------------------------


def _compose(kind: Kind, sequence: int, **kw: object) -> EmailMessage:
    start = AFTER_DST if kind != "invitation" else BEFORE_DST
    end = start + timedelta(hours=1)
    return compose(
        kind,
        _event(kind, start, end, sequence=sequence),
        _context(start, end),
        sender=SENDER,
        recipient=CANDIDATE,
        **kw,  # type: ignore[arg-type]
    )


def _parts(message: EmailMessage) -> dict[str, EmailMessage]:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    return {part.get_content_type(): part for part in parsed.walk()}  # type: ignore[misc]


def test_message_has_the_shape_mail_clients_expect() -> None:
    message = _compose("invitation", 1)
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)

    assert parsed.get_content_type() == "multipart/mixed"
    alternative, attachment = parsed.iter_parts()  # type: ignore[attr-defined]
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar_part = list(alternative.iter_parts())[2]
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_content_charset() == "utf-8"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == calendar_part.get_content().encode()
    assert parsed["To"] == "Ada Lovelace <ada@candidate.example>"
    assert parsed["From"] == "Acme Interviews <no-reply@acme.example>"


@pytest.mark.parametrize(
    ("kind", "prefix", "method"),
    [
        ("invitation", "Invitation: ", "REQUEST"),
        ("update", "Updated invitation: ", "REQUEST"),
        ("cancellation", "Cancelled: ", "CANCEL"),
    ],
)
def test_subject_and_method_follow_the_kind(kind: Kind, prefix: str, method: str) -> None:
    parts = _parts(_compose(kind, 2))
    parsed = email.message_from_bytes(_compose(kind, 2).as_bytes(), policy=email.policy.default)
    assert parsed["Subject"].startswith(prefix + "Backend engineer: technical interview @ ")
    assert parts["text/calendar"].get_param("method") == method
    calendar, vevent = _calendar(parts["text/calendar"].get_content().encode())
    assert calendar["METHOD"] == method
    assert vevent["UID"] == uid_for(INTERVIEW_ID)


def test_message_id_is_the_same_for_a_retry_and_new_for_a_new_version() -> None:
    first, retry = _compose("invitation", 1), _compose("invitation", 1)
    update = _compose("update", 2)
    assert first["Message-ID"] == retry["Message-ID"]
    assert first["Message-ID"] != update["Message-ID"]
    assert first["Message-ID"].endswith("@acme.example>")
    assert first["Date"] == "Sun, 01 Mar 2026 09:00:00 +0000"


def test_a_kind_and_method_that_disagree_are_refused() -> None:
    event = _event("invitation", START, START + timedelta(hours=1), sequence=1)
    with pytest.raises(ValueError, match="CANCEL"):
        compose(
            "cancellation",
            event,
            _context(START, START),
            sender=SENDER,
            recipient=CANDIDATE,
        )


def test_no_interviewer_notes_anywhere_in_the_message() -> None:
    # No door for them: no parameter of the composing functions takes notes...
    for function in (context_for, build_event, compose, render):
        assert not [p for p in inspect.signature(function).parameters if "note" in p]
    # ...and nothing in any message mentions them.
    for kind, sequence in (("invitation", 1), ("update", 2), ("cancellation", 3)):
        raw = _compose(kind, sequence).as_bytes()  # type: ignore[arg-type]
        assert b"SECRET-NOTES" not in raw
        for part in _parts(_compose(kind, sequence)).values():  # type: ignore[arg-type]
            if not part.is_multipart():
                assert "SECRET-NOTES" not in str(part.get_content())


def test_reply_to_is_set_when_given() -> None:
    message = _compose("invitation", 1, reply_to=ORGANIZER)
    assert message["Reply-To"] == "Acme Recruiting <interviews@acme.example>"


def test_a_title_with_line_breaks_makes_a_one_line_subject() -> None:
    context = _context(START, START + timedelta(hours=1), title="Final\r\ninterview")
    event = _event("invitation", START, START + timedelta(hours=1), sequence=1)
    message = compose("invitation", event, context, sender=SENDER, recipient=CANDIDATE)
    assert message["Subject"].startswith("Invitation: Final interview @ Tuesday")
