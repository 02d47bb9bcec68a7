"""Admin pre-approval (seed 001): a member whose company Zoom account requires it asks for it
in hiresync, every admin of the organization is told in the app and by e-mail what to do, an
admin marks it approved, and the member is told they can connect. Only admins approve."""

from __future__ import annotations

import html
import secrets
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from hiresync.services import team
from hiresync.store.db import Database
from hiresync.store.tables import Notification, PreapprovalRequest
from tests.conftest import MailDrop, Stack
from tests.integration.browser import wait_for
from tests.integration.test_meeting_accounts import (
    PAGE,
    add_member,
    connect_zoom,
    logged_in,
    page_text,
    sign_in_at_zoom,
    start_connect,
)


def company_zoom(stack: Stack) -> tuple[Any, Any]:
    """A Business Zoom account of this test's own whose admin must pre-approve apps, and one
    member of it."""
    zoom = stack.zoom
    assert zoom is not None
    tag = secrets.token_hex(3)
    account = zoom.add_account(f"Acme {tag}", "business", requires_preapproval=True)
    member = zoom.add_user(
        account, email=f"member.{tag}@acme.test", first_name="Mia", last_name=tag
    )
    return account, member


def mail_to(drop: MailDrop, address: str) -> list[EmailMessage]:
    return [
        BytesParser(policy=policy.default).parsebytes(content)  # type: ignore[misc]
        for _, recipients, content in drop.messages
        if address in recipients
    ]


async def notifications_of(db: Database, org: Any, address: str) -> list[Notification]:
    async with db.sessions() as session:
        user = await team.find_by_email(session, org.id, address)
        assert user is not None
        return list(
            await session.scalars(
                select(Notification)
                .where(Notification.user_id == user.id)
                .order_by(Notification.created_at)
            )
        )


async def open_requests(db: Database, org: Any) -> list[PreapprovalRequest]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(PreapprovalRequest).where(
                    PreapprovalRequest.organization_id == org.id,
                    PreapprovalRequest.status == "requested",
                )
            )
        )


async def test_request_notifies_admins_and_approval_notifies_the_requester(
    stack: Stack, make_org: Any, db: Database, mail_drop: tuple[MailDrop, int]
) -> None:
    drop, _ = mail_drop
    org = make_org()
    second_admin, _ = add_member(stack, org, "admin")
    member, member_password = add_member(stack, org, "recruiter")
    account, zoom_member = company_zoom(stack)
    recruiter = logged_in(stack, member, member_password)

    # Zoom answers the member with its own pre-approval page, not the consent screen.
    at_zoom = sign_in_at_zoom(recruiter, start_connect(recruiter), zoom_member.id)
    assert at_zoom.status_code == 200 and "data-zoom-page='preapproval-required'" in at_zoom.text
    assert "Not connected" in page_text(recruiter)

    asked = recruiter.post_form(PAGE + "/zoom/preapproval", page=PAGE)
    assert asked.status_code == 303
    assert "Pre-approval requested" in page_text(recruiter)
    assert "Request pre-approval" not in page_text(recruiter)
    for admin in (org.admin_email, second_admin):
        notes = await notifications_of(db, org, admin)
        assert [n.kind for n in notes] == ["zoom_preapproval_requested"]
        assert member in notes[0].body and "Zoom App Marketplace" in notes[0].body
        mails = wait_for(lambda a=admin: mail_to(drop, a))
        assert len(mails) == 1, f"no e-mail for {admin}"
        text = mails[0].get_content()
        assert "pre-approve" in mails[0]["Subject"]
        assert "marketplace.zoom.us" in text and "Mark approved" in text and member in text
    # Asking again changes nothing and tells nobody twice.
    assert recruiter.post_form(PAGE + "/zoom/preapproval", page=PAGE).status_code == 303
    assert len(await open_requests(db, org)) == 1
    assert len(await notifications_of(db, org, org.admin_email)) == 1

    admin = logged_in(stack, org.admin_email, org.password)
    shown = page_text(admin)
    assert "Zoom pre-approval requests" in shown and member in shown and "Mark approved" in shown
    (request,) = await open_requests(db, org)
    approved = admin.post_form(f"{PAGE}/preapprovals/{request.id}/approve", page=PAGE)
    assert approved.status_code == 303
    assert await open_requests(db, org) == []
    told = await notifications_of(db, org, member)
    assert [n.kind for n in told] == ["zoom_preapproval_approved"]
    assert "you can connect now" in told[0].title
    mails = wait_for(lambda: mail_to(drop, member))
    assert mails and "Connect Zoom" in mails[0].get_content()
    mine = page_text(recruiter)
    assert 'data-testid="preapproval-state"' not in mine and "you can connect now" in mine

    # Approved in Zoom too: the member connects.
    stack.zoom.pre_approve(account)  # type: ignore[union-attr]
    assert connect_zoom(recruiter, zoom_member.id).status_code == 303
    assert f"Connected as <strong>{zoom_member.email}</strong>" in page_text(recruiter)


