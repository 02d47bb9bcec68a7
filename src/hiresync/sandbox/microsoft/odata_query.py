"""The OData query options the events routes understand, parsed as Outlook parses them.

A client re-finds an event it wrote before a crash with
``$filter=singleValueExtendedProperties/Any(ep: ep/id eq '<id>' and ep/value eq '<v>')``
and reads one back with ``$expand=singleValueExtendedProperties($filter=id eq '<id>')``
(``api-reference/v1.0/api/singlevaluelegacyextendedproperty-get.md``). Those shapes, and the
other string operators the same page documents on ``ep/value`` (``ne``, ``contains``,
``startswith``), are parsed here; anything else raises :class:`UnsupportedQuery` so the
route answers 400 instead of silently returning every event.

Matching rules from that page: the ``Name`` part of a property id is case-sensitive and
the value comparison is case-insensitive. The type keyword and the GUID are compared
case-insensitively (a GUID is a number, Outlook does not care how it is spelled).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NAMED = re.compile(
    r"^\s*(?P<type>[A-Za-z]+)\s+\{(?P<guid>[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12})\}"
    r"\s+(?P<kind>Name|Id)\s+(?P<name>\S(?:.*\S)?)\s*$",
    re.IGNORECASE,
)
_TAGGED = re.compile(r"^\s*(?P<type>[A-Za-z]+)\s+(?P<tag>0x[0-9A-Fa-f]{1,4})\s*$")
_QUOTED = r"'(?P<{0}>(?:[^']|'')*)'"
_FILTER = re.compile(
    r"^\s*singleValueExtendedProperties\s*/\s*any\s*\(\s*(?P<var>[A-Za-z_]\w*)\s*:\s*"
    r"(?P=var)\s*/\s*id\s+eq\s+" + _QUOTED.format("id") + r"\s+and\s+"
    r"(?:(?P=var)\s*/\s*value\s+(?P<op>eq|ne)\s+" + _QUOTED.format("value") + r"|"
    r"(?P<fn>contains|startswith)\s*\(\s*(?P=var)\s*/\s*value\s*,\s*"
    + _QUOTED.format("arg")
    + r"\s*\))\s*\)\s*$",
    re.IGNORECASE,
)
_EXPAND = re.compile(
    r"^\s*singleValueExtendedProperties\s*(?:\(\s*\$filter\s*=\s*id\s+eq\s+"
    + _QUOTED.format("id")
    + r"\s*\))?\s*$",
    re.IGNORECASE,
)


class UnsupportedQuery(ValueError):
    """A query option the emulated service cannot evaluate."""


class InvalidPropertyId(ValueError):
    """An extended property id in none of the documented formats."""


def _unquote(text: str) -> str:
    return text.replace("''", "'")


def property_key(property_id: str) -> str:
    """Canonical key of an extended property id: type, GUID and tag folded to lower case,
    the ``Name`` kept as written (``String {GUID} Name X`` and ``Integer 0x0E17`` forms)."""
    named = _NAMED.match(property_id)
    if named:
        name = named["name"] if named["kind"].lower() == "name" else named["name"].lower()
        return f"{named['type'].lower()} {{{named['guid'].lower()}}} {named['kind'].lower()} {name}"
    tagged = _TAGGED.match(property_id)
    if tagged:
        return f"{tagged['type'].lower()} {tagged['tag'].lower()}"
    raise InvalidPropertyId(property_id)


@dataclass(frozen=True)
class PropertyFilter:
    """``singleValueExtendedProperties/Any(ep: ep/id eq '…' and <op on ep/value>)``."""

    key: str
    op: str  # eq | ne | contains | startswith
    value: str

    def matches(self, properties: Mapping[str, tuple[str, str]]) -> bool:
        """True when the event has the property and its value passes the operator."""
        found = properties.get(self.key)
        if found is None:
            return False
        actual, wanted = found[1].casefold(), self.value.casefold()
        if self.op == "eq":
            return actual == wanted
        if self.op == "ne":
            return actual != wanted
        if self.op == "contains":
            return wanted in actual
        return actual.startswith(wanted)


def parse_filter(raw: str) -> PropertyFilter:
    """Parse the one ``$filter`` shape the events list supports; UnsupportedQuery otherwise."""
    found = _FILTER.match(raw)
    if found is None:
        raise UnsupportedQuery(raw)
    try:
        key = property_key(_unquote(found["id"]))
    except InvalidPropertyId as exc:
        raise UnsupportedQuery(raw) from exc
    if found["fn"]:
        return PropertyFilter(key, found["fn"].lower(), _unquote(found["arg"]))
    return PropertyFilter(key, found["op"].lower(), _unquote(found["value"]))


@dataclass(frozen=True)
class Expand:
    """``$expand=singleValueExtendedProperties`` with an optional ``id eq`` filter."""

    property_id: str | None


def parse_expand(raw: str) -> Expand:
    found = _EXPAND.match(raw)
    if found is None:
        raise UnsupportedQuery(raw)
    wanted = found["id"]
    return Expand(None if wanted is None else _unquote(wanted))


def parse_select(raw: str, canonical: Mapping[str, str]) -> tuple[str, ...]:
    """Property names from ``$select`` matched case-insensitively; UnsupportedQuery names
    the first unknown one."""
    names = []
    for part in raw.split(","):
        name = canonical.get(part.strip().lower())
        if name is None:
            raise UnsupportedQuery(part.strip())
        names.append(name)
    return tuple(names)
