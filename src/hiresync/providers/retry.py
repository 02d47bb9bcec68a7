"""How hard a provider client tries before giving up: the bounds and the backoff every
client shares (each provider subclasses ``RetryPolicy`` with its own defaults)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard the client tries before giving up; all times in seconds."""

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After is handed back as RateLimited
    max_pages: int = 1000

    def delay(self, retries: int) -> float:
        """Exponential backoff with jitter (half fixed, half random) so retries spread out."""
        cap = min(self.max_delay, self.base_delay * 2**retries)
        return cap / 2 + random.uniform(0, cap / 2)  # noqa: S311 - jitter, not crypto


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent/garbled."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
