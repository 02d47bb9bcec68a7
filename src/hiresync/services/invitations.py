"""Candidate invitations by e-mail: the bodies, from templates an organization may edit,
and the message that carries the iCalendar invitation.

This is for calendars that cannot invite the candidate themselves (and for
organizations that prefer to). Everything here is pure: values in, an
``email.message.EmailMessage`` out; the job that sends it (and the outbox row that
promises it) are the caller's.

Templates are Jinja2, run in an *immutable sandbox*, because organizations edit them:
an edited template may read the variables listed in ``VARIABLES`` and nothing else (no
attribute games, no mutation), HTML is autoescaped, and a template that does not compile
or that uses a variable we do not provide is refused with a ``TemplateError`` naming
the template and the line, when it is saved (``check_template``) as well as when it is
used. The sandbox is also bounded (``services.template_sandbox``): a template that would
build too big a value, loop or call too often, write too much or take too long is a
``TemplateError`` too, so it is refused when saved (the check renders it) and, should
it cross a bound only on a real interview's values, the e-mail goes out in the default
templates instead (``services.candidate_mail``). Notes for interviewers are not a field
of ``InvitationContext`` at all: no template, default or edited, can put them in a
candidate's mailbox.

The message has the shape Google Calendar and Outlook send and expect::

    multipart/mixed
      multipart/alternative
        text/plain
        text/html
        text/calendar; method=REQUEST|CANCEL; charset=utf-8
      application/ics; name=invite.ics   (attachment, for clients that ignore the above)

Dates are written in English with tables of our own (``%A``/``%B`` follow the process
locale, and no locale library is a dependency).
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import lru_cache
from importlib import resources
from typing import Any, Literal
from urllib.parse import urlsplit

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2 import Template as JinjaTemplate

from hiresync.domain.interviews import Meeting
from hiresync.providers.email.ical import (
    InvitationEvent,
    Method,
    Person,
    to_ics,
    uid_for,
    zone_info,
)
from hiresync.services import template_sandbox

Kind = Literal["invitation", "update", "cancellation"]
KINDS: tuple[Kind, ...] = ("invitation", "update", "cancellation")
TEMPLATE_NAMES = ("invitation.txt", "invitation.html", "cancellation.txt", "cancellation.html")
# 7bit: non-ASCII bodies are quoted-printable or base64, so any SMTP relay takes them.
POLICY = SMTP.clone(cte_type="7bit")

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class TemplateError(ValueError):
    """A template that cannot be used, with where and why, to show the person editing it."""

    def __init__(self, name: str, problem: str, line: int | None = None) -> None:
        self.name, self.problem, self.line = name, problem, line
        where = f"{name}, line {line}" if line else name
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class InvitationContext:
    """What a candidate's e-mail may say. Every field is a template variable.

    There is deliberately no field for notes for interviewers.
    """

    candidate_name: str
    title: str
    organizer_name: str
    when: str  # "Tuesday 1 December 2026, 15:00–16:00 (Europe/Berlin)"
    date: str  # "Tuesday 1 December 2026"
    start_time: str  # "15:00", in time_zone
    end_time: str
    time_zone: str  # the candidate's
    joining_lines: tuple[str, ...] = ()
    meeting_url: str | None = None  # http(s) only: the HTML template links it
    meeting_id: str | None = None
    passcode: str | None = None
    phone: str | None = None
    address: str | None = None
    location: str | None = None
    message: str | None = None
    message_lines: tuple[str, ...] = ()


# The variables a template may use: the context's fields, and whether it is an update.
VARIABLES = frozenset([*InvitationContext.__dataclass_fields__, "updated"])


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    html: str


# -- dates ---------------------------------------------------------------------------------


def format_day(moment: datetime) -> str:
    """'Tuesday 1 December 2026'."""
    return f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def format_when(start: datetime, end: datetime, time_zone: str) -> str:
    """The interview's time as the candidate reads it, in their zone:
    'Tuesday 1 December 2026, 15:00–16:00 (Europe/Berlin)', or with both days when it
    runs past midnight there."""
    zone = zone_info(time_zone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.date() == local_end.date():
        span = f"{format_day(local_start)}, {local_start:%H:%M}–{local_end:%H:%M}"
    else:
        span = (
            f"{format_day(local_start)}, {local_start:%H:%M} – "
            f"{format_day(local_end)}, {local_end:%H:%M}"
        )
    return f"{span} ({time_zone})"


# -- context -------------------------------------------------------------------------------


def _web_url(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def context_for(
    *,
    candidate_name: str,
    candidate_time_zone: str,
    title: str,
    start: datetime,
    end: datetime,
    organizer_name: str,
    meeting: Meeting | None = None,
    location: str | None = None,
    message: str | None = None,
) -> InvitationContext:
    """The context of a candidate's e-mail, with times in the candidate's zone."""
    zone = zone_info(candidate_time_zone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    message = (message or "").strip() or None
    return InvitationContext(
        candidate_name=candidate_name,
        title=title,
        organizer_name=organizer_name,
        when=format_when(start, end, candidate_time_zone),
        date=format_day(local_start),
        start_time=f"{local_start:%H:%M}",
        end_time=f"{local_end:%H:%M}",
        time_zone=candidate_time_zone,
        joining_lines=tuple(meeting.joining_lines()) if meeting else (),
        meeting_url=_web_url(meeting.url) if meeting else None,
        meeting_id=meeting.meeting_id if meeting else None,
        passcode=meeting.passcode if meeting else None,
        phone=meeting.phone if meeting else None,
        address=meeting.address if meeting else None,
        location=location,
        message=message,
        message_lines=tuple(message.splitlines()) if message else (),
    )


def event_description(context: InvitationContext) -> str:
    """The plain-text DESCRIPTION of the calendar event: the message, then how to join."""
    parts = [context.message] if context.message else []
    if context.joining_lines:
        parts.append("\n".join(context.joining_lines))
    return "\n\n".join(parts)


# -- templates -----------------------------------------------------------------------------


def _environment(html: bool) -> template_sandbox.BoundedSandbox:
    return template_sandbox.BoundedSandbox(
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


_ENVIRONMENTS = {False: _environment(html=False), True: _environment(html=True)}


def default_source(name: str) -> str:
    """The source of a default template, as shipped in ``providers/email/templates``."""
    if name not in TEMPLATE_NAMES:
        raise TemplateError(name, f"not a template hiresync uses ({', '.join(TEMPLATE_NAMES)}).")
    folder = resources.files("hiresync.providers.email").joinpath("templates")
    return folder.joinpath(name).read_text(encoding="utf-8")


def _unknown_variable(name: str, tree: nodes.Template, known: set[str]) -> None:
    unknown = sorted(meta.find_undeclared_variables(tree) - known)
    if not unknown:
        return
    first = next(
        (n for n in tree.find_all(nodes.Name) if n.name in unknown and n.ctx == "load"), None
    )
    raise TemplateError(
        name,
        f"unknown variable {', '.join(repr(u) for u in unknown)}; "
        f"a template may use: {', '.join(sorted(VARIABLES))}.",
        first.lineno if first else None,
    )


@lru_cache(maxsize=256)
def compile_template(name: str, source: str) -> JinjaTemplate:
    """``source`` compiled for ``name`` (HTML autoescaped if it ends in .html), checked to
    use only the variables in ``VARIABLES``."""
    if name not in TEMPLATE_NAMES:
        raise TemplateError(name, f"not a template hiresync uses ({', '.join(TEMPLATE_NAMES)}).")
    env = _ENVIRONMENTS[name.endswith(".html")]
    try:
        tree = env.parse(source, name=name, filename=name)
        _unknown_variable(name, tree, set(VARIABLES) | set(env.globals))
        code = env.compile(tree, name=name, filename=name)
    except TemplateSyntaxError as exc:
        raise TemplateError(name, exc.message or "syntax error", exc.lineno) from exc
    except TemplateError:
        raise
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number; 5,000 nested "("
        raise TemplateError(name, f"cannot be compiled: {exc}") from exc
    return env.template_class.from_code(env, code, env.make_globals(None))


def _template_line(name: str, exc: BaseException) -> int | None:
    """The template line an error was raised at (Jinja rewrites tracebacks to point there)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == name]
    return frames[-1].lineno if frames else None


