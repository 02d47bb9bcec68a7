"""The candidate e-mail templates through the API: listed with their defaults, saved,
previewed, reset; a broken one refused with its line and nothing saved; each
organization sees only its own; and a saved template is what the candidate receives
(the issue: bodies are "rendered from editable templates")."""

from __future__ import annotations

import secrets
from datetime import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from hiresync.sandbox.microsoft.model import WorkingHours
from hiresync.sandbox.microsoft.seed import CONTOSO_ID
from hiresync.services.invitations import TEMPLATE_NAMES
from tests.integration.browser import IT_ADMIN, Browser, connect_as, job_report, wait_for
from tests.integration.test_interviews_api import body, slot

NAMES = list(TEMPLATE_NAMES)
OURS_TXT = """Dear {{ candidate_name }},

{% if updated %}
We moved your interview.
{% else %}
Welcome to Acme's hiring process!
{% endif %}
{{ title }}: {{ when }}
{% for line in joining_lines %}
{{ line }}
{% endfor %}
"""
OURS_HTML = "<p>Dear {{ candidate_name }}, welcome to <b>Acme</b>: {{ title }}</p>\n"


@pytest.fixture(scope="module")
def team(stack: Any, make_org_module: Any) -> Any:
    """An organization connected to the sandbox's Contoso, with an organizer and two
    interviewers who have mailboxes there, so that interviews can really be sent."""
    tag = secrets.token_hex(3)
    people = {}
    for name in ("olga", "ivan", "ines"):
        people[name] = f"{name}.{tag}@contoso.com"
        stack.sandbox.add_user(
            CONTOSO_ID,
            display_name=f"{name.title()} {tag}",
            mail=people[name],
            time_zone="Europe/London",
            working_hours=WorkingHours(start=time(9), end=time(17)),
        )
    org = make_org_module([(n.title(), m) for n, m in people.items()])
    browser = Browser(stack.url)
    try:
        connect_as(browser, org, IT_ADMIN)
    finally:
        browser.close()
    matched = lambda: len(org.api.get("/v1/directory/matches").json()["matched"]) >= 3  # noqa: E731
    assert wait_for(matched), job_report(stack.database_uri)
    org.people = people
    return org


def templates(org: Any) -> dict[str, dict[str, Any]]:
    answer = org.api.get("/v1/email-templates")
    assert answer.status_code == 200, answer.text
    return {t["name"]: t for t in answer.json()}


def test_every_template_is_listed_as_hiresyncs_default(make_org: Any) -> None:
    org = make_org()
    answer = org.api.get("/v1/email-templates")
    assert [t["name"] for t in answer.json()] == NAMES
    for t in answer.json():
        assert t["customized"] is False and t["updated_by"] is None
        assert t["source"] == t["default"] and "{{ candidate_name }}" in t["default"]
        assert t["media_type"] == ("text/html" if t["name"].endswith(".html") else "text/plain")


def test_a_saved_template_is_used_previewed_and_reset_to_the_default(make_org: Any) -> None:
    org = make_org()
    saved = org.api.put("/v1/email-templates/invitation.txt", json={"source": OURS_TXT})
    assert saved.status_code == 200, saved.text
    assert saved.json()["customized"] is True and saved.json()["updated_by"] == "api"
    assert saved.json()["source"] == OURS_TXT and saved.json()["updated_at"]
    listed = templates(org)
    assert listed["invitation.txt"]["source"] == OURS_TXT
    assert [n for n, t in listed.items() if t["customized"]] == ["invitation.txt"]

    preview = org.api.post("/v1/email-templates/invitation.txt/preview", json={})
    assert preview.status_code == 200, preview.text
    assert preview.json()["media_type"] == "text/plain"
    rendered = preview.json()["rendered"]
    assert rendered.startswith("Dear Ada Lovelace,\n\nWelcome to Acme's hiring process!\n")
    assert "Join: https://meet.example.com/abc" in rendered
    update = org.api.post("/v1/email-templates/invitation.txt/preview", json={"updated": True})
    assert "We moved your interview." in update.json()["rendered"]

    reset = org.api.delete("/v1/email-templates/invitation.txt")
    assert reset.status_code == 200, reset.text
    assert reset.json()["customized"] is False
    assert reset.json()["source"] == reset.json()["default"]
    assert not any(t["customized"] for t in templates(org).values())
    again = org.api.delete("/v1/email-templates/invitation.txt")
    assert again.status_code == 200 and again.json()["customized"] is False