async def test_only_an_admin_can_mark_a_request_approved(
    stack: Stack, make_org: Any, db: Database
) -> None:
    org = make_org()
    member, password = add_member(stack, org, "recruiter")
    interviewer, interviewer_password = add_member(stack, org, "interviewer")
    recruiter = logged_in(stack, member, password)
    assert recruiter.post_form(PAGE + "/zoom/preapproval", page=PAGE).status_code == 303
    (request,) = await open_requests(db, org)
    assert "Zoom pre-approval requests" not in page_text(recruiter)

    for who in (recruiter, logged_in(stack, interviewer, interviewer_password)):
        refused = who.post_form(f"{PAGE}/preapprovals/{request.id}/approve", page=PAGE)
        assert refused.status_code == 403
        assert "Only an admin of this hiring organization" in html.unescape(refused.text)
    assert [r.id for r in await open_requests(db, org)] == [request.id]
    assert await notifications_of(db, org, member) == []
    # Another organization's admin cannot see or approve it either.
    other = make_org()
    stranger = logged_in(stack, other.admin_email, other.password)
    assert member not in page_text(stranger)
    elsewhere = stranger.post_form(f"{PAGE}/preapprovals/{request.id}/approve", page=PAGE)
    assert elsewhere.status_code == 404
    assert [r.id for r in await open_requests(db, org)] == [request.id]


async def test_connecting_closes_an_open_request(stack: Stack, make_org: Any, db: Database) -> None:
    org = make_org()
    member, password = add_member(stack, org, "recruiter")
    account, zoom_member = company_zoom(stack)
    recruiter = logged_in(stack, member, password)
    assert recruiter.post_form(PAGE + "/zoom/preapproval", page=PAGE).status_code == 303
    assert len(await open_requests(db, org)) == 1

    stack.zoom.pre_approve(account)  # type: ignore[union-attr]  # done in Zoom, not marked here
    answer = connect_zoom(recruiter, zoom_member.id)
    assert answer.status_code == 303 and urlsplit(answer.headers["location"]).path == PAGE
    assert await open_requests(db, org) == []
    assert "No open requests." in page_text(logged_in(stack, org.admin_email, org.password))
    # A connected member has nothing to ask for.
    again = recruiter.post_form(PAGE + "/zoom/preapproval", page=PAGE)
    assert again.status_code == 409 and "already connected" in again.text


async def test_notifications_list_unread_first_and_are_marked_read_by_their_owner_only(
    stack: Stack, make_org: Any, db: Database
) -> None:
    org = make_org()
    first, first_password = add_member(stack, org, "recruiter")
    second, second_password = add_member(stack, org, "recruiter")
    for address, password in ((first, first_password), (second, second_password)):
        asker = logged_in(stack, address, password)
        assert asker.post_form(PAGE + "/zoom/preapproval", page=PAGE).status_code == 303
    admin = logged_in(stack, org.admin_email, org.password)
    older, newer = await notifications_of(db, org, org.admin_email)
    assert first in older.body and second in newer.body

    shown = page_text(admin)
    assert shown.index(f'data-notification="{newer.id}"') < shown.index(
        f'data-notification="{older.id}"'
    )  # newest first while both are unread
    read = admin.post_form(PAGE + "/notifications/read", page=PAGE, notification=str(newer.id))
    assert read.status_code == 303
    shown = page_text(admin)
    assert shown.index(f'data-notification="{older.id}"') < shown.index(
        f'data-notification="{newer.id}"'
    )  # unread first
    states = {n.id: n.read_at for n in await notifications_of(db, org, org.admin_email)}
    assert states[newer.id] is not None and states[older.id] is None

    # Someone else's notification is not theirs to mark.
    stranger = logged_in(stack, first, first_password)
    refused = stranger.post_form(
        PAGE + "/notifications/read", page=PAGE, notification=str(older.id)
    )
    assert refused.status_code == 404
    states = {n.id: n.read_at for n in await notifications_of(db, org, org.admin_email)}
    assert states[older.id] is None
    assert admin.post_form(PAGE + "/notifications/read", page=PAGE).status_code == 303
    assert all(n.read_at for n in await notifications_of(db, org, org.admin_email))
    assert "Mark all read" not in page_text(admin)
