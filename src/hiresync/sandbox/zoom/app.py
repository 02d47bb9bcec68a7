"""The ASGI app: OAuth under ``/oauth``, REST under ``/v2``, control under ``/_control``.

Mount it anywhere (``/sandbox/zoom`` in the demo): every URL it emits (``api_url``, join and
start links) is derived from the request, so the OAuth base is ``{mount}`` and the REST base
``{mount}/v2``, standing in for ``https://zoom.us`` and ``https://api.zoom.us/v2``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .api import RestFrontDoor
from .control import Control
from .oauth import OAuth
from .pages import home_page, join_page, start_page
from .sandbox import ZoomSandbox
from .wire import base_url


def create_app(sandbox: ZoomSandbox) -> Starlette:
    """Build the emulator for ``sandbox`` (state is shared, so tests can mutate it live)."""
    oauth, rest, control = OAuth(sandbox), RestFrontDoor(sandbox), Control(sandbox)

    async def home(request: Request) -> Response:
        return home_page(sandbox, base_url(request))

    async def join(request: Request) -> Response:
        raw = request.path_params["meeting"]
        meeting = sandbox.meetings.get(int(raw)) if raw.isdigit() else None
        host = sandbox.users.get(meeting.host_id) if meeting else None
        return join_page(meeting, host, request.query_params.get("pwd", ""))

    async def start(request: Request) -> Response:
        raw = request.path_params["meeting"]
        meeting = sandbox.meetings.get(int(raw)) if raw.isdigit() else None
        zak = sandbox.zaks.get(request.query_params.get("zak", ""))
        valid = bool(meeting and zak and zak[0] == meeting.id and zak[1] > sandbox.clock())
        return start_page(meeting, valid)

    methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    routes = [
        Route("/", home, methods=["GET"]),
        Route("/j/{meeting}", join, methods=["GET"]),
        Route("/s/{meeting}", start, methods=["GET"]),
        Route("/preapprovals", control.approve_form, methods=["POST"]),
        Route("/oauth/authorize", oauth.authorize, methods=["GET", "POST"]),
        Route("/oauth/token", oauth.token, methods=["POST"]),
        Route("/oauth/revoke", oauth.revoke, methods=["POST"]),
        Route("/v2/{path:path}", rest.handle, methods=methods),
        Route("/_control/accounts", control.accounts, methods=["GET"]),
        Route("/_control/accounts/{account}/faults", control.faults, methods=["GET", "PUT"]),
        Route("/_control/accounts/{account}/pre-approve", control.pre_approval, methods=["POST"]),
        Route(
            "/_control/accounts/{account}/revoke-pre-approval",
            control.pre_approval,
            methods=["POST"],
        ),
        Route("/_control/preapproval-requests", control.preapproval_requests, methods=["GET"]),
        Route("/_control/users/{user}/deauthorize", control.deauthorize, methods=["POST"]),
        Route("/_control/limits", control.limits, methods=["GET", "PUT"]),
        Route("/_control/apps/{client_id}/webhooks", control.webhooks, methods=["GET", "PUT"]),
        Route("/_control/apps/{client_id}/webhooks/validate", control.validate, methods=["POST"]),
        Route("/_control/webhooks/deliveries", control.deliveries, methods=["GET"]),
        Route("/_control/webhooks/deliver", control.deliver, methods=["POST"]),
        Route("/_control/meetings/{meeting}", control.meeting, methods=["PATCH", "DELETE"]),
        Route("/_control/meetings/{meeting}/start", control.meeting_status, methods=["POST"]),
        Route("/_control/meetings/{meeting}/end", control.meeting_status, methods=["POST"]),
        Route("/_control/stats", control.stats, methods=["GET"]),
        Route("/_control/stats/reset", control.stats, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox
    return app