def test_an_unsaved_source_is_previewed_escaped_and_not_saved(make_org: Any) -> None:
    org = make_org()
    source = "<p>{{ candidate_name }} · {{ message }}</p>\n{% if updated %}<p>Moved</p>{% endif %}"
    preview = org.api.post("/v1/email-templates/cancellation.html/preview", json={"source": source})
    assert preview.status_code == 200, preview.text
    assert preview.json()["media_type"] == "text/html"
    assert preview.json()["rendered"].startswith("<p>Ada Lovelace · Please bring your laptop.")
    assert not templates(org)["cancellation.html"]["customized"]

    script = org.api.post(
        "/v1/email-templates/invitation.html/preview",
        json={"source": "<p>{{ title }}</p>", "updated": False},
    )
    assert script.json()["rendered"] == "<p>Backend engineer: technical interview</p>"


@pytest.mark.parametrize(
    ("source", "line", "problem"),
    [
        ("Hello {{ candidate_name }}\n\n{% if location %}\nWhere: {{ location }}\n", 4, "endif"),
        ("Hello\n{{ notes_for_interviewers }}\n", 2, "unknown variable 'notes_for_interviewers'"),
        ("Hello\n\n{{ joining_lines.append('x') }}\n", 3, "has no attribute 'append'"),
        ("Hello\n{{ message.upper() }}\n", 2, "has no attribute 'upper'"),
        ("Hello {{ title | shout }}", 1, "No filter named 'shout'"),
        ("{{ candidate_name }\n", 1, "unexpected '}'"),
        ("  \n", None, "empty"),
        ("Hello \x00", None, "NUL"),
    ],
)
def test_a_broken_template_is_refused_with_its_line_and_nothing_is_saved(
    make_org: Any, source: str, line: int | None, problem: str
) -> None:
    org = make_org()
    assert org.api.put("/v1/email-templates/invitation.txt", json={"source": OURS_TXT}).is_success
    for answer in (
        org.api.put("/v1/email-templates/invitation.txt", json={"source": source}),
        org.api.post("/v1/email-templates/invitation.txt/preview", json={"source": source}),
    ):
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid_input" and error["field"] == "source"
        assert problem in error["message"]
        assert error.get("line") == line
        if line:
            assert error["message"].startswith(f"invitation.txt, line {line}: ")
    assert templates(org)["invitation.txt"]["source"] == OURS_TXT, "the good one is kept"


def test_a_template_too_long_to_be_an_email_is_refused(make_org: Any) -> None:
    org = make_org()
    answer = org.api.put("/v1/email-templates/invitation.txt", json={"source": "x" * 100_001})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "source"
    assert not templates(org)["invitation.txt"]["customized"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/email-templates/welcome.txt"),
        ("PUT", "/v1/email-templates/welcome.txt"),
        ("DELETE", "/v1/email-templates/invitation.txt.bak"),
        ("POST", "/v1/email-templates/Invitation.TXT/preview"),
    ],
)
def test_an_unknown_template_is_not_found_and_the_answer_names_the_real_ones(
    make_org: Any, method: str, path: str
) -> None:
    org = make_org()
    answer = org.api.request(method, path, json={"source": "Hello"})
    assert answer.status_code == 404, answer.text
    error = answer.json()["error"]
    assert error["code"] == "not_found"
    assert all(name in error["hint"] for name in NAMES)


