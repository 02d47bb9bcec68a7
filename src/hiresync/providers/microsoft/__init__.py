"""Microsoft 365: identity platform (admin consent, app-only tokens) and Graph.

``client`` speaks HTTP (retries, throttling, paging, errors), ``wire`` declares the
JSON, ``parse`` maps it to domain values, ``adapter`` implements the provider
Protocols, ``identity`` handles consent, clouds and tokens, ``factory`` wires it all
from ``Settings``.
"""

from .adapter import MicrosoftDirectory, MicrosoftFreeBusy
from .client import GraphClient, RetryPolicy
from .factory import MicrosoftConnection, MicrosoftTenants, connect_tenant
from .identity import (
    AppTokenProvider,
    Cloud,
    ConsentOutcome,
    ConsentResult,
    admin_consent_url,
    check_tenant_cloud,
    classify_cloud,
    parse_consent_callback,
)

__all__ = [
    "AppTokenProvider",
    "Cloud",
    "ConsentOutcome",
    "ConsentResult",
    "GraphClient",
    "MicrosoftConnection",
    "MicrosoftDirectory",
    "MicrosoftFreeBusy",
    "MicrosoftTenants",
    "RetryPolicy",
    "admin_consent_url",
    "check_tenant_cloud",
    "classify_cloud",
    "connect_tenant",
    "parse_consent_callback",
]
