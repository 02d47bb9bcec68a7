"""Pure conversions between hiresync values and Zoom's JSON: request bodies, passcodes, the key
line in the agenda, and answers read back as ``MeetingDetails`` / ``MeetingHost`` / tokens.

Nothing here does I/O, so each of Zoom's rules is pinned down by unit tests without a server:

* ``start_time`` goes out in GMT (``yyyy-MM-ddTHH:mm:ssZ``) with ``timezone`` set to the
  interview's zone: the instant is exact whatever the zone database of Zoom says about DST,
  and Zoom still shows the host the interview's own wall-clock time.
* ``duration`` is whole minutes, rounded **up** so a meeting never ends before the interview.
* ``topic`` ≤ 200 and ``agenda`` ≤ 2000 characters (counted as Zoom's Java backend counts
  them, in UTF-16 units, so an emoji is two).
* **Our key is the agenda's last line** (``hiresync:{key}``). Zoom has no idempotency key for
  ``POST …/meetings`` and no custom property on a meeting, so the agenda is the only field we
  control that Zoom keeps and lists; after a crash between Zoom's answer and our commit,
  ``find(key)`` lists upcoming meetings and matches that line, and the meeting is re-linked
  instead of created twice. The recruiter's text is shortened (never the key) to fit 2000.
  ⚠ ``GET …/meetings`` cuts every agenda to 250 characters (spec), so a listed agenda that
  was cut may hide the key: :func:`may_hide_key` tells the adapter to read that one in full.
* **Passcodes**: Zoom allows at most 10 of ``[A-Za-z0-9@-_*]``; an account may add a policy
  (``meeting_password_requirement``: letters, digits, a special character, both cases,
  numeric only, no runs of consecutive characters, a minimum length). We generate one that
  meets both; when the policy cannot be met within 10 characters we send none and Zoom
  generates the account's own.
* **Plan limits** (PROVIDERS.md "plans", support.zoom.us article 206122046): a Basic user's
  meetings end at 40 minutes and one runs at a time; a licensed user on Pro runs 1 at a time,
  on Business and up 2. The user object does not name the plan: ``feature.concurrent_meeting``
  of the user's settings does (``None``: 1 at a time, ``Basic``: 2). ``Plus`` is an add-on
  whose number the API does not state (third-party docs say "4 to 20"), so it is reported as
  unknown (None) rather than guessed.
"""

from __future__ import annotations

import itertools
import math
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from random import Random
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hiresync.providers.base import MeetingDetails, MeetingHost, MeetingRequest, UserTokens

from .wire import (
    MeetingCreateWire,
    MeetingSettingsWire,
    MeetingUpdateWire,
    MeetingWire,
    TokenWire,
    UserSettingsWire,
    UserWire,
)

TOPIC_MAX = 200
AGENDA_MAX = 2000
LIST_AGENDA_CUT = 250  # GET /users/{id}/meetings returns at most this much of each agenda
KEY_PREFIX = "hiresync:"
KEY_MAX = 120
PASSCODE_MAX = 10
PASSCODE_RE = re.compile(r"^[A-Za-z0-9@\-_*]{1,10}$")
BASIC_MAX_MINUTES = 40
ELLIPSIS = "…"
# Unambiguous when read aloud or copied from an invitation: no l/1/I, o/O/0.
_LOWER = "abcdefghijkmnpqrstuvwxyz"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"
_SPECIAL = "@-_*"
_BASIC, _LICENSED, _ON_PREM = 1, 2, 3
_CONCURRENT = {"None": 1, "Basic": 2}  # "Plus": unknown, see the module docstring

# The meeting settings every interview gets. The link must work without the host (seed 001:
# "join before host, no host needed"), so join before host at any time and no waiting room
# (a waiting room turns join before host off); candidates rarely have a Zoom login, so no
# authentication; no registration; people who join early do so muted.
INTERVIEW_SETTINGS: MeetingSettingsWire = {
    "join_before_host": True,
    "jbh_time": 0,
    "waiting_room": False,
    "meeting_authentication": False,
    "approval_type": 2,
    "mute_upon_entry": True,
}


# -- times ----------------------------------------------------------------------------------


