"""Matching hiring-team members to directory mailboxes (seed 000: "connected ... based on
email addresses")."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hiresync.domain.freebusy import DirectoryUser
from hiresync.domain.matching import MatchedOn, TeamMember, match_members, smtp_addresses


def person(
    uid: str,
    mail: str | None,
    upn: str | None = None,
    aliases: tuple[str, ...] = (),
    enabled: bool = True,
) -> DirectoryUser:
    proxies = ((f"SMTP:{mail}",) if mail else ()) + tuple(f"smtp:{a}" for a in aliases)
    return DirectoryUser(uid, uid, mail, upn or mail, proxies, enabled)


def test_matches_by_primary_address_upn_and_alias_ignoring_case() -> None:
    directory = [
        person("1", "ana.lima@contoso.com"),
        person("2", "bo.chen@contoso.com", upn="bchen@contoso.onmicrosoft.com"),
        person("3", "cy.diaz@contoso.com", aliases=("cy@contoso.com",)),
    ]
    team = [
        TeamMember("a", "Ana.Lima@CONTOSO.com"),
        TeamMember("b", "bchen@contoso.onmicrosoft.com"),
        TeamMember("c", "cy@contoso.com"),
    ]
    result = match_members(team, directory)
    how = {m.member.key: (m.user.id, m.matched_on, m.mailbox) for m in result.matched}
    assert how == {
        "a": ("1", MatchedOn.MAIL, "ana.lima@contoso.com"),
        "b": ("2", MatchedOn.UPN, "bo.chen@contoso.com"),
        "c": ("3", MatchedOn.ALIAS, "cy.diaz@contoso.com"),
    }
    assert result.unmatched_members == ()
    assert result.unmatched_users == ()


def test_lists_both_kinds_of_unmatched() -> None:
    directory = [person("1", "ana@contoso.com"), person("2", "zed@contoso.com")]
    result = match_members(
        [TeamMember("a", "ana@contoso.com"), TeamMember("x", "x@gmail.com")], directory
    )
    assert [m.key for m in result.unmatched_members] == ["x"]
    assert [u.id for u in result.unmatched_users] == ["2"]


def test_primary_address_beats_someone_elses_alias() -> None:
    # A departed employee's address was kept as an alias on their manager's mailbox, and a
    # new hire now holds it as primary: the new hire is the match.
    directory = [
        person("manager", "boss@contoso.com", aliases=("sam@contoso.com",)),
        person("newhire", "sam@contoso.com"),
    ]
    [match] = match_members([TeamMember("s", "sam@contoso.com")], directory).matched
    assert match.user.id == "newhire"


def test_disabled_accounts_are_not_matched() -> None:
    result = match_members(
        [TeamMember("a", "gone@contoso.com")], [person("1", "gone@contoso.com", enabled=False)]
    )
    assert result.matched == ()
    assert result.unmatched_users == ()


def test_only_smtp_proxy_addresses_count() -> None:
    assert smtp_addresses(["SMTP:a@x.com", "smtp:b@x.com", "SIP:a@x.com", "X500:/o=x", "bad"]) == [
        "a@x.com",
        "b@x.com",
    ]


local = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8})?", fullmatch=True)


@given(st.lists(local, min_size=1, max_size=30, unique=True), st.data())
def test_every_member_is_matched_or_unmatched_exactly_once(
    names: list[str], data: st.DataObject
) -> None:
    directory = [person(str(i), f"{n}@contoso.com") for i, n in enumerate(names)]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True))
    strangers = data.draw(st.lists(local.filter(lambda n: n not in names), unique=True, max_size=5))
    team = [TeamMember(n, f"{n.upper()}@Contoso.com") for n in chosen]
    team += [TeamMember(s, f"{s}@elsewhere.org") for s in strangers]
    result = match_members(team, directory)
    assert sorted(m.member.key for m in result.matched) == sorted(chosen)
    assert sorted(m.key for m in result.unmatched_members) == sorted(strangers)
    matched_users = {m.user.id for m in result.matched}
    assert len(matched_users) == len(result.matched)
    assert matched_users.isdisjoint(u.id for u in result.unmatched_users)
    assert len(matched_users) + len(result.unmatched_users) == len(directory)