def test_each_organization_sees_and_resets_only_its_own_templates(make_org: Any) -> None:
    ours, theirs = make_org(), make_org()
    assert ours.api.put(
        "/v1/email-templates/invitation.html", json={"source": OURS_HTML}
    ).is_success
    assert not templates(theirs)["invitation.html"]["customized"]
    assert (
        "Acme" not in theirs.api.post("/v1/email-templates/invitation.html/preview", json={}).text
    )
    assert theirs.api.delete("/v1/email-templates/invitation.html").is_success
    assert templates(ours)["invitation.html"]["source"] == OURS_HTML


def test_templates_need_an_api_key(stack: Any) -> None:
    import httpx

    answer = httpx.get(f"{stack.url}/v1/email-templates")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


def _received(drop: Any, address: str, count: int) -> list[EmailMessage]:
    def arrived() -> list[EmailMessage]:
        got = [
            message_from_bytes(raw, policy=policy.default)
            for _, to, raw in drop.messages
            if to == [address]
        ]
        return got if len(got) >= count else []

    found = wait_for(arrived, timeout=30)
    assert found, f"no e-mail to {address}"
    return found  # type: ignore[return-value]


def _bodies(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return (
        text.get_content().replace("\r\n", "\n"),
        html.get_content().replace("\r\n", "\n"),
    )


def test_the_candidate_receives_the_saved_templates_and_the_defaults_otherwise(
    team: Any, mail_drop: Any
) -> None:
    drop, _ = mail_drop
    address = f"casey.{secrets.token_hex(3)}@example.org"
    candidate = {"name": "Casey Candidate", "email": address}
    for name, source in (("invitation.txt", OURS_TXT), ("invitation.html", OURS_HTML)):
        assert team.api.put(f"/v1/email-templates/{name}", json={"source": source}).is_success
    assert team.api.patch(
        "/v1/interview-settings", json={"candidate_invitations": "email"}
    ).is_success
    try:
        start, end = slot(days=21)
        made = team.api.post(
            "/v1/interviews",
            json=body(team, candidate=candidate, start=start, end=end, confirm=True),
        )
        assert made.status_code == 201, made.text
        text, html = _bodies(_received(drop, address, 1)[0])
        assert text.startswith("Dear Casey Candidate,\n\nWelcome to Acme's hiring process!\n")
        assert "Technical interview: " in text and "https://meet.example.com/abc" in text
        assert html.startswith("<p>Dear Casey Candidate, welcome to <b>Acme</b>")
        assert "system design" not in text + html, "notes for interviewers stay internal"

        assert team.api.delete("/v1/email-templates/invitation.txt").is_success
        later, later_end = slot(days=21, hour=15)
        moved = team.api.post(
            f"/v1/interviews/{made.json()['id']}/reschedule",
            json={"start": later, "end": later_end},
        )
        assert moved.status_code == 200, moved.text
        text, html = _bodies(_received(drop, address, 2)[1])
        assert text.startswith("Hello Casey Candidate,\n\nYour interview has changed."), text
        assert "welcome to <b>Acme</b>" in html, "the edited HTML template is still used"

        # Passes the check (the sample candidate's name has 12 letters), fails for Casey's 15.
        fragile = "Cancelled. {{ 100 // (candidate_name | length - 15) }}\n"
        assert team.api.put(
            "/v1/email-templates/cancellation.txt", json={"source": fragile}
        ).is_success
        team.api.post(f"/v1/interviews/{made.json()['id']}/cancel", json={})
        text, _ = _bodies(_received(drop, address, 3)[2])
        assert text.startswith("Hello Casey Candidate,\n\nYour interview has been cancelled."), (
            "a template that fails on this interview falls back to the default"
        )
    finally:
        team.api.patch("/v1/interview-settings", json={"candidate_invitations": "calendar"})
        for name in ("invitation.txt", "invitation.html", "cancellation.txt"):
            team.api.delete(f"/v1/email-templates/{name}")
