"""Small server-rendered HTML pages: sign-in picker, identity error page, sandbox home."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from uuid import uuid4

from starlette.responses import HTMLResponse

from .model import SentMessage
from .sandbox import MicrosoftSandbox, SignInAccount

_STYLE = """
body{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0}
main{max-width:560px;margin:48px auto;background:#fff;padding:32px 44px;
box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600}.logo{font-weight:600;color:#737373}
button.account{display:block;width:100%;text-align:left;padding:10px 12px;margin:6px 0;
border:1px solid #ddd;background:#fff;cursor:pointer;font-size:15px}
button.account:hover{background:#f2f2f2}.tag{font-size:12px;padding:1px 6px;border-radius:3px;
margin-left:8px}.admin{background:#dff6dd;color:#107c10}.user{background:#eee;color:#555}
.muted{color:#666;font-size:13px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;font-size:14px}
.error{color:#a80000}main.wide{max-width:1100px}code{font-size:13px}
"""


def _page(title: str, body: str, status: int = 200, *, wide: bool = False) -> HTMLResponse:
    main = "<main class='wide'>" if wide else "<main>"
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>{main}"
        f"<div class='logo'>Microsoft (sandbox)</div>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status)


def sign_in_page(
    *,
    action: str,
    heading: str,
    app_name: str,
    accounts: list[SignInAccount],
    hidden: dict[str, str],
    admin_consent: bool,
) -> HTMLResponse:
    """Pick an account; admins are marked because only they can complete admin consent."""
    fields = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in hidden.items()
    )
    buttons = "".join(
        f"<button class='account' name='login_hint' value='{escape(a.user_principal_name)}'>"
        f"{escape(a.display_name)}<span class='tag {'admin' if a.is_admin else 'user'}'>"
        f"{'Global Administrator' if a.is_admin else 'User'}</span><br>"
        f"<span class='muted'>{escape(a.user_principal_name)} · {escape(a.tenant_name)}</span>"
        "</button>"
        for a in accounts
    )
    note = (
        "<p class='muted'>This app requests <b>Calendars.ReadWrite</b> and "
        "<b>User.Read.All</b> (application permissions) for your whole organization. "
        "Only a Global Administrator can accept.</p>"
        if admin_consent
        else ""
    )
    cancel = (
        "<button class='account' name='action' value='cancel'>Cancel</button>"
        if admin_consent
        else ""
    )
    body = (
        f"<h1>{escape(heading)}</h1><p><b>{escape(app_name)}</b></p>{note}"
        f"<form method='post' action='{escape(action)}'>{fields}{buttons}{cancel}</form>"
    )
    return _page("Sign in to your account", body)


def error_page(code: int, message: str) -> HTMLResponse:
    """Microsoft's "we're having trouble signing you in" page (HTTP 200, no redirect)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = (
        "<h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p>"
        f"<p class='error'>AADSTS{code}: {escape(message)}</p>"
        "<p class='muted'>Troubleshooting details<br>"
        f"Request Id: {uuid4()}<br>Correlation Id: {uuid4()}<br>Timestamp: {stamp}<br>"
        f"Message: AADSTS{code}: {escape(message)}</p>"
    )
    return _page("Sign in to your account", body)


def home_page(sandbox: MicrosoftSandbox, base: str) -> HTMLResponse:
    """Sandbox overview: tenants, their sign-in accounts and the registered apps."""
    parts = [
        "<h1>Microsoft 365 sandbox</h1>",
        f"<p class='muted'>Login base: <code>{escape(base)}</code><br>"
        f"Graph base: <code>{escape(base)}/graph</code></p><h2>Tenants</h2>",
    ]
    for tenant in sandbox.tenants.values():
        rows = "".join(
            f"<tr><td>{escape(a.user_principal_name)}</td><td>{escape(a.display_name)}</td>"
            f"<td>{'Global Administrator' if a.is_admin else 'User'}</td></tr>"
            for a in sandbox.sign_in_accounts(tenant.id)
        )
        consented = ", ".join(tenant.grants) or "none"
        parts.append(
            f"<h3>{escape(tenant.display_name)}</h3><p class='muted'>id <code>{tenant.id}</code>"
            f" · domains {escape(', '.join(tenant.domains))} · cloud "
            f"{escape(tenant.cloud.tenant_region_scope)} · {len(tenant.users)} users · "
            f"consented apps: {escape(consented)}</p><table><tr><th>Sign-in account</th>"
            f"<th>Name</th><th>Role</th></tr>{rows}</table>"
        )
    parts.append(_outbox_summary(sandbox, base))
    parts.append(
        "<h2>App registrations</h2><table><tr><th>client_id</th><th>Name</th>"
        "<th>Redirect URIs</th></tr>"
    )
    parts += [
        f"<tr><td><code>{escape(a.client_id)}</code></td><td>{escape(a.display_name)}"
        f"</td><td>{escape(' '.join(a.redirect_uris))}</td></tr>"
        for a in sandbox.apps.values()
    ]
    parts.append("</table>")
    return _page("Microsoft 365 sandbox", "".join(parts), wide=True)


_KIND = {"request": "Invitation", "update": "Update", "cancellation": "Cancellation"}


def _outbox_rows(messages: list[SentMessage]) -> str:
    return "".join(
        f"<tr><td>{m.time:%Y-%m-%d %H:%M:%S}</td><td>{_KIND.get(m.kind, m.kind)}</td>"
        f"<td>{escape(m.to)}{'' if m.internal else ' <span class=muted>(external)</span>'}</td>"
        f"<td>{escape(m.subject)}</td><td>{m.start:%Y-%m-%d %H:%M %Z}</td>"
        f"<td>{escape(m.organizer)}</td><td>{m.sequence}</td><td>{escape(m.comment)}</td></tr>"
        for m in messages
    )


def _outbox_table(messages: list[SentMessage]) -> str:
    return (
        "<table><tr><th>Sent (UTC)</th><th>Message</th><th>To</th><th>Subject</th>"
        "<th>Starts</th><th>Organizer</th><th>Seq.</th><th>Comment</th></tr>"
        f"{_outbox_rows(messages)}</table>"
    )


def _outbox_summary(sandbox: MicrosoftSandbox, base: str, latest: int = 10) -> str:
    """The home page's "what Microsoft sent" section: each tenant's latest messages."""
    parts = ["<h2>Meeting messages sent</h2>"]
    for tenant in sandbox.tenants.values():
        if not tenant.outbox:
            continue
        recent = list(reversed(tenant.outbox[-latest:]))
        parts.append(
            f"<h3>{escape(tenant.display_name)}</h3><p class='muted'>{len(tenant.outbox)} "
            f"sent · <a href='{escape(base)}/invitations?tenant={tenant.id}'>all</a></p>{_outbox_table(recent)}"
        )
    if len(parts) == 1:
        parts.append("<p class='muted'>No meeting has been sent yet.</p>")
    return "".join(parts)


def invitations_page(sandbox: MicrosoftSandbox, base: str, tenant_ref: str | None) -> HTMLResponse:
    """Every invitation, update and cancellation Exchange "sent", newest first."""
    tenants = list(sandbox.tenants.values())
    if tenant_ref:
        found = sandbox.find_tenant(tenant_ref)
        if found is None:
            return _page("Unknown tenant", "<h1>Unknown tenant</h1>", status=404)
        tenants = [found]
    parts = [
        f"<h1>Meeting messages sent</h1><p class='muted'><a href='{escape(base)}/'>Sandbox home</a></p>"
    ]
    for tenant in tenants:
        parts.append(
            f"<h2>{escape(tenant.display_name)}</h2>"
            + (_outbox_table(list(reversed(tenant.outbox))) if tenant.outbox else "<p>None.</p>")
        )
    return _page("Meeting messages sent", "".join(parts), wide=True)
