"""The ASGI app: identity routes at the root, Graph under ``/graph``, control under ``/_control``.

Mount it anywhere (``/sandbox/microsoft`` in the demo): every URL it emits is derived
from the request, so login = ``{mount}`` and Graph = ``{mount}/graph``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .control import Control
from .control_sync import SyncControl
from .graph import GraphFrontDoor
from .identity import Identity
from .pages import home_page, invitations_page
from .sandbox import MicrosoftSandbox
from .token_endpoint import TokenEndpoint
from .wire import base_url


def create_app(sandbox: MicrosoftSandbox) -> Starlette:
    """Build the emulator for ``sandbox`` (state is shared, so tests can mutate it live)."""
    identity, control, sync = Identity(sandbox), Control(sandbox), SyncControl(sandbox)
    graph, token = GraphFrontDoor(sandbox), TokenEndpoint(sandbox)

    async def home(request: Request) -> Response:
        return home_page(sandbox, base_url(request))

    async def invitations(request: Request) -> Response:
        return invitations_page(sandbox, base_url(request), request.query_params.get("tenant"))

    async def error_help(request: Request) -> Response:
        code = request.query_params.get("code", "")
        return HTMLResponse(
            f"<!doctype html><title>AADSTS{code}</title>"
            f"<p>Error code AADSTS{(code.isdigit() and code) or ''}</p>"
        )

    graph_methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    tenant_control = "/_control/tenants/{tenant}"
    routes = [
        Route("/", home, methods=["GET"]),
        Route("/error", error_help, methods=["GET"]),
        Route("/invitations", invitations, methods=["GET"]),
        Route("/graph/v1.0/{path:path}", graph.handle, methods=graph_methods),
        Route("/_control/tenants", control.tenants, methods=["GET"]),
        Route(f"{tenant_control}/faults", control.faults, methods=["GET", "PUT"]),
        Route(f"{tenant_control}/revoke-consent", control.consent, methods=["POST"]),
        Route(f"{tenant_control}/consent", control.consent, methods=["POST"]),
        Route(f"{tenant_control}/users", control.users, methods=["POST"]),
        Route(f"{tenant_control}/generate-users", control.generate_users, methods=["POST"]),
        Route(f"{tenant_control}/users/{{user}}", control.delete_user, methods=["DELETE"]),
        Route(f"{tenant_control}/users/{{user}}/events", control.events, methods=["POST"]),
        Route(
            f"{tenant_control}/users/{{user}}/events/{{event}}",
            sync.event,
            methods=["PATCH", "DELETE"],
        ),
        Route(f"{tenant_control}/users/{{user}}/calendars", sync.calendars, methods=["POST"]),
        Route(
            f"{tenant_control}/users/{{user}}/calendars/{{calendar}}",
            sync.calendars,
            methods=["DELETE"],
        ),
        Route(f"{tenant_control}/expire-delta-tokens", sync.expire_delta_tokens, methods=["POST"]),
        Route("/_control/subscriptions", sync.subscriptions, methods=["GET"]),
        Route(
            "/_control/subscriptions/{subscription}/expire-silently",
            sync.expire_silently,
            methods=["POST"],
        ),
        Route("/_control/subscriptions/{subscription}/lifecycle", sync.lifecycle, methods=["POST"]),
        Route("/_control/notifications", sync.deliveries, methods=["GET"]),
        Route("/_control/notifications/deliver", sync.deliver, methods=["POST"]),
        Route(f"{tenant_control}/events/{{event}}/responses", control.responses, methods=["POST"]),
        Route(f"{tenant_control}/invitations", control.invitations, methods=["GET"]),
        Route(f"{tenant_control}/online-meetings", control.online_meetings, methods=["PUT"]),
        Route("/_control/stats", control.stats, methods=["GET"]),
        Route("/_control/stats/reset", control.stats, methods=["POST"]),
        Route("/{tenant}/adminconsent", identity.admin_consent, methods=["GET", "POST"]),
        Route("/{tenant}/v2.0/adminconsent", identity.admin_consent, methods=["GET", "POST"]),
        Route("/{tenant}/oauth2/v2.0/authorize", identity.authorize, methods=["GET", "POST"]),
        Route("/{tenant}/oauth2/v2.0/token", token.handle, methods=["POST"]),
        Route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            identity.openid_configuration,
            methods=["GET"],
        ),
        Route("/{tenant}/discovery/v2.0/keys", identity.keys, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox
    return app
