"""Settings › E-mail templates in real Chromium: an admin edits the candidate invitation,
previews it (text, and HTML in a sandboxed frame its scripts cannot leave), saves it,
and resets it to the default; a broken template comes back with its line next to the
editor and nothing saved; someone who is not an admin can read and preview, not save,
even by a hand-made POST."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.test_calendar_sync_page import log_in
from tests.e2e.test_interview_pages import add_login, csrf

EDITED = """Dear {{ candidate_name }},

{{ organizer_name }} would love to meet you: {{ when }}.
"""
# The script comes first: by the time the name shows, it has run, if it can run at all.
SCRIPTED_HTML = (
    "<script>parent.document.title = 'changed by a template';</script>\n"
    "<p>Hello <b id='who'>{{ candidate_name }}</b></p>\n"
)


def customized(org: Any) -> dict[str, bool]:
    return {t["name"]: t["customized"] for t in org.api.get("/v1/email-templates").json()}


def open_templates(page: Page) -> None:
    page.get_by_role("link", name="Settings › E-mail templates").click()
    expect(page.get_by_role("heading", name="E-mail templates", exact=True)).to_be_visible()


def test_an_admin_previews_saves_and_resets_the_invitation(
    stack: Any, make_org: Any, page: Page
) -> None:
    org = make_org()
    log_in(page, stack.url, org)
    open_templates(page)
    expect(page.locator("#templates tbody tr")).to_have_count(4)
    expect(page.locator("#variables")).to_contain_text("candidate_name")
    expect(page.get_by_test_id("template-state")).to_contain_text("hiresync's default")
    default = org.api.get("/v1/email-templates/invitation.txt").json()["default"]
    editor = page.get_by_label("Template (plain text)")
    expect(editor).to_have_value(default)

    editor.fill(EDITED)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-text")).to_have_text(
        "Dear Ada Lovelace,\n\nGrace Hopper would love to meet you: "
        "Tuesday 1 December 2026, 15:00–16:00 (Europe/Berlin).\n"
    )
    expect(page.locator("#unsaved")).to_be_visible()
    expect(editor).to_have_value(EDITED)
    assert not customized(org)["invitation.txt"], "previewing saves nothing"

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.get_by_test_id("template-state")).to_contain_text(f"Edited by {org.admin_email}")
    expect(page.locator("tr[data-template='invitation.txt']")).to_contain_text("Edited")
    assert org.api.get("/v1/email-templates/invitation.txt").json()["source"] == EDITED

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reset to default").click()
    expect(page.get_by_role("status")).to_contain_text("back to hiresync's default")
    expect(page.get_by_label("Template (plain text)")).to_have_value(default)
    assert not customized(org)["invitation.txt"]


def test_the_html_preview_runs_no_script_of_the_template(
    stack: Any, make_org: Any, page: Page
) -> None:
    org = make_org()
    log_in(page, stack.url, org)
    open_templates(page)
    page.get_by_role("link", name="invitation.html").click()
    title = page.title()
    page.get_by_label("Template (HTML, values escaped)").fill(SCRIPTED_HTML)
    page.get_by_label("Preview the update").check()
    page.get_by_role("button", name="Preview").click()
    frame = page.frame_locator("#preview iframe")
    expect(frame.locator("#who")).to_have_text("Ada Lovelace")
    expect(page.get_by_label("Preview the update")).to_be_checked()
    assert page.title() == title, "the template's script did not run"
    assert not customized(org)["invitation.html"]


def test_a_broken_template_shows_its_line_and_an_unknown_one_is_not_found(
    stack: Any, make_org: Any, page: Page
) -> None:
    org = make_org()
    log_in(page, stack.url, org)
    open_templates(page)
    page.get_by_role("link", name="cancellation.txt").click()
    broken = "Hello {{ candidate_name }},\n\nYour interview {{ titel }} is cancelled.\n"
    editor = page.get_by_label("Template (plain text)")
    for button in ("Preview", "Save"):
        editor.fill(broken)
        page.get_by_role("button", name=button).click()
        error = page.locator("#source-error")
        expect(error).to_contain_text("cancellation.txt, line 3: unknown variable 'titel'")
        expect(error).to_contain_text("line 3: Your interview {{ titel }} is cancelled.")
        expect(editor).to_have_attribute("aria-invalid", "true")
        expect(editor).to_have_value(broken)
        expect(page.locator("#preview")).to_have_count(0)
    assert not customized(org)["cancellation.txt"], "nothing saved"

    answer = page.goto(f"{stack.url}/settings/email-templates/welcome.txt")
    assert answer is not None and answer.status == 404
    expect(page.locator("#refusal")).to_contain_text(
        "There is no e-mail template called 'welcome.txt'. The templates are: invitation.txt,"
    )


def test_someone_who_is_not_an_admin_can_preview_but_not_save(
    stack: Any, make_org: Any, page: Page
) -> None:
    org = make_org()
    viewer = f"rory.recruiter@{org.slug}.example"
    password = add_login(stack, org, "Rory Recruiter", viewer, "recruiter")
    page.goto(f"{stack.url}/settings/email-templates/invitation.txt")
    page.get_by_label("E-mail").fill(viewer)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="E-mail templates", exact=True)).to_be_visible()
    expect(page.locator("#view-only")).to_be_visible()
    expect(page.get_by_label("Template (plain text)")).not_to_be_editable()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-text")).to_contain_text("Hello Ada Lovelace,")

    url = f"{stack.url}/settings/email-templates/invitation.txt"
    saved = page.request.post(
        url, form={"csrf": csrf(page), "action": "save", "source": "Hi {{ candidate_name }}"}
    )
    assert saved.status == 403
    assert "Only an admin can change the e-mail templates." in saved.text()
    assert org.api.put("/v1/email-templates/invitation.txt", json={"source": EDITED}).is_success
    reset = page.request.post(f"{url}/reset", form={"csrf": csrf(page)})
    assert reset.status == 403
    assert org.api.get("/v1/email-templates/invitation.txt").json()["source"] == EDITED
