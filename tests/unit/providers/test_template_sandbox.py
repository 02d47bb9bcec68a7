"""The bounds on rendering organization-edited templates (``services.template_sandbox``),
seen where they matter: ``invitations.check_template`` refuses, when it is saved, a
template that would hang or exhaust the worker, quickly and with the bound it crossed;
one that crosses a bound only on a real interview's values falls back to the default
when the e-mail is sent; and real templates with the longest real values are untouched.
(The other invitation tests are in ``test_email_ical.py``.)"""

from __future__ import annotations

import email
import email.policy
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from hiresync.domain.interviews import Meeting, MeetingType
from hiresync.providers.email.ical import Person
from hiresync.services import email_templates, template_sandbox
from hiresync.services.candidate_mail import _with_templates
from hiresync.services.invitations import (
    TemplateError,
    build_event,
    check_template,
    context_for,
    render,
)

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
SENDER = Person("no-reply@acme.example", "Acme Interviews")
CANDIDATE = Person("casey@candidate.example", "Casey Candidate")  # 15 letters
FAST = 1.0  # seconds: a refusal must come at once, not after the damage


@contextmanager
def _fast() -> Iterator[None]:
    started = time.perf_counter()
    yield
    assert time.perf_counter() - started < FAST


def _context(**kw: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "candidate_name": CANDIDATE.name,
        "candidate_time_zone": "Europe/Berlin",
        "title": "Backend engineer: technical interview",
        "start": START,
        "end": START + timedelta(hours=1),
        "organizer_name": "Acme Recruiting",
        "meeting": Meeting(MeetingType.CUSTOM_LINK, url="https://meet.example.com/abc"),
        "message": "Please bring your laptop.",
    }
    return context_for(**{**values, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "bound"),
    [
        pytest.param('{{ "x" * 10**9 }}', "more than 100,000 characters or items", id="x-1e9"),
        pytest.param(
            "{% for a in range(100000) %}{% for b in range(100000) %}.{% endfor %}{% endfor %}",
            "loops and calls run more than 50,000 times",
            id="nested-ranges",
        ),
        pytest.param("{{ 9 ** (9 ** 9) }}", "a number of more than 4,096 bits", id="power"),
        pytest.param(
            '{% for i in range(50000) %}{{ "x" * 100 }}{% endfor %}',
            "produces more than 200,000 characters",
            id="long-output",
        ),
        pytest.param(
            '{% set ns = namespace(s="x") %}{% for i in range(40) %}'
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "more than 100,000 characters or items",
            id="doubling-in-a-loop",
        ),
        pytest.param(
            "{% set s %}{% for i in range(20000) %}" + "y" * 1000 + "{% endfor %}{% endset %}",
            "builds more than 10,000,000 characters",
            id="set-block",
        ),
        pytest.param('{{ "x"|center(10**9) }}', "'center' could make more", id="center"),
        pytest.param('{{ "x".ljust(10**9) }}', "ljust could make more", id="ljust"),
        pytest.param('{{ "{:>999999999}".format(1) }}', "Formatting could make", id="format"),
        pytest.param('{{ "%999999999d" % 1 }}', "Formatting with % could make", id="printf"),
        pytest.param(
            '{% set a = "x" * 10000 %}{{ a|replace("x", a) }}',
            "'replace' could make more than 10,000,000 characters; it is not run",
            id="replace",
        ),
        pytest.param(
            "{{ range(100)|batch(1)|sum(start=[]) }}", "'sum' adds numbers only", id="sum"
        ),
    ],
)
def test_a_template_that_would_hang_or_exhaust_the_worker_is_refused_at_once(
    source: str, bound: str
) -> None:
    with _fast(), pytest.raises(TemplateError) as caught:
        check_template("invitation.txt", source)
    assert bound in str(caught.value)
    assert str(caught.value).startswith("invitation.txt, line 1: ")


def test_the_refusal_names_the_line_and_is_refused_when_saved() -> None:
    source = "Hello {{ candidate_name }},\n\n{{ title * 100000 }}\n"
    with _fast(), pytest.raises(email_templates.TemplateRefused) as caught:
        email_templates.check("invitation.txt", source)
    assert caught.value.line == 3
    assert "more than 100,000 characters" in str(caught.value)


def test_a_macro_that_calls_itself_twice_runs_out_of_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 2**40 calls; a lower bound keeps the test quick wherever it runs.
    monkeypatch.setattr(template_sandbox, "MAX_STEPS", 2_000)
    source = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    )
    with _fast(), pytest.raises(TemplateError, match="run more than 2,000 times"):
        check_template("invitation.txt", source)


def test_rendering_stops_at_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # The backstop for work the counts do not see (comparing long strings in a loop).
    monkeypatch.setattr(template_sandbox, "MAX_SECONDS", 0)
    with _fast(), pytest.raises(TemplateError, match="takes more than 0 s to render"):
        check_template("invitation.txt", "{% for i in range(3) %}{{ i }}{% endfor %}")


def test_the_bounds_leave_room_for_the_longest_real_values() -> None:
    message = "\n".join(f"Point {n}: bring what you need." for n in range(300))
    assert 9_000 < len(message) <= 10_000  # the longest message an interview keeps
    context = _context(title="T" * 300, location="L" * 500, message=message)
    edited = (
        "<p>{{ '%s, welcome to %s' % (candidate_name, title) }}</p>\n"
        "{% for line in message_lines %}{{ loop.index }}. {{ line|upper }}"
        "{% if not loop.last %}<br>{% endif %}\n{% endfor %}"
        "<p>{{ '{} at {}'.format(date, start_time) }} {{ joining_lines|join(' / ') }}</p>\n"
    )
    with _fast():
        defaults = render("invitation", context)
        bodies = render("invitation", context, {"invitation.html": edited})
    assert "Point 299: bring what you need." in defaults.text
    assert "300. POINT 299: BRING WHAT YOU NEED." in bodies.html
    assert bodies.html.startswith("<p>Casey Candidate, welcome to TTT")


def test_a_template_over_a_bound_only_on_real_values_falls_back_to_the_default() -> None:
    # The sample candidate's name has 12 letters (96,000 x's); Casey's 15 make 120,000.
    grows = 'Dear {{ candidate_name }}: {{ "x" * (candidate_name|length * 8000) }}\n'
    check_template("invitation.txt", grows)
    context = _context()
    with _fast(), pytest.raises(TemplateError, match="more than 100,000 characters"):
        render("invitation", context, {"invitation.txt": grows})
    event = build_event(
        "invitation",
        interview_id=uuid.uuid4(),
        sequence=1,
        title="Backend engineer: technical interview",
        start=START,
        end=START + timedelta(hours=1),
        time_zone="Europe/London",
        organizer=SENDER,
        attendees=(CANDIDATE,),
        context=context,
    )
    row = SimpleNamespace(kind="invitation", id=uuid.uuid4())
    edited = {"invitation.txt": grows}
    message = _with_templates(row, event, context, SENDER, CANDIDATE, edited)  # type: ignore[arg-type]
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Hello Casey Candidate,"), "the default, not the edited one"
