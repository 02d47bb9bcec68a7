"""How hard a provider client tries before giving up: the bounds and the backoff every
client shares (each provider subclasses ``RetryPolicy`` with its own defaults)."""

from __future__ import annotations

import random
from dataclasses import dataclass


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
