"""Input checks shared by the use cases, each failing with a message that says how to fix it."""

from __future__ import annotations

import re

from hiresync.domain.timezones import is_valid_iana
from hiresync.services.errors import InvalidInput

# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is the
# mail server's business; this catches typos and pasted names.
_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
ROLES = ("admin", "recruiter", "interviewer")


def email(value: str, *, field: str = "email") -> str:
    value = value.strip()
    if len(value) > 320 or not _EMAIL.match(value):
        raise InvalidInput(
            f"{value!r} is not an e-mail address",
            hint="Use the person's work address, like jane.doe@example.com.",
            field=field,
        )
    return value


def time_zone(value: str, *, field: str = "time_zone") -> str:
    if not is_valid_iana(value):
        raise InvalidInput(
            f"{value!r} is not a known time zone",
            hint="Use an IANA name such as Europe/London or America/New_York.",
            field=field,
        )
    return value


def role(value: str) -> str:
    if value not in ROLES:
        raise InvalidInput(
            f"{value!r} is not a role", hint=f"Use one of: {', '.join(ROLES)}.", field="role"
        )
    return value


def name(value: str, *, field: str = "name") -> str:
    value = value.strip()
    if not value or len(value) > 200:
        raise InvalidInput("A name of 1 to 200 characters is required.", field=field)
    return value
