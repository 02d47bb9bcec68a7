"""Match hiring-team members to directory mailboxes by e-mail address. Pure.

A person's address may be a directory user's primary ``mail``, their user principal
name, or any ``smtp:`` alias in ``proxyAddresses``; comparison ignores case (SMTP
local parts are case-insensitive in practice and Exchange treats them so). Primary
addresses win over UPNs, which win over aliases, so that when two directory users
claim the same address the one for whom it is primary is chosen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from hiresync.domain.freebusy import DirectoryUser


class MatchedOn(StrEnum):
    MAIL = "mail"
    UPN = "upn"
    ALIAS = "alias"


_RANK = {MatchedOn.MAIL: 0, MatchedOn.UPN: 1, MatchedOn.ALIAS: 2}


@dataclass(frozen=True, slots=True)
class TeamMember:
    key: str  # the caller's id for the person
    email: str


@dataclass(frozen=True, slots=True)
class Match:
    member: TeamMember
    user: DirectoryUser
    matched_on: MatchedOn

    @property
    def mailbox(self) -> str:
        """The address to ask free/busy for: the directory's primary one when it has one."""
        return self.user.mail or self.user.user_principal_name or self.member.email


@dataclass(frozen=True, slots=True)
class MatchResult:
    matched: tuple[Match, ...]
    unmatched_members: tuple[TeamMember, ...]
    unmatched_users: tuple[DirectoryUser, ...]


def normalize(address: str) -> str:
    return address.strip().lower()


def smtp_addresses(proxy_addresses: Iterable[str]) -> list[str]:
    """The SMTP addresses among ``proxyAddresses`` (``SMTP:`` primary, ``smtp:`` aliases)."""
    found = []
    for entry in proxy_addresses:
        scheme, sep, address = entry.partition(":")
        if sep and scheme.lower() == "smtp" and address:
            found.append(address)
    return found


def address_index(users: Iterable[DirectoryUser]) -> dict[str, tuple[MatchedOn, DirectoryUser]]:
    """Every address of every enabled user, mapped to the best claim on it."""
    index: dict[str, tuple[MatchedOn, DirectoryUser]] = {}

    def claim(address: str | None, how: MatchedOn, user: DirectoryUser) -> None:
        if not address:
            return
        key = normalize(address)
        held = index.get(key)
        if held is None or _RANK[how] < _RANK[held[0]]:
            index[key] = (how, user)

    for user in users:
        if not user.account_enabled:
            continue
        claim(user.mail, MatchedOn.MAIL, user)
        claim(user.user_principal_name, MatchedOn.UPN, user)
        for alias in smtp_addresses(user.proxy_addresses):
            claim(alias, MatchedOn.ALIAS, user)
    return index


def match_members(members: Sequence[TeamMember], users: Sequence[DirectoryUser]) -> MatchResult:
    """Match every member; list who is left over on each side."""
    index = address_index(users)
    matched: list[Match] = []
    unmatched: list[TeamMember] = []
    for member in members:
        hit = index.get(normalize(member.email))
        if hit is None:
            unmatched.append(member)
        else:
            matched.append(Match(member=member, user=hit[1], matched_on=hit[0]))
    taken = {m.user.id for m in matched}
    left = tuple(u for u in users if u.id not in taken and u.account_enabled)
    return MatchResult(tuple(matched), tuple(unmatched), left)