def zoom_time(moment: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ssZ`` in GMT, as Zoom's ``start_time`` takes it."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_zoom_time(value: str | None) -> datetime | None:
    """A Zoom date-time (``…Z``, with or without fraction, or with an offset) as aware UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duration_minutes(start: datetime, end: datetime) -> int:
    """Whole minutes from ``start`` to ``end``, rounded up (45 min 1 s → 46)."""
    seconds = (end - start).total_seconds()
    if seconds <= 0:
        raise ValueError("a meeting must end after it starts")
    return math.ceil(seconds / 60)


def check_zone(name: str) -> str:
    """The IANA zone name, or ValueError (Zoom would refuse the field)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


# -- topic and agenda -----------------------------------------------------------------------


def _units(text: str) -> int:
    """Length as Zoom counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """``text`` shortened with an ellipsis so that it fits ``limit`` UTF-16 units."""
    if _units(text) <= limit:
        return text
    kept = text[: limit - 1]  # a character is at least one unit
    while _units(kept) > limit - 1:
        kept = kept[:-1]
    return kept.rstrip() + ELLIPSIS


def key_line(key: str) -> str:
    """The agenda line that carries our key."""
    if not key or len(key) > KEY_MAX or any(c.isspace() for c in key):
        raise ValueError(f"a meeting key is 1–{KEY_MAX} characters without spaces: {key!r}")
    return KEY_PREFIX + key


def agenda_with_key(agenda: str, key: str) -> str:
    """The recruiter's agenda, shortened if need be, then a blank line and our key line."""
    line = key_line(key)
    text = agenda.strip()
    if not text:
        return line
    return f"{clip(text, AGENDA_MAX - _units(line) - 2)}\n\n{line}"


def keys_in(agenda: str | None) -> set[str]:
    """Every key carried by ``agenda`` (a host may append notes after ours in Zoom)."""
    return {
        line.strip()[len(KEY_PREFIX) :]
        for line in (agenda or "").splitlines()
        if line.strip().startswith(KEY_PREFIX)
    }


def may_hide_key(listed_agenda: str | None) -> bool:
    """Whether a listed agenda was long enough to be cut, so its key line may be missing."""
    return _units(listed_agenda or "") >= LIST_AGENDA_CUT - 10


# -- passcodes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PasscodeRule:
    """An account's passcode policy (all off: only Zoom's own 10-character rule)."""

    length: int = 0
    letter: bool = False
    number: bool = False
    special: bool = False
    upper_and_lower: bool = False
    numeric_only: bool = False
    consecutive: int = 0  # no run this long of repeated or sequential characters (0: off)


def passcode_rule(settings: UserSettingsWire | None) -> PasscodeRule:
    """The policy in ``schedule_meeting.meeting_password_requirement``, if the account sets one."""
    raw = ((settings or {}).get("schedule_meeting") or {}).get("meeting_password_requirement")
    if not raw:
        return PasscodeRule()
    return PasscodeRule(
        length=int(raw.get("length") or 0),
        letter=bool(raw.get("have_letter")),
        number=bool(raw.get("have_number")),
        special=bool(raw.get("have_special_character")),
        upper_and_lower=bool(raw.get("have_upper_and_lower_characters")),
        numeric_only=bool(raw.get("only_allow_numeric")),
        consecutive=int(raw.get("consecutive_characters_length") or 0),
    )


def _longest_run(passcode: str) -> int:
    """The longest run of repeated (``aaaa``) or sequential (``1234``, ``dcba``) characters."""
    best = run = 1 if passcode else 0
    step = None
    for before, after in itertools.pairwise(passcode):
        delta = ord(after) - ord(before)
        if delta in (-1, 0, 1) and (run == 1 or delta == step):
            run, step = run + 1, delta
        elif delta in (-1, 0, 1):
            run, step = 2, delta
        else:
            run, step = 1, None
        best = max(best, run)
    return best


def passcode_problems(passcode: str, rule: PasscodeRule = PasscodeRule()) -> list[str]:
    """Why Zoom (or the account's policy) would refuse ``passcode``; empty when it is fine."""
    problems = []
    if not PASSCODE_RE.match(passcode):
        problems.append("at most 10 of A-Z a-z 0-9 @ - _ *")
    if len(passcode) < rule.length:
        problems.append(f"at least {rule.length} characters")
    if rule.numeric_only and not passcode.isdigit():
        problems.append("digits only")
    if rule.letter and not any(c.isalpha() for c in passcode):
        problems.append("a letter")
    if rule.number and not any(c.isdigit() for c in passcode):
        problems.append("a digit")
    if rule.special and not any(c in _SPECIAL for c in passcode):
        problems.append("a special character")
    if rule.upper_and_lower and not (
        any(c.islower() for c in passcode) and any(c.isupper() for c in passcode)
    ):
        problems.append("upper and lower case")
    if rule.consecutive and _longest_run(passcode) >= rule.consecutive:
        problems.append(f"no {rule.consecutive} consecutive characters")
    return problems


def make_passcode(rule: PasscodeRule = PasscodeRule(), rng: Random | None = None) -> str | None:
    """A 10-character passcode meeting Zoom's rule and ``rule``; None when no passcode of 10
    characters can (Zoom then generates the account's own)."""
    rng = rng or secrets.SystemRandom()
    contradictory = rule.numeric_only and (rule.letter or rule.special or rule.upper_and_lower)
    if rule.length > PASSCODE_MAX or contradictory:
        return None
    strict = replace(rule, consecutive=rule.consecutive or 4)  # never "1234" or "aaaa"
    pools = [_DIGITS] if rule.numeric_only else [_LOWER, _UPPER, _DIGITS, _SPECIAL]
    alphabet = "".join(pools)
    for _ in range(200):
        chars = [rng.choice(pool) for pool in pools]  # one of each kind, then any
        chars += [rng.choice(alphabet) for _ in range(PASSCODE_MAX - len(chars))]
        rng.shuffle(chars)
        candidate = "".join(chars)
        if not passcode_problems(candidate, strict):
            return candidate
    return None  # pragma: no cover - 200 misses in a row do not happen with these alphabets


# -- request bodies ---------------------------------------------------------------------------


def create_body(request: MeetingRequest, passcode: str | None) -> MeetingCreateWire:
    """``POST /users/me/meetings`` for an interview: a scheduled meeting (type 2)."""
    body: MeetingCreateWire = {
        "topic": clip(request.topic.strip() or "Interview", TOPIC_MAX),
        "type": 2,
        "start_time": zoom_time(request.start),
        "duration": duration_minutes(request.start, request.end),
        "timezone": check_zone(request.time_zone),
        "agenda": agenda_with_key(request.agenda, request.key),
        "settings": dict(INTERVIEW_SETTINGS),  # type: ignore[typeddict-item]
    }
    if passcode is not None:
        body["password"] = passcode
    return body


def update_body(request: MeetingRequest) -> MeetingUpdateWire:
    """``PATCH /meetings/{id}``: time, length, title and agenda (key kept); the passcode and
    settings are left alone, so the join link every invitation holds keeps working."""
    return {
        "topic": clip(request.topic.strip() or "Interview", TOPIC_MAX),
        "type": 2,
        "start_time": zoom_time(request.start),
        "duration": duration_minutes(request.start, request.end),
        "timezone": check_zone(request.time_zone),
        "agenda": agenda_with_key(request.agenda, request.key),
    }


# -- answers ----------------------------------------------------------------------------------


def meeting_details(wire: MeetingWire) -> MeetingDetails:
    """What every invitation needs: join URL, meeting ID, passcode, and when it is."""
    return MeetingDetails(
        meeting_id=str(wire["id"]),
        join_url=wire["join_url"],
        passcode=wire.get("password") or None,
        host_email=wire.get("host_email") or None,
        start=parse_zoom_time(wire.get("start_time")),
        duration_minutes=wire.get("duration"),
    )


def is_licensed(user: UserWire) -> bool:
    """A paid seat (type 2 Licensed, 3 On-prem); Basic (1) and None (99) are not."""
    return user.get("type") in (_LICENSED, _ON_PREM)


def meeting_host(user: UserWire, settings: UserSettingsWire | None) -> MeetingHost:
    """The connected user and their plan's limits (see the module docstring)."""
    licensed = is_licensed(user)
    if licensed:
        feature = (settings or {}).get("feature") or {}
        concurrent = _CONCURRENT.get(str(feature.get("concurrent_meeting") or "None"))
        max_minutes = None
    else:
        concurrent, max_minutes = 1, BASIC_MAX_MINUTES
    name = (
        user.get("display_name")
        or f"{user.get('first_name', '')} {user.get('last_name', '')}".strip()
        or user["email"]
    )
    return MeetingHost(
        user_id=user["id"],
        account_id=user["account_id"],
        email=user["email"],
        display_name=name,
        time_zone=user.get("timezone") or None,
        licensed=licensed,
        max_minutes=max_minutes,
        concurrent_meetings=concurrent,
    )


def user_tokens(wire: TokenWire, now: datetime) -> UserTokens:
    """The token endpoint's answer; ``expires_at`` from ``expires_in`` (3599 s at Zoom)."""
    return UserTokens(
        access_token=wire["access_token"],
        refresh_token=wire["refresh_token"],
        expires_at=now + timedelta(seconds=int(wire.get("expires_in") or 3600)),
        scope=wire.get("scope") or "",
    )
