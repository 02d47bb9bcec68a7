"""Time-zone names as Exchange accepts them: Windows names (``Pacific Standard Time``) or IANA.

The sandbox keeps its own tiny mapping layer (CLDR's windowsZones via ``tzlocal``) so that it
does not depend on the service's domain code it is meant to test.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import tz_win, win_tz

UTC = ZoneInfo("UTC")


@lru_cache(maxsize=512)
def resolve_zone(name: str | None) -> ZoneInfo | None:
    """Return the zone for a Windows or IANA name (``UTC`` included); None when unknown."""
    if not name:
        return None
    cleaned = name.strip().strip('"')
    if cleaned.upper() in ("UTC", "ETC/UTC", "COORDINATED UNIVERSAL TIME"):
        return UTC
    iana = win_tz.get(cleaned, cleaned)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def windows_name(iana: str) -> str:
    """Windows name Exchange reports for an IANA zone (falls back to the IANA name)."""
    if iana in ("UTC", "Etc/UTC"):
        return "UTC"
    return tz_win.get(iana, iana)
