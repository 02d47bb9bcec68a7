"""Emulator of Zoom for a user-managed OAuth app: OAuth, REST v2 (users, meetings), webhooks.

Public API::

    from hiresync.sandbox.zoom import ZoomSandbox, create_app, CONTOSO_ACCOUNT_ID

    sandbox = ZoomSandbox.seeded(webhook_url="http://127.0.0.1:8000/webhooks/zoom")
    app = create_app(sandbox)                      # ASGI; mount at /sandbox/zoom
    sandbox.pre_approve(CONTOSO_ACCOUNT_ID)        # Contoso's admin approves the demo app
    sandbox.update_meeting_in_zoom(meeting_id, start_time=new_start)   # → meeting.updated
    sandbox.deliver_webhooks(force=True)           # send (and retry) now, synchronously

Routes (relative to the mount point; ``{mount}`` stands for https://zoom.us and
``{mount}/v2`` for https://api.zoom.us/v2):

* OAuth: ``/oauth/authorize`` (sign-in picker, pre-approval page), ``/oauth/token``
  (authorization_code with PKCE, refresh_token with rotation), ``/oauth/revoke``
* REST: ``/v2/users/{userId|me}``, ``…/settings``, ``…/meetings`` (GET, POST),
  ``/v2/meetings/{meetingId}`` (GET, PATCH, DELETE)
* links: ``/j/{id}?pwd=`` (join), ``/s/{id}?zak=`` (start, expires after 2 h)
* control: ``/_control/accounts``, ``/_control/accounts/{a}/faults`` (GET/PUT),
  ``…/pre-approve``, ``…/revoke-pre-approval``, ``/_control/preapproval-requests``,
  ``/_control/users/{u}/deauthorize``, ``/_control/limits`` (GET/PUT),
  ``/_control/apps/{client_id}/webhooks`` (GET/PUT), ``…/webhooks/validate``,
  ``/_control/webhooks/deliveries``, ``/_control/webhooks/deliver``,
  ``/_control/meetings/{id}`` (PATCH/DELETE: changes made in Zoom), ``…/start``, ``…/end``,
  ``/_control/stats`` (GET), ``/_control/stats/reset`` (POST)
* ``/``: HTML overview of accounts, plan limits, pre-approval requests (with the admin's
  **Pre-approve** button), apps, webhook deliveries and meetings.

Python: ``sandbox.pre_approve(account, client_id)``, ``sandbox.deauthorize(user)``,
``sandbox.configure_webhooks(url, secret)``, ``sandbox.validate_endpoint()``,
``sandbox.update_meeting_in_zoom(id, **changes)``, ``sandbox.delete_meeting_in_zoom(id)``,
``sandbox.start_meeting_in_zoom(id)``, ``sandbox.plan_limits(user)``,
``sandbox.set_faults(account, drop_response_after_commit_next=1)``, ``sandbox.deliveries()``.
"""

from .app import create_app
from .model import Faults, Limits
from .sandbox import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REDIRECT_URIS,
    DEMO_SCOPES,
    DEMO_WEBHOOK_SECRET,
    ZoomSandbox,
)
from .seed import (
    CONTOSO_ACCOUNT_ID,
    FABRIKAM_ACCOUNT_ID,
    FREE_ACCOUNT_ID,
    PRO_ACCOUNT_ID,
    user_id_for,
)

__all__ = [
    "CONTOSO_ACCOUNT_ID",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_REDIRECT_URIS",
    "DEMO_SCOPES",
    "DEMO_WEBHOOK_SECRET",
    "FABRIKAM_ACCOUNT_ID",
    "FREE_ACCOUNT_ID",
    "PRO_ACCOUNT_ID",
    "Faults",
    "Limits",
    "ZoomSandbox",
    "create_app",
    "user_id_for",
]
