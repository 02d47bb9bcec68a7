"""``GET /users`` and ``GET /users/{id|userPrincipalName}`` with Graph's paging and ``$select``."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from .graph import GraphCall
from .model import User
from .wire import graph_error, graph_json, graph_root

DEFAULT_SELECT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
# Real user properties the sandbox does not model: selectable, always null.
UNMODELLED = (
    "aboutMe",
    "ageGroup",
    "city",
    "companyName",
    "country",
    "createdDateTime",
    "creationType",
    "employeeId",
    "employeeType",
    "faxNumber",
    "mySite",
    "onPremisesImmutableId",
    "onPremisesSamAccountName",
    "onPremisesSyncEnabled",
    "postalCode",
    "state",
    "streetAddress",
    "usageLocation",
    "userType",
    "deletedDateTime",
    "employeeHireDate",
    "externalUserState",
    "legalAgeGroupClassification",
    "onPremisesDomainName",
    "onPremisesUserPrincipalName",
    "passwordPolicies",
    "preferredDataLocation",
    "showInAddressList",
    "securityIdentifier",
)
_SKIPTOKEN_PREFIX = "RFNwdAIAAQAAA"
_FILTER = re.compile(
    r"^\s*(?:(?P<prop>accountEnabled|mail|userPrincipalName|displayName|id)\s+eq\s+"
    r"(?P<value>true|false|'(?:[^']|'')*')|startswith\((?P<sprop>displayName|mail|"
    r"userPrincipalName|givenName|surname)\s*,\s*'(?P<prefix>(?:[^']|'')*)'\))\s*$",
    re.IGNORECASE,
)


def user_properties(user: User) -> dict[str, Any]:
    """Every property the sandbox knows for a user, in Graph's names."""
    known: dict[str, Any] = dict.fromkeys(UNMODELLED)
    known.update(
        {
            "id": user.id,
            "businessPhones": list(user.business_phones),
            "displayName": user.display_name,
            "givenName": user.given_name,
            "jobTitle": user.job_title,
            "mail": user.mail,
            "mobilePhone": user.mobile_phone,
            "officeLocation": user.office_location,
            "preferredLanguage": user.preferred_language,
            "surname": user.surname,
            "userPrincipalName": user.user_principal_name,
            "accountEnabled": user.account_enabled,
            "proxyAddresses": list(user.proxy_addresses),
            "department": user.department,
            "mailNickname": user.mail.split("@")[0],
            "otherMails": [],
            "imAddresses": [user.user_principal_name.lower()],
            "userType": "Member",
            "usageLocation": "US",
        }
    )
    return known


_CANONICAL = {
    name.lower(): name for name in user_properties(User("", "", "", "", "a@b", "a@b", []))
}


def parse_select(raw: str | None) -> tuple[str, ...] | str | None:
    """Canonical property names from ``$select`` (case-insensitive), or the bad name."""
    if not raw:
        return None
    names = []
    for part in raw.split(","):
        name = _CANONICAL.get(part.strip().lower())
        if name is None:
            return part.strip()
        names.append(name)
    return tuple(names)


def render(user: User, select: tuple[str, ...] | None) -> dict[str, Any]:
    props = user_properties(user)
    return {name: props[name] for name in (select or DEFAULT_SELECT)}


def _bad_select(call: GraphCall, name: str) -> Response:
    return graph_error(
        call.request,
        400,
        "Request_BadRequest",
        f"Could not find a property named '{name}' on type 'Microsoft.DirectoryServices.User'.",
    )


async def get_user(call: GraphCall) -> Response:
    select = parse_select(call.request.query_params.get("$select"))
    if isinstance(select, str):
        return _bad_select(call, select)
    ref = call.params.get("uid", "")
    user = call.sandbox.find_user(call.tenant, ref)
    if user is None:
        return graph_error(
            call.request,
            404,
            "Request_ResourceNotFound",
            f"Resource '{ref}' does not exist or one of its queried "
            "reference-property objects are not present.",
        )
    context = f"{graph_root(call.request)}/$metadata#users"
    context += f"({','.join(select)})/$entity" if select else "/$entity"
    return graph_json(call.request, {"@odata.context": context, **render(user, select)})


def _page_size(call: GraphCall) -> int | Response:
    raw = call.request.query_params.get("$top")
    limits = call.sandbox.limits
    if raw is None:
        return limits.users_page_size
    try:
        top = int(raw)
    except ValueError:
        top = -1
    if not 1 <= top <= limits.users_max_top:
        return graph_error(
            call.request,
            400,
            "Request_UnsupportedQuery",
            f"Invalid page size specified: '{raw}'. Must be between 1 and "
            f"{limits.users_max_top} inclusive.",
        )
    return top


def _matches_filter(user: User, raw: str) -> bool | None:
    """Evaluate the small ``$filter`` subset the sandbox supports; None when unsupported."""
    found = _FILTER.match(raw)
    if found is None:
        return None
    props = user_properties(user)
    if found["sprop"]:
        value = str(props[_CANONICAL[found["sprop"].lower()]] or "")
        return value.lower().startswith(found["prefix"].replace("''", "'").lower())
    actual = props[_CANONICAL[found["prop"].lower()]]
    wanted = found["value"]
    if wanted.lower() in ("true", "false"):
        return actual is (wanted.lower() == "true")
    return str(actual or "").lower() == wanted[1:-1].replace("''", "'").lower()


async def list_users(call: GraphCall) -> Response:
    """One page of users ordered by id; ``@odata.nextLink`` carries ``$skiptoken``."""
    query = call.request.query_params
    select = parse_select(query.get("$select"))
    if isinstance(select, str):
        return _bad_select(call, select)
    size = _page_size(call)
    if isinstance(size, Response):
        return size
    users = sorted(call.tenant.users.values(), key=lambda u: u.id)
    if "$filter" in query:
        if _FILTER.match(query["$filter"]) is None:
            return graph_error(call.request, 400, "Request_UnsupportedQuery", "Unsupported Query.")
        users = [u for u in users if _matches_filter(u, query["$filter"])]
    after = _decode_skiptoken(query.get("$skiptoken"))
    if after is False:
        return graph_error(
            call.request,
            400,
            "Directory_ExpiredPageToken",
            "The specified page token value has expired and can no longer be "
            "included in your request.",
        )
    if after:
        users = [u for u in users if u.id > after]
    page = users[:size]
    root = graph_root(call.request)
    body: dict[str, Any] = {
        "@odata.context": f"{root}/$metadata#users" + (f"({','.join(select)})" if select else "")
    }
    if len(users) > size:
        body["@odata.nextLink"] = _next_link(root, query, page[-1].id)
    body["value"] = [render(u, select) for u in page]
    return graph_json(call.request, body)


def _next_link(root: str, query: Any, last_id: str) -> str:
    keep = [(k, v) for k, v in query.multi_items() if k != "$skiptoken"]
    token = _SKIPTOKEN_PREFIX + base64.urlsafe_b64encode(
        json.dumps({"after": last_id}).encode()
    ).decode().rstrip("=")
    parts = [f"{k}={quote(v, safe=',()')}" for k, v in keep] + [f"$skiptoken={token}"]
    return f"{root}/users?" + "&".join(parts)


def _decode_skiptoken(token: str | None) -> str | bool | None:
    """The last id of the previous page; False for a token the sandbox did not issue."""
    if not token:
        return None
    if not token.startswith(_SKIPTOKEN_PREFIX):
        return False
    raw = token[len(_SKIPTOKEN_PREFIX) :]
    try:
        return str(json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))["after"])
    except (ValueError, KeyError, TypeError):
        return False
