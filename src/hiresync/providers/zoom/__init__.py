"""Zoom: each user's own account, through user-managed OAuth, hosting interview meetings.

``oauth`` is the authorization-code flow with PKCE (Authlib), ``client`` speaks REST ``/v2``
(retries, rate limits, errors), ``wire`` declares the JSON, ``parse`` maps it to and from
provider-neutral values, ``adapter`` implements ``MeetingProvider`` and ``accounts`` is the
``MeetingAccounts`` the runtime holds, built from ``Settings``.
"""

from .accounts import ZoomAccounts
from .adapter import ZoomMeetings
from .client import DailyLimitReached, OutcomeUnknown, RetryPolicy, ZoomClient
from .oauth import ZoomOAuth, new_code_verifier, new_state

__all__ = [
    "DailyLimitReached",
    "OutcomeUnknown",
    "RetryPolicy",
    "ZoomAccounts",
    "ZoomClient",
    "ZoomMeetings",
    "ZoomOAuth",
    "new_code_verifier",
    "new_state",
]
