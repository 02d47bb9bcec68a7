"""The ``DirectorySource`` contract, run against every implementation.

Each subclass supplies a ``world``: a source plus a way to add people to whatever
backs it. Tests only assert about people they added themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import pytest

from hiresync.domain.freebusy import DirectoryUser
from hiresync.providers.base import DirectorySource
from hiresync.sandbox.microsoft import CONTOSO_ID, MicrosoftSandbox
from tests.contract.test_freebusy_contract import connect_sandbox
from tests.fakes import InMemoryDirectory

# (mail, display name, upn or None, aliases, enabled)
AddUser = Callable[[str, str, str | None, Sequence[str], bool], None]


@dataclass
class DirectoryWorld:
    source: DirectorySource
    domain: str
    add_user: AddUser
    many: int  # enough people that a real directory must page

    def address(self, name: str) -> str:
        return f"{name}.{uuid.uuid4().hex[:8]}@{self.domain}"


def by_mail(users: list[DirectoryUser]) -> dict[str, DirectoryUser]:
    return {u.mail.lower(): u for u in users if u.mail}


class DirectorySourceContract:
    """Tests every ``DirectorySource`` must pass."""

    @pytest.fixture
    def world(self) -> DirectoryWorld:
        raise NotImplementedError

    def test_is_a_directory_source(self, world: DirectoryWorld) -> None:
        assert isinstance(world.source, DirectorySource)

    async def test_a_person_is_listed_with_mail_upn_and_aliases(
        self, world: DirectoryWorld
    ) -> None:
        mail = world.address("ann")
        alias = "talent-" + mail
        upn = "a" + mail
        world.add_user(mail, "Ann Example", upn, [alias], True)
        ann = by_mail(await world.source.list_users())[mail.lower()]
        assert ann.display_name == "Ann Example"
        assert ann.user_principal_name == upn
        assert f"smtp:{alias}" in [p.lower() for p in ann.proxy_addresses]
        assert ann.account_enabled and ann.id

    async def test_disabled_accounts_are_listed_as_disabled(self, world: DirectoryWorld) -> None:
        mail = world.address("leaver")
        world.add_user(mail, "Leaver", None, [], False)
        assert by_mail(await world.source.list_users())[mail.lower()].account_enabled is False

    async def test_everyone_is_returned_across_pages_with_unique_ids(
        self, world: DirectoryWorld
    ) -> None:
        added = [world.address(f"p{i}") for i in range(world.many)]
        for mail in added:
            world.add_user(mail, mail, None, [], True)
        users = await world.source.list_users()
        assert {m.lower() for m in added} <= set(by_mail(users))
        ids = [u.id for u in users]
        assert len(ids) == len(set(ids)) and all(ids)

    async def test_listing_is_stable(self, world: DirectoryWorld) -> None:
        world.add_user(world.address("bo"), "Bo", None, [], True)
        first = await world.source.list_users()
        second = await world.source.list_users()
        assert sorted(u.id for u in first) == sorted(u.id for u in second)


class TestInMemoryDirectory(DirectorySourceContract):
    @pytest.fixture
    def world(self) -> DirectoryWorld:
        fake = InMemoryDirectory()

        def add_user(
            mail: str, display: str, upn: str | None, aliases: Sequence[str], enabled: bool
        ) -> None:
            fake.add(
                DirectoryUser(
                    id=str(uuid.uuid4()),
                    display_name=display,
                    mail=mail,
                    user_principal_name=upn or mail,
                    proxy_addresses=(f"SMTP:{mail}", *(f"smtp:{a}" for a in aliases)),
                    account_enabled=enabled,
                )
            )

        return DirectoryWorld(fake, "example.test", add_user, many=20)


class TestMicrosoftDirectoryOnSandbox(DirectorySourceContract):
    """The adapter on the sandbox (``ms_sandbox``/``ms_base_url`` come from conftest.py)."""

    @pytest.fixture
    async def world(
        self, ms_sandbox: MicrosoftSandbox, ms_base_url: str
    ) -> AsyncIterator[DirectoryWorld]:
        connection = connect_sandbox(ms_sandbox, ms_base_url)

        def add_user(
            mail: str, display: str, upn: str | None, aliases: Sequence[str], enabled: bool
        ) -> None:
            ms_sandbox.add_user(
                CONTOSO_ID,
                display_name=display,
                mail=mail,
                user_principal_name=upn,
                aliases=aliases,
                account_enabled=enabled,
            )

        # More than Graph's largest page ($top=999) so the adapter must follow nextLink.
        yield DirectoryWorld(connection.directory, "contoso.com", add_user, many=1000)
        await connection.aclose()

    async def test_the_seeded_company_is_listed_whole(
        self, ms_sandbox: MicrosoftSandbox, world: DirectoryWorld
    ) -> None:
        users = await world.source.list_users()
        expected = {u.id for u in ms_sandbox.tenant(CONTOSO_ID).users.values()}
        assert {u.id for u in users} == expected
        assert sum(1 for u in users if not u.account_enabled) >= 4
