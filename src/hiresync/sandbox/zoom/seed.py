"""The seeded Zoom world: four accounts, one per case hiresync must handle.

* **Contoso** (Business, admin pre-approval required): the demo's hiring team. Iris is the
  owner; Pat and Sam are licensed members who must ask her to pre-approve the app; Priya is a
  Basic (unlicensed) user inside a paid account.
* **Fabrikam Talent** (Business, no pre-approval): licensed hosts with 2 concurrent meetings.
* **Pro Recruiting** (Pro): licensed hosts limited to 1 meeting at a time.
* **Alex's Zoom** (free Basic account): meetings end at 40 minutes.

Ids are derived from names, so they are stable across runs and processes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import BASIC, LICENSED
from .wire import zoom_id

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox

CONTOSO_ACCOUNT_ID = zoom_id("account:contoso")
FABRIKAM_ACCOUNT_ID = zoom_id("account:fabrikam")
PRO_ACCOUNT_ID = zoom_id("account:pro-recruiting")
FREE_ACCOUNT_ID = zoom_id("account:alex")

# (account id, name, plan, requires pre-approval, users: (email, first, last, type, role, tz))
ACCOUNTS = (
    (
        CONTOSO_ACCOUNT_ID,
        "Contoso",
        "business",
        True,
        (
            ("it.admin@contoso.com", "Iris", "Tanaka", LICENSED, "Owner", "America/New_York"),
            (
                "pat.recruiter@contoso.com",
                "Pat",
                "Recruiter",
                LICENSED,
                "Member",
                "America/New_York",
            ),
            ("sam.manager@contoso.com", "Sam", "Manager", LICENSED, "Member", "Europe/London"),
            ("priya.sharma@contoso.com", "Priya", "Sharma", BASIC, "Member", "Asia/Kolkata"),
        ),
    ),
    (
        FABRIKAM_ACCOUNT_ID,
        "Fabrikam Talent",
        "business",
        False,
        (
            (
                "fay.lopez@fabrikam-talent.test",
                "Fay",
                "Lopez",
                LICENSED,
                "Owner",
                "America/Chicago",
            ),
            (
                "omar.haddad@fabrikam-talent.test",
                "Omar",
                "Haddad",
                LICENSED,
                "Admin",
                "Europe/Paris",
            ),
            ("lena.berg@fabrikam-talent.test", "Lena", "Berg", LICENSED, "Member", "Europe/Berlin"),
        ),
    ),
    (
        PRO_ACCOUNT_ID,
        "Pro Recruiting",
        "pro",
        False,
        (
            (
                "paul.pro@prorecruiting.test",
                "Paul",
                "Pro",
                LICENSED,
                "Owner",
                "America/Los_Angeles",
            ),
            (
                "quinn.ortiz@prorecruiting.test",
                "Quinn",
                "Ortiz",
                LICENSED,
                "Member",
                "America/Denver",
            ),
        ),
    ),
    (
        FREE_ACCOUNT_ID,
        "Alex's Zoom",
        "free",
        False,
        (("alex.contractor@gmail.example", "Alex", "Contractor", BASIC, "Owner", "Europe/Berlin"),),
    ),
)


def user_id_for(email: str) -> str:
    """The seeded user id of ``email`` (stable, so tests and fixtures can name users)."""
    return zoom_id(f"user:{email.lower()}")


def seed_all(sandbox: ZoomSandbox) -> None:
    for account_id, name, plan, preapproval, users in ACCOUNTS:
        sandbox.add_account(name, plan, account_id=account_id, requires_preapproval=preapproval)
        for email, first, last, user_type, role, tz in users:
            sandbox.add_user(
                account_id,
                email=email,
                first_name=first,
                last_name=last,
                user_type=user_type,
                role=role,
                timezone=tz,
                user_id=user_id_for(email),
            )
