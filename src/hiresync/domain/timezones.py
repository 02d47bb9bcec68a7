"""Time-zone names: Windows (as Exchange reports them) to IANA and back.

The table is CLDR's windowsZones, as kept by ``tzlocal``; we only add validation.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from tzlocal.windows_tz import tz_win, win_tz

_IANA = frozenset(available_timezones())


@lru_cache(maxsize=1024)
def is_valid_iana(name: str) -> bool:
    """True for a name ``zoneinfo`` can load (``UTC`` included); cached, as a miss reads disk."""
    if name in _IANA:
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a folder of zones ("America") or a name too long for the filesystem.
        return False
    return True


@lru_cache(maxsize=1024)
def zone_or_utc(name: str | None) -> ZoneInfo:
    """The IANA zone ``name``, or UTC when it is unset or unknown (a person's zone that
    only reads times, where refusing would lose the event)."""
    return ZoneInfo(name) if name and is_valid_iana(name) else ZoneInfo("UTC")


def to_iana(name: str | None) -> str | None:
    """Map a Windows or IANA zone name to IANA; None when unknown."""
    if not name:
        return None
    if is_valid_iana(name):
        return name
    return win_tz.get(name)


def to_windows(name: str) -> str | None:
    """Map an IANA zone name to its Windows name; None when CLDR has none."""
    if name in ("UTC", "Etc/UTC"):
        return "UTC"
    return tz_win.get(name)
