"""Emulator of the Microsoft identity platform and Microsoft Graph v1.0 (calendar subset).

Public API::

    from hiresync.sandbox.microsoft import MicrosoftSandbox, create_app

    sandbox = MicrosoftSandbox.seeded()            # Contoso, Fabrikam Gov, Northwind + demo app
    app = create_app(sandbox)                      # ASGI; mount at /sandbox/microsoft
    sandbox.tenant("contoso.com").faults.latency_ms = 50
    sandbox.grant_admin_consent("contoso.com", sandbox.demo_client_id)
    sandbox.add_generated_users("contoso.com", 750)   # grow to 1,000 people

Routes (relative to the mount point):

* identity: ``/{tenant}/adminconsent``, ``/{tenant}/v2.0/adminconsent``,
  ``/{tenant}/oauth2/v2.0/authorize``, ``/{tenant}/oauth2/v2.0/token``,
  ``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/discovery/v2.0/keys``
* Graph: ``/graph/v1.0/users``, ``/graph/v1.0/users/{id|upn}``,
  ``/graph/v1.0/users/{id|upn}/calendar/getSchedule``, ``/graph/v1.0/users/{id|upn}/calendarView``,
  ``…/calendar``, ``…/calendars`` (GET, POST: a new calendar), ``…/calendars/{id}`` (GET,
  PATCH, DELETE; not the default one: see ``graph_calendars.py``), ``…/events`` (POST, GET
  with the extended-property
  ``$filter``), ``…/events/{id}`` (GET/PATCH/DELETE), ``…/events/{id}/cancel`` (also under
  ``calendar/`` and ``calendars/{id}/``, where creates and lists are that calendar's; and
  ``/me/…`` for delegated tokens; only the default calendar counts in getSchedule). Meetings put
  copies in attendee mailboxes of the tenant and log every message (see ``meetings.py``).
  ``…/calendarView/delta`` and ``…/calendars/{id}/calendarView/delta`` (rounds of
  ``$skiptoken`` pages ending in a ``$deltatoken``, ``@removed``, 410 on expired tokens: see
  ``graph_delta.py``/``delta_state.py``); ``/subscriptions`` (POST with the validation
  handshake, GET, PATCH to renew, DELETE, ``…/reauthorize``), whose change and lifecycle
  notifications are POSTed to the app (``subscriptions.py``, ``notifications.py``)
* control: ``/_control/tenants``, ``/_control/tenants/{t}/faults`` (GET/PUT),
  ``…/revoke-consent``, ``…/consent``, ``…/users`` (POST), ``…/users/{u}`` (DELETE),
  ``…/users/{u}/events`` (POST), ``…/generate-users`` (POST), ``…/events/{id}/responses``
  (POST: an attendee answers), ``…/invitations`` (GET: the messages "sent"),
  ``…/online-meetings`` (PUT: allowed providers, ``[]`` = no Teams), ``/_control/stats`` (GET),
  ``/_control/stats/reset`` (POST); for sync tests (``control_sync.py``):
  ``…/users/{u}/events/{id}`` (PATCH/DELETE: the user edits the event in Outlook),
  ``…/expire-delta-tokens`` (POST ``{user?, reset?}``), ``/_control/subscriptions`` (GET),
  ``/_control/subscriptions/{id}/expire-silently`` and ``…/lifecycle`` (POST),
  ``…/users/{u}/calendars`` (POST ``{name}``) and ``…/users/{u}/calendars/{id|name}``
  (DELETE): the user adds or deletes a calendar in Outlook,
  ``/_control/notifications`` (GET: every delivery), ``/_control/notifications/deliver`` (POST)
* ``/``: HTML overview of tenants, sign-in accounts, apps and the latest meeting messages;
  ``/invitations[?tenant=…]``: every message sent.

Python: ``sandbox.respond(tenant, event_id, attendee, "declined")``,
``sandbox.invitations(tenant, to=…, event_id=…)``,
``sandbox.set_online_meeting_providers(tenant, [], user=…)``,
``sandbox.set_faults(tenant, drop_response_after_commit_next=1)``.

Sync (issue 6): ``sandbox.create_event_as_user(tenant, user, graph_body)``,
``sandbox.update_event_as_user(tenant, user, event_id, patch_body)``,
``sandbox.delete_event_as_user(tenant, user, event_id)``,
``sandbox.create_calendar_as_user(tenant, user, name)`` (then ``create_event_as_user(…,
calendar=id)``), ``sandbox.delete_calendar_as_user(tenant, user, id_or_name)`` (changes made in Outlook, not through
Graph: attendees and subscribers are told); ``sandbox.expire_delta_tokens(tenant, user=None,
reset=False)``; ``sandbox.deliver_notifications(force=False)`` (with
``limits.notification_delivery = "manual"``; "background" sends on its own),
``sandbox.notification_deliveries(subscription_id=…, kind=…)``,
``sandbox.list_subscriptions(tenant)``, ``sandbox.expire_subscription_silently(id,
keep_listed=False)``, ``sandbox.emit_lifecycle(id, "reauthorizationRequired" |
"subscriptionRemoved" | "missed")``; counters in ``sandbox.stats.notifications``. The
sandbox's one concession to local runs: ``limits.http_notification_urls = "localhost"`` accepts
http notification URLs on the loopback (real Graph: https only, ``"never"``).
"""

from .app import create_app
from .model import Faults, Limits
from .sandbox import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REDIRECT_URIS,
    MicrosoftSandbox,
    SignInAccount,
)
from .seed import CONTOSO_ID, FABRIKAM_GOV_ID, NORTHWIND_APP_ID, NORTHWIND_ID

__all__ = [
    "CONTOSO_ID",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_REDIRECT_URIS",
    "FABRIKAM_GOV_ID",
    "NORTHWIND_APP_ID",
    "NORTHWIND_ID",
    "Faults",
    "Limits",
    "MicrosoftSandbox",
    "SignInAccount",
    "create_app",
]
