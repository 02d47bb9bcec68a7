"""Small server-rendered HTML pages: sign-in picker, identity error page, sandbox home."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from uuid import uuid4

from starlette.responses import HTMLResponse

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
.error{color:#a80000}code{font-size:13px}
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><style>{_STYLE}</style></head><body><main>"
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
    return _page("Microsoft 365 sandbox", "".join(parts))