def render_template(name: str, source: str, variables: Mapping[str, Any]) -> str:
    """One template rendered within the bounds of ``services.template_sandbox``, any
    failure (a bound crossed included) as a ``TemplateError`` with its line."""
    template = compile_template(name, source)
    try:
        return template_sandbox.render(template, variables)
    except Exception as exc:  # a sandbox refusal, undefined attribute, bad filter call...
        raise TemplateError(name, str(exc), _template_line(name, exc)) from exc


def _variables(kind: Kind, context: InvitationContext) -> dict[str, Any]:
    if not isinstance(context, InvitationContext):
        raise TypeError("context must be an InvitationContext (built with context_for).")
    return {**asdict(context), "updated": kind == "update"}


def render(
    kind: Kind, context: InvitationContext, overrides: Mapping[str, str] | None = None
) -> Rendered:
    """The plain-text and HTML bodies of a ``kind`` e-mail; ``overrides`` maps template
    names to an organization's edited sources, which replace the defaults."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}.")
    overrides = overrides or {}
    for name in overrides:
        if name not in TEMPLATE_NAMES:
            raise TemplateError(
                name, f"not a template hiresync uses ({', '.join(TEMPLATE_NAMES)})."
            )
    base = "cancellation" if kind == "cancellation" else "invitation"
    variables = _variables(kind, context)
    text, html = (
        render_template(name, overrides.get(name) or default_source(name), variables)
        for name in (f"{base}.txt", f"{base}.html")
    )
    return Rendered(text=text, html=html)


SAMPLE_CONTEXT = InvitationContext(
    candidate_name="Ada Lovelace",
    title="Backend engineer: technical interview",
    organizer_name="Grace Hopper",
    when="Tuesday 1 December 2026, 15:00–16:00 (Europe/Berlin)",
    date="Tuesday 1 December 2026",
    start_time="15:00",
    end_time="16:00",
    time_zone="Europe/Berlin",
    joining_lines=("Join: https://meet.example.com/abc", "Meeting ID: 123", "Passcode: 456"),
    meeting_url="https://meet.example.com/abc",
    meeting_id="123",
    passcode="456",
    location="Office, 2nd floor",
    message="Please bring your laptop.\nWe look forward to meeting you.",
    message_lines=("Please bring your laptop.", "We look forward to meeting you."),
)


def check_template(name: str, source: str) -> None:
    """Refuse, with a ``TemplateError``, an edited template that would fail when used:
    compiled, checked for unknown variables, and rendered with a sample context (both
    with and without the optional parts)."""
    sparse = InvitationContext(**{**asdict(SAMPLE_CONTEXT), **_EMPTY_OPTIONALS})
    for context in (SAMPLE_CONTEXT, sparse):
        for updated in (False, True):
            render_template(name, source, {**asdict(context), "updated": updated})


_EMPTY_OPTIONALS: dict[str, Any] = {
    "joining_lines": (),
    "meeting_url": None,
    "meeting_id": None,
    "passcode": None,
    "phone": None,
    "address": None,
    "location": None,
    "message": None,
    "message_lines": (),
}


# -- the message ---------------------------------------------------------------------------

_SUBJECT_PREFIX: dict[Kind, str] = {
    "invitation": "Invitation",
    "update": "Updated invitation",
    "cancellation": "Cancelled",
}


def subject(kind: Kind, context: InvitationContext) -> str:
    """'Invitation: <title> @ <when>', on one line whatever the title holds."""
    return " ".join(f"{_SUBJECT_PREFIX[kind]}: {context.title} @ {context.when}".split())


def _method_for(kind: Kind) -> Method:
    return Method.CANCEL if kind == "cancellation" else Method.REQUEST


def message_id(event: InvitationEvent, recipient: Person, sender: Person) -> str:
    """The same Message-ID for every attempt at sending this version of the invitation to
    this person, so a retried send can be recognised as the same message."""
    key = f"{event.uid}|{event.sequence}|{event.method}|{recipient.email.lower()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = sender.email.rpartition("@")[2] or "hiresync.invalid"
    return f"<{digest}@{domain}>"


def _address(person: Person) -> Address:
    return Address(display_name=person.name or "", addr_spec=person.email)


def build_event(
    kind: Kind,
    *,
    interview_id: object,
    sequence: int,
    title: str,
    start: datetime,
    end: datetime,
    time_zone: str,
    organizer: Person,
    attendees: tuple[Person, ...],
    context: InvitationContext,
    location: str | None = None,
    stamp: datetime | None = None,
) -> InvitationEvent:
    """The calendar part of a ``kind`` e-mail: same UID for every version of the
    interview, its sequence, the description from the context (so never the notes)."""
    return InvitationEvent(
        uid=uid_for(interview_id),
        sequence=sequence,
        method=_method_for(kind),
        summary=title,
        start=start,
        end=end,
        time_zone=time_zone,
        organizer=organizer,
        attendees=attendees,
        description=event_description(context) or None,
        location=location or context.address,
        url=context.meeting_url,
        stamp=stamp,
    )


def _headers(
    message: EmailMessage,
    event: InvitationEvent,
    *,
    title: str,
    sender: Person,
    recipient: Person,
    reply_to: Person | None,
    date: datetime,
) -> None:
    message["From"] = _address(sender)
    message["To"] = _address(recipient)
    if reply_to:
        message["Reply-To"] = _address(reply_to)
    message["Subject"] = title
    message["Date"] = format_datetime(date.astimezone(UTC))
    message["Message-ID"] = message_id(event, recipient, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us


def compose(
    kind: Kind,
    event: InvitationEvent,
    context: InvitationContext,
    *,
    sender: Person,
    recipient: Person,
    overrides: Mapping[str, str] | None = None,
    reply_to: Person | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The e-mail that invites ``recipient`` (or cancels their invitation)."""
    method = _method_for(kind)
    if event.method is not method:
        raise ValueError(f"A {kind} carries METHOD:{method}, not {event.method}.")
    bodies = render(kind, context, overrides)
    ics = to_ics(event)
    message = EmailMessage(policy=POLICY)
    _headers(
        message,
        event,
        title=subject(kind, context),
        sender=sender,
        recipient=recipient,
        reply_to=reply_to,
        date=date or event.stamp or datetime.now(UTC),
    )
    message.set_content(bodies.text)
    message.add_alternative(bodies.html, subtype="html")
    message.add_alternative(ics.decode("utf-8"), subtype="calendar", params={"method": method})
    message.add_attachment(
        ics,
        maintype="application",
        subtype="ics",
        filename="invite.ics",
        params={"name": "invite.ics"},
    )
    return message
