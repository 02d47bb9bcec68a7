"""Server-rendered HTML: sign-in/consent, pre-approval, errors, join/start links, the overview.

Pages carry ``data-zoom-page`` markers so browser tests can tell them apart without relying on
wording; the wording follows Zoom's (support.zoom.us "Pre-approving and approving apps": users
"request approval, which will notify admins"; the button reads "Request Pre-approval").
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from starlette.responses import HTMLResponse

from .model import BASIC, Account, App, Meeting, User

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox

_STYLE = """
body{font-family:Lato,"Helvetica Neue",system-ui,sans-serif;background:#f7f7fa;margin:0}
main{max-width:600px;margin:48px auto;background:#fff;padding:32px 40px;border-radius:12px;
box-shadow:0 2px 8px rgba(0,0,0,.12)}main.wide{max-width:1150px}
.logo{font-weight:700;color:#0b5cff;font-size:22px}h1{font-size:22px}
button.account{display:block;width:100%;text-align:left;padding:10px 12px;margin:6px 0;
border:1px solid #ddd;border-radius:8px;background:#fff;cursor:pointer;font-size:15px}
button.account:hover{background:#f0f4ff}button.primary{background:#0b5cff;color:#fff;border:0;
padding:10px 18px;border-radius:8px;font-size:15px;cursor:pointer}button[disabled]{opacity:.6}
.tag{font-size:12px;padding:1px 6px;border-radius:4px;margin-left:6px;background:#eee}
.muted{color:#666;font-size:13px}.error{color:#b00020}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;font-size:13px}
code{font-size:12px}
"""


def page(
    title: str, body: str, *, kind: str, status: int = 200, wide: bool = False
) -> HTMLResponse:
    main = "<main class='wide'>" if wide else "<main>"
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><style>{_STYLE}</style></head><body data-zoom-page='{kind}'>{main}"
        f"<div class='logo'>zoom <span class='muted'>(sandbox)</span></div>{body}</main>"
        "</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _hidden(fields: dict[str, str]) -> str:
    return "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in fields.items()
    )


def user_type_label(user: User) -> str:
    return "Basic" if user.type == BASIC else "Licensed"


def authorize_page(
    action: str, app: App, users: list[User], accounts: dict[str, Account], hidden: dict[str, str]
) -> HTMLResponse:
    """Sign in as a seeded user; choosing one authorizes the app (Zoom's "Allow")."""
    buttons = "".join(
        f"<button class='account' name='user' value='{escape(u.id)}'>{escape(u.display_name)}"
        f"<span class='tag'>{user_type_label(u)}</span>"
        f"<span class='tag'>{escape(accounts[u.account_id].plan_info.label)} plan</span>"
        + (
            "<span class='tag'>pre-approval required</span>"
            if accounts[u.account_id].requires_preapproval
            else ""
        )
        + f"<br><span class='muted'>{escape(u.email)} · {escape(accounts[u.account_id].name)}"
        f" · {escape(u.role)}</span></button>"
        for u in users
    )
    body = (
        f"<h1>Sign in to authorize {escape(app.name)}</h1>"
        f"<p class='muted'>{escape(app.name)} would like to access your Zoom account: "
        f"{escape(', '.join(app.scopes))}.</p>"
        f"<form method='post' action='{escape(action)}'>{_hidden(hidden)}{buttons}"
        "<button class='account' name='action' value='cancel'>Decline</button></form>"
    )
    return page("Sign in - Zoom", body, kind="authorize")


def preapproval_page(
    action: str,
    app: App,
    user: User,
    account: Account,
    hidden: dict[str, str],
    requested: bool,
) -> HTMLResponse:
    """Zoom's answer to a member whose admin has not pre-approved the app."""
    fields = _hidden(hidden | {"user": user.id})
    button = (
        "<button class='primary' disabled>Pre-approval Requested</button>"
        if requested
        else "<button class='primary' name='action' value='request_preapproval'>"
        "Request Pre-approval</button>"
    )
    body = (
        "<h1>This app needs pre-approval from your admin</h1>"
        f"<p>Your account ({escape(account.name)}) requires an admin to pre-approve "
        f"<b>{escape(app.name)}</b> before you can add it. Request pre-approval and your "
        "account admins will be notified; you will be notified when it is approved.</p>"
        f"<p class='muted'>Signed in as {escape(user.email)}</p>"
        f"<form method='post' action='{escape(action)}'>{fields}{button} "
        "<button name='action' value='cancel'>Cancel</button></form>"
    )
    kind = "preapproval-requested" if requested else "preapproval-required"
    return page("Pre-approval required - Zoom", body, kind=kind)


def error_page(code: int, message: str) -> HTMLResponse:
    """Zoom's OAuth error page, e.g. "Invalid redirect: … (4,709)"; never redirects."""
    body = f"<h1>Oops!</h1><p class='error'>{escape(message)} ({code:,})</p>"
    return page("Error - Zoom", body, kind="error", status=400)


def join_page(meeting: Meeting | None, host: User | None, pwd: str) -> HTMLResponse:
    if meeting is None or host is None:
        return page(
            "Invalid meeting ID - Zoom",
            "<h1>This meeting ID is not valid.</h1>",
            kind="join",
            status=404,
        )
    digits = str(meeting.id)
    spaced = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    passcode = (
        "<p>Passcode embedded in the link.</p>"
        if pwd == meeting.encrypted_password
        else "<p class='error'>Enter the meeting passcode to join.</p>"
    )
    start = meeting.start_time.strftime("%Y-%m-%d %H:%M UTC") if meeting.start_time else ""
    body = (
        f"<h1>{escape(meeting.topic)}</h1><p>Meeting ID {spaced} · host {escape(host.display_name)}"
        f" · {start} · {meeting.duration} min</p>{passcode}"
        + (
            "<p>Participants may join before the host.</p>"
            if meeting.settings.get("join_before_host")
            else ""
        )
    )
    return page("Join meeting - Zoom", body, kind="join")


def start_page(meeting: Meeting | None, valid: bool) -> HTMLResponse:
    if meeting is None:
        return page(
            "Invalid meeting ID - Zoom",
            "<h1>This meeting ID is not valid.</h1>",
            kind="start",
            status=404,
        )
    if not valid:
        body = "<h1>This start link has expired.</h1><p>Sign in to Zoom to start the meeting.</p>"
        return page("Start meeting - Zoom", body, kind="start", status=403)
    return page(
        "Start meeting - Zoom", f"<h1>Starting {escape(meeting.topic)} as host</h1>", kind="start"
    )


def home_page(sandbox: ZoomSandbox, base: str) -> HTMLResponse:
    """Overview: accounts and users with their plan limits, pre-approval requests (with an
    Approve button, the admin's side), apps and their webhooks, deliveries, meetings."""
    parts = [
        "<h1>Zoom sandbox</h1>",
        f"<p class='muted'>OAuth: <code>{escape(base)}/oauth/authorize</code> · "
        f"<code>{escape(base)}/oauth/token</code> · REST: <code>{escape(base)}/v2</code></p>",
        "<h2>Accounts</h2>",
    ]
    for account in sandbox.accounts.values():
        rows = ""
        for user in (u for u in sandbox.users.values() if u.account_id == account.id):
            limits = sandbox.plan_limits(user)
            cap = limits["meeting_time_limit_minutes"]
            apps = [
                g.client_id
                for g in sandbox.grants.values()
                if g.user_id == user.id and g.revoked_at is None
            ]
            rows += (
                f"<tr><td>{escape(user.email)}</td><td>{escape(user.display_name)}</td>"
                f"<td>{user_type_label(user)}</td><td>{escape(user.role)}</td>"
                f"<td>{f'{cap} min' if cap else 'no cap'}</td><td>{limits['concurrent_meetings']}</td>"
                f"<td>{escape(', '.join(apps)) or '-'}</td></tr>"
            )
        parts.append(
            f"<h3>{escape(account.name)}</h3><p class='muted'>id <code>{account.id}</code> · "
            f"{escape(account.plan_info.label)} plan · pre-approval "
            f"{'required' if account.requires_preapproval else 'not required'} · pre-approved: "
            f"{escape(', '.join(sorted(account.preapproved)) or 'none')}</p><table><tr><th>User</th>"
            "<th>Name</th><th>Type</th><th>Role</th><th>Meeting length</th><th>Concurrent</th>"
            f"<th>Authorized apps</th></tr>{rows}</table>"
        )
    parts.append(_preapprovals(sandbox, base))
    parts.append(_apps(sandbox))
    parts.append(_deliveries(sandbox))
    parts.append(_meetings(sandbox))
    return page("Zoom sandbox", "".join(parts), kind="home", wide=True)


def _preapprovals(sandbox: ZoomSandbox, base: str) -> str:
    rows = "".join(
        f"<tr><td>{escape(sandbox.accounts[r.account_id].name)}</td>"
        f"<td>{escape(sandbox.users[r.user_id].email)}</td><td><code>{escape(r.client_id)}</code></td>"
        f"<td>{r.requested_at:%Y-%m-%d %H:%M}</td><td>"
        + (
            f"approved {r.approved_at:%Y-%m-%d %H:%M}"
            if r.approved_at
            else f"<form method='post' action='{escape(base)}/preapprovals'>"
            f"<input type='hidden' name='account_id' value='{escape(r.account_id)}'>"
            f"<input type='hidden' name='client_id' value='{escape(r.client_id)}'>"
            "<button>Pre-approve</button></form>"
        )
        + "</td></tr>"
        for r in sandbox.preapproval_requests
    )
    return (
        "<h2>Pre-approval requests</h2><table><tr><th>Account</th><th>Requested by</th>"
        f"<th>App</th><th>When (UTC)</th><th></th></tr>{rows}</table>"
        if rows
        else "<h2>Pre-approval requests</h2><p class='muted'>None.</p>"
    )


def _apps(sandbox: ZoomSandbox) -> str:
    rows = ""
    for app in sandbox.apps.values():
        hook = app.webhook
        state = "not configured"
        if hook is not None:
            validated = {None: "not validated yet", True: "validated", False: "validation failed"}
            state = f"{escape(hook.endpoint_url)} ({validated[hook.validated]})"
        rows += (
            f"<tr><td><code>{escape(app.client_id)}</code></td><td>{escape(app.name)}</td>"
            f"<td>{escape(' '.join(app.redirect_uris))}</td><td>{state}</td></tr>"
        )
    return (
        "<h2>Apps</h2><table><tr><th>client_id</th><th>Name</th><th>Redirect allow list</th>"
        f"<th>Event notification endpoint</th></tr>{rows}</table>"
    )


def _deliveries(sandbox: ZoomSandbox, latest: int = 20) -> str:
    recent = list(reversed(sandbox.webhooks.deliveries[-latest:]))
    if not recent:
        return "<h2>Webhook deliveries</h2><p class='muted'>None yet.</p>"
    rows = "".join(
        f"<tr><td>{d.created_at:%H:%M:%S}</td><td>{escape(d.event)}</td><td>{escape(d.status)}</td>"
        f"<td>{len(d.attempts)}</td><td>{escape(', '.join(str(a.status or a.error) for a in d.attempts))}"
        f"</td><td>{escape(d.url)}</td></tr>"
        for d in recent
    )
    return (
        "<h2>Webhook deliveries</h2><table><tr><th>Queued (UTC)</th><th>Event</th><th>Status</th>"
        f"<th>Attempts</th><th>Answers</th><th>Endpoint</th></tr>{rows}</table>"
    )


def _meetings(sandbox: ZoomSandbox, latest: int = 20) -> str:
    recent = sorted(sandbox.meetings.values(), key=lambda m: m.created_at, reverse=True)[:latest]
    if not recent:
        return "<h2>Meetings</h2><p class='muted'>None yet.</p>"
    now = sandbox.now()
    rows = "".join(
        f"<tr><td>{m.id}</td><td>{escape(m.topic)}</td><td>{escape(sandbox.users[m.host_id].email)}</td>"
        f"<td>{m.start_time:%Y-%m-%d %H:%M}</td><td>{m.duration}</td><td>{escape(m.status)}</td>"
        f"<td>{'upcoming' if m.start_time and m.start_time > now else ''}</td></tr>"
        for m in recent
    )
    return (
        "<h2>Meetings</h2><table><tr><th>ID</th><th>Topic</th><th>Host</th><th>Start (UTC)</th>"
        f"<th>Minutes</th><th>Status</th><th></th></tr>{rows}</table>"
    )
