"""Identity platform: admin consent, authorize (code + PKCE), OpenID discovery.

Error presentation follows Entra ID: problems with the *app* (unknown client, redirect URI
not registered, unknown tenant) render an error page and never redirect; problems with the
*user's decision* (not an admin, declined) redirect back with ``error``/``error_description``.
The token endpoint lives in :mod:`.token_endpoint`.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from .model import AppRegistration, AuthCode, Tenant
from .pages import error_page, sign_in_page
from .sandbox import MicrosoftSandbox, SignInAccount
from .wire import aad_error, aad_error_body, base_url

GENERIC_TENANTS = ("common", "organizations")


def app_not_found(client_id: str, directory: str) -> str:
    return (
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{directory}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You may "
        "have sent your authentication request to the wrong tenant."
    )


def tenant_not_found(ref: str) -> str:
    return (
        f"Tenant '{ref}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, "
        "this may happen if there are no active subscriptions for the tenant."
    )


def redirect_mismatch(uri: str, client_id: str) -> str:
    return (
        f"The redirect URI '{uri}' specified in the request does not match the redirect "
        f"URIs configured for the application '{client_id}'. Make sure the redirect URI "
        "sent in the request matches one added to your application in the Azure portal. "
        "Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to "
        "fix this."
    )


class Identity:
    """Browser-facing identity endpoints bound to one sandbox."""

    def __init__(self, sandbox: MicrosoftSandbox) -> None:
        self.sandbox = sandbox

    # -- shared validation --------------------------------------------------------------------

    def _check_client(self, tenant_ref: str, params: Any) -> tuple[AppRegistration, str] | Response:
        """Tenant, client_id and redirect_uri must all be valid before anything redirects."""
        generic = tenant_ref.lower() in GENERIC_TENANTS
        tenant = None if generic else self.sandbox.find_tenant(tenant_ref)
        if not generic and tenant is None:
            return error_page(90002, tenant_not_found(tenant_ref))
        client_id = params.get("client_id", "")
        if not client_id:
            return error_page(
                900144, "The request body must contain the following parameter: 'client_id'."
            )
        app = self.sandbox.apps.get(client_id)
        directory = tenant.display_name if tenant else tenant_ref
        if app is None or (tenant and not app.multi_tenant and app.home_tenant_id != tenant.id):
            return error_page(700016, app_not_found(client_id, directory))
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or not app.redirect_allowed(redirect_uri):
            return error_page(50011, redirect_mismatch(redirect_uri, client_id))
        return app, redirect_uri

    def _account(self, tenant_ref: str, upn: str) -> tuple[Tenant, SignInAccount] | None:
        for account in self.sandbox.sign_in_accounts(tenant_ref):
            if account.user_principal_name.lower() == upn.lower():
                return self.sandbox.tenants[account.tenant_id], account
        return None

    def _error_redirect(
        self,
        request: Request,
        redirect_uri: str,
        state: str | None,
        error: str,
        code: int,
        message: str,
    ) -> RedirectResponse:
        body = aad_error_body(request, error, code, message)
        query: dict[str, str] = {}
        if self.sandbox.limits.error_redirect_includes_admin_consent:
            query["admin_consent"] = "True"
        query.update(error=error, error_description=body["error_description"])
        if self.sandbox.limits.error_redirect_includes_error_uri:
            query["error_uri"] = body["error_uri"]
        if state is not None:
            query["state"] = state
        return RedirectResponse(_with_query(redirect_uri, query), status_code=302)

    # -- admin consent --------------------------------------------------------------------------

    async def admin_consent(self, request: Request) -> Response:
        tenant_ref = request.path_params["tenant"]
        form = await request.form() if request.method == "POST" else request.query_params
        checked = self._check_client(tenant_ref, form)
        if isinstance(checked, Response):
            return checked
        app, redirect_uri = checked
        hidden = {
            k: str(form[k]) for k in ("client_id", "redirect_uri", "state", "scope") if k in form
        }
        if request.method == "GET":
            return sign_in_page(
                action=str(request.url.path),
                heading="Permissions requested",
                app_name=app.display_name,
                accounts=self.sandbox.sign_in_accounts(tenant_ref),
                hidden=hidden,
                admin_consent=True,
            )
        return self._consent_decision(request, tenant_ref, app, redirect_uri, form)

    def _consent_decision(
        self, request: Request, tenant_ref: str, app: AppRegistration, redirect_uri: str, form: Any
    ) -> Response:
        state = form.get("state")
        if form.get("action") == "cancel":
            return self._error_redirect(
                request,
                redirect_uri,
                state,
                "access_denied",
                65004,
                "User declined to consent to access the app.",
            )
        found = self._account(tenant_ref, str(form.get("login_hint", "")))
        if found is None:
            return error_page(
                50034,
                f"The user account {form.get('login_hint')} does not "
                f"exist in the '{tenant_ref}' directory. To sign into this "
                "application, the account must be added to the directory.",
            )
        tenant, account = found
        cross_cloud = tenant.cloud.name != app.cloud
        if cross_cloud and self.sandbox.limits.cross_cloud_consent == "error_page":
            return error_page(700016, app_not_found(app.client_id, tenant.display_name))
        if not account.is_admin:
            return self._error_redirect(
                request,
                redirect_uri,
                state,
                "access_denied",
                90094,
                f"{app.display_name} needs permission to access resources in your organization "
                "that only an admin can grant. Please ask an admin to grant permission to this "
                "app before you can use it.",
            )
        if not cross_cloud:  # a service principal cannot be created in another cloud
            self.sandbox.grant_admin_consent(tenant, app.client_id)
        query = {"admin_consent": "True", "tenant": tenant.id}
        if request.url.path.rstrip("/").endswith("v2.0/adminconsent") and form.get("scope"):
            query["scope"] = str(form["scope"])
        if state is not None:
            query["state"] = str(state)
        return RedirectResponse(_with_query(redirect_uri, query), status_code=302)

    # -- authorization code -------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        tenant_ref = request.path_params["tenant"]
        form = await request.form() if request.method == "POST" else request.query_params
        checked = self._check_client(tenant_ref, form)
        if isinstance(checked, Response):
            return checked
        app, redirect_uri = checked
        state = form.get("state")
        problem = self._authorize_problem(form)
        if problem is not None:
            error, code, message = problem
            return self._error_redirect(request, redirect_uri, state, error, code, message)
        if form.get("action") == "cancel":  # the user declined the permissions asked
            return self._error_redirect(
                request,
                redirect_uri,
                state,
                "access_denied",
                65004,
                "User declined to consent to access the app.",
            )
        if request.method == "GET":
            hidden = {k: str(v) for k, v in form.items() if k != "login_hint"}
            return sign_in_page(
                action=str(request.url.path),
                heading="Pick an account",
                app_name=app.display_name,
                accounts=self.sandbox.sign_in_accounts(tenant_ref),
                hidden=hidden,
                admin_consent=False,
            )
        found = self._account(tenant_ref, str(form.get("login_hint", "")))
        if found is None:
            return error_page(
                50034,
                f"The user account {form.get('login_hint')} does not "
                f"exist in the '{tenant_ref}' directory.",
            )
        tenant, account = found
        if tenant.cloud.name != app.cloud:
            return error_page(700016, app_not_found(app.client_id, tenant.display_name))
        return self._issue_code(app, redirect_uri, tenant, account, form)

    def _authorize_problem(self, form: Any) -> tuple[str, int, str] | None:
        if form.get("response_type") != "code":
            return (
                "unsupported_response_type",
                700054,
                f"response_type '{form.get('response_type')}' is not enabled for the application.",
            )
        if not form.get("scope"):
            return (
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        method = form.get("code_challenge_method") or (
            "plain" if form.get("code_challenge") else None
        )
        if self.sandbox.limits.require_pkce and not form.get("code_challenge"):
            return (
                "invalid_request",
                9002325,
                "Proof Key for Code Exchange is required for "
                "cross-origin authorization code redemption.",
            )
        if method not in (None, "plain", "S256"):
            return (
                "invalid_request",
                5000541,
                f"The code_challenge_method '{method}' is not supported.",
            )
        return None

    def _issue_code(
        self,
        app: AppRegistration,
        redirect_uri: str,
        tenant: Tenant,
        account: SignInAccount,
        form: Any,
    ) -> Response:
        user = self.sandbox.find_user(tenant, account.user_principal_name)
        assert user is not None
        code = "1.A" + secrets.token_urlsafe(48)
        challenge = form.get("code_challenge")
        self.sandbox.codes[code] = AuthCode(
            code=code,
            client_id=app.client_id,
            redirect_uri=redirect_uri,
            tenant_id=tenant.id,
            user_id=user.id,
            scopes=tuple(str(form.get("scope", "")).split()),
            code_challenge=challenge,
            code_challenge_method=(form.get("code_challenge_method") or "plain")
            if challenge
            else None,
            expires_at=self.sandbox.clock() + self.sandbox.limits.code_lifetime,
            nonce=form.get("nonce"),
        )
        query = {"code": code}
        if form.get("state") is not None:
            query["state"] = str(form["state"])
        query["session_state"] = secrets.token_hex(16)
        return RedirectResponse(_with_query(redirect_uri, query), status_code=302)

    # -- discovery ----------------------------------------------------------------------------

    async def openid_configuration(self, request: Request) -> Response:
        ref = request.path_params["tenant"]
        tenant = self.sandbox.find_tenant(ref)
        if tenant is None and ref.lower() not in GENERIC_TENANTS:
            return aad_error(request, 400, "invalid_tenant", 90002, tenant_not_found(ref))
        return JSONResponse(
            openid_document(base_url(request), ref, tenant),
            headers={"Cache-Control": "max-age=86400, private", "Access-Control-Allow-Origin": "*"},
        )

    async def keys(self, request: Request) -> Response:
        """Signing keys: empty, because sandbox tokens are HS256 with a private secret."""
        return JSONResponse({"keys": []})


def openid_document(base: str, ref: str, tenant: Tenant | None) -> dict[str, Any]:
    """The v2.0 OpenID configuration; cloud fields come from the tenant (GCC High differs)."""
    tid = tenant.id if tenant else "{tenantid}"
    path_tenant = tenant.id if tenant else ref
    root = f"{base}/{path_tenant}"
    doc: dict[str, Any] = {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{tid}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "kerberos_endpoint": f"{root}/kerberos",
        "tenant_region_scope": tenant.cloud.tenant_region_scope if tenant else None,
        "cloud_instance_name": tenant.cloud.cloud_instance_name
        if tenant
        else "microsoftonline.com",
        "cloud_graph_host_name": tenant.cloud.cloud_graph_host_name
        if tenant
        else "graph.windows.net",
        "msgraph_host": tenant.cloud.msgraph_host if tenant else "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    if tenant and tenant.cloud.tenant_region_sub_scope:
        doc["tenant_region_sub_scope"] = tenant.cloud.tenant_region_sub_scope
    if tenant and tenant.cloud.name != "worldwide":
        doc["userinfo_endpoint"] = f"https://{tenant.cloud.msgraph_host}/oidc/userinfo"
    return doc


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)
