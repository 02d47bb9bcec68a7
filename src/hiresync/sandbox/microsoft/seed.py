"""Deterministic seed data: three tenants and realistic calendars around the current week.

* **Contoso** (worldwide, ``contoso.com`` / ``contoso.onmicrosoft.com``): 250 people in six
  time zones, some UPNs that differ from mail, ``smtp:`` aliases, four disabled accounts.
  Sign-in accounts: ``it.admin@contoso.com``, ``morgan.lee@contoso.com`` (UPN
  ``mlee@contoso.onmicrosoft.com``) and ``priya.sharma@contoso.com`` are Global Administrators;
  ``pat.recruiter@contoso.com``, ``sam.manager@contoso.com`` and ``dana.scott@contoso.com`` are not.
* **Fabrikam Gov** (GCC High: ``tenant_region_scope`` USGov / DODCON, ``microsoftonline.us``):
  a worldwide app cannot get tokens for it (AADSTS900439). Admin ``gov.admin@fabrikam.gov``.
* **Northwind** (worldwide, EU): the demo app's client secret is expired there
  (AADSTS7000222); consent is already granted so the secret is the only obstacle.
  Admin ``admin@northwind.com``.

Calendars span 8 weeks back to 13 weeks ahead of ``sandbox.now``: daily stand-ups and weekly
1:1s with cancelled and moved occurrences, a monthly all-hands, all-day and multi-day events,
tentative, out-of-office, working-elsewhere, free and private items.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .model import US_GOV, CloudInfo, Event, Override, Tenant, User, WorkingHours
from .sandbox import MicrosoftSandbox

CONTOSO_ID = "3f2c9a7e-5b1d-4c8e-9a6f-2d7b1e4c8a90"
FABRIKAM_GOV_ID = "a7d4e2b9-1c6f-4e3a-8b5d-9f0e2c7a1b36"
NORTHWIND_ID = "c5e8b1a4-7d2f-4a9c-b3e6-1f8d4a2c9e57"
NORTHWIND_APP_ID = "0d9e7c3b-2a5f-4e81-b6c4-8f1a3d5e7b29"

WORLDWIDE_NA = CloudInfo(
    "worldwide", "NA", "microsoftonline.com", "graph.windows.net", "graph.microsoft.com"
)
WORLDWIDE_EU = CloudInfo(
    "worldwide", "EU", "microsoftonline.com", "graph.windows.net", "graph.microsoft.com"
)
GCC_HIGH = CloudInfo(
    US_GOV,
    "USGov",
    "microsoftonline.us",
    "graph.windows.net",
    "graph.microsoft.us",
    tenant_region_sub_scope="DODCON",
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    "Adele Alex Amara Ana Arjun Ben Bianca Bruno Camila Carlos Chen Chloe Daniel Diego Elena "
    "Emma Ethan Fatima Felipe Grace Hannah Hiro Isaac Isabela Jack Jamal Julia Kavya Kenji Laura "
    "Leo Lucas Maya Mei Mohammed Nadia Noah Olivia Omar Rafael Rahul Riya Rosa Ryan Sara Sofia "
    "Tariq Thomas Valentina Victor Wei Yusuf Zoe Aisha Ravi Megan Lynne Nestor Joni Isaiah"
)
LAST = _words(
    "Adams Ahmed Alvarez Bauer Brown Campbell Costa Davis Diaz Evans Ferreira Fischer Garcia "
    "Gupta Hall Harris Ito Iyer Johnson Kapoor Khan Kim Lopez Martin Mendes Miller Moore Nair "
    "Nguyen Okafor Oliveira Patel Perez Quinn Reddy Reyes Roberts Rossi Santos Schmidt Silva "
    "Singh Smith Souza Tanaka Taylor Thomas Turner Walker Wang Watson Williams Wilson Wright "
    "Yamamoto Young Zhang Vance Bowen Grady"
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
ZONES = (
    ("America/New_York", 35),
    ("America/Los_Angeles", 20),
    ("Europe/London", 15),
    ("America/Sao_Paulo", 10),
    ("Asia/Kolkata", 10),
    ("America/Chicago", 5),
    ("Europe/Berlin", 5),
)
JOBS = (
    "Software Engineer",
    "Recruiter",
    "Hiring Manager",
    "Product Manager",
    "Designer",
    "Sales Executive",
    "Data Scientist",
    "Support Engineer",
    "Engineering Manager",
)
DEPARTMENTS = ("Engineering", "Talent Acquisition", "Product", "Sales", "Support", "Finance")
MEETINGS = (
    "Design review",
    "Customer call",
    "Sprint planning",
    "Pipeline review",
    "Interview debrief",
    "Architecture sync",
    "Budget review",
    "Roadmap discussion",
    "Candidate interview",
    "Vendor demo",
    "Lunch & learn",
    "Hiring committee",
)
ROOMS = (
    "Room 4.01",
    "Room 2.12 (Harbour)",
    "Teams meeting",
    "Cafeteria",
    "Room 1.05",
    "Building 7 / Atrium",
    "",
)
PRIVATE = ("Doctor appointment", "Parent-teacher meeting", "Bank", "Physiotherapy")

NAMED = (
    # mail, display, upn, zone, admin
    ("it.admin@contoso.com", "Iris Tanaka (IT admin)", None, "America/New_York", True),
    (
        "morgan.lee@contoso.com",
        "Morgan Lee",
        "mlee@contoso.onmicrosoft.com",
        "America/Los_Angeles",
        True,
    ),
    ("priya.sharma@contoso.com", "Priya Sharma", None, "Asia/Kolkata", True),
    ("pat.recruiter@contoso.com", "Pat Recruiter", None, "America/New_York", False),
    ("sam.manager@contoso.com", "Sam Manager", None, "Europe/London", False),
    (
        "dana.scott@contoso.com",
        "Dana Scott",
        "dscott@contoso.onmicrosoft.com",
        "America/Sao_Paulo",
        False,
    ),
)


def seed_all(sandbox: MicrosoftSandbox, *, extra_users: int = 0, seed: int = 0) -> None:
    """Build the three seeded tenants into ``sandbox``."""
    contoso = sandbox.add_tenant(
        CONTOSO_ID, "Contoso", ["contoso.onmicrosoft.com", "contoso.com"], WORLDWIDE_NA
    )
    for mail, display, upn, zone, admin in NAMED:
        user = sandbox.add_user(
            contoso,
            display_name=display,
            mail=mail,
            user_principal_name=upn,
            time_zone=zone,
            working_hours=_hours(random.Random(mail), zone),
            is_admin=admin,
            can_sign_in=True,
            job_title="Global Administrator" if admin else "Recruiter",
        )
        _calendar(sandbox, user, random.Random(f"{seed}:{mail}"))
    generate_people(sandbox, contoso, 250 - len(NAMED) + extra_users, disabled=4)

    gov = sandbox.add_tenant(
        FABRIKAM_GOV_ID, "Fabrikam Gov", ["fabrikamgov.onmicrosoft.us", "fabrikam.gov"], GCC_HIGH
    )
    sandbox.add_user(
        gov,
        display_name="Gov Admin",
        mail="gov.admin@fabrikam.gov",
        time_zone="America/New_York",
        is_admin=True,
        can_sign_in=True,
    )
    generate_people(sandbox, gov, 20)

    northwind = sandbox.add_tenant(
        NORTHWIND_ID,
        "Northwind Traders",
        ["northwindtraders.onmicrosoft.com", "northwind.com"],
        WORLDWIDE_EU,
    )
    sandbox.add_user(
        northwind,
        display_name="Nora Admin",
        mail="admin@northwind.com",
        time_zone="Europe/London",
        is_admin=True,
        can_sign_in=True,
    )
    generate_people(sandbox, northwind, 20)
    sandbox.register_app(
        NORTHWIND_APP_ID,
        "northwind-connector-secret",
        ["https://localhost*"],
        display_name="Northwind hiresync connector",
        multi_tenant=False,
        home_tenant_id=NORTHWIND_ID,
        secret_expires_at=sandbox.now - timedelta(days=12),
    )
    for client_id in (sandbox.demo_client_id, NORTHWIND_APP_ID):
        sandbox.grant_admin_consent(northwind, client_id)
        northwind.expired_secret_clients.add(client_id)


def generate_people(
    sandbox: MicrosoftSandbox, tenant: Tenant, count: int, *, disabled: int = 0
) -> list[User]:
    """Add ``count`` deterministic people (names, addresses, zones, hours, calendars)."""
    rng = random.Random(f"{tenant.id}:{len(tenant.users)}:{count}")
    domain, initial = tenant.domains[-1], tenant.domains[0]
    taken = {a for u in tenant.users.values() for a in u.addresses()}
    people = []
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last}".lower()
        suffix = 1
        while f"{local}@{domain}" in taken:
            suffix += 1
            local = f"{first}.{last}{suffix}".lower()
        mail = f"{local}@{domain}"
        short = f"{first[0]}{last}{'' if suffix == 1 else suffix}".lower()
        upn = f"{short}@{initial}" if rng.random() < 0.15 else mail
        upn = mail if upn in taken else upn  # UPNs and addresses are unique in a tenant
        aliases = [f"{short}@{domain}"] if rng.random() < 0.25 else []
        aliases = [a for a in aliases if a not in taken and a != upn]
        zone = rng.choices([z for z, _ in ZONES], [w for _, w in ZONES])[0]
        user = sandbox.add_user(
            tenant,
            display_name=f"{first} {last}",
            mail=mail,
            user_principal_name=upn,
            aliases=aliases,
            time_zone=zone,
            working_hours=_hours(rng, zone),
            account_enabled=n >= disabled,
            job_title=rng.choice(JOBS),
            department=rng.choice(DEPARTMENTS),
            office_location=f"{rng.randint(1, 9)}/{n:04d}",
            business_phones=[f"+1 425 555 {rng.randint(1000, 9999)}"],
        )
        taken |= user.addresses()
        _calendar(sandbox, user, random.Random(f"{tenant.id}:{mail}"))
        people.append(user)
    return people


def _hours(rng: random.Random, zone: str) -> WorkingHours:
    start = rng.choice((time(8), time(8, 30), time(9), time(9), time(10)))
    if zone == "Asia/Kolkata":
        start = rng.choice((time(9, 30), time(10)))
    length = rng.choice((8, 8, 9))
    end = time(min(start.hour + length, 23), start.minute)
    days = ("monday", "tuesday", "wednesday", "thursday", "friday")
    return WorkingHours(days[:4] if rng.random() < 0.05 else days, start, end)


def _calendar(sandbox: MicrosoftSandbox, user: User, rng: random.Random) -> None:
    """A plausible calendar for ``user`` from 8 weeks back to 13 weeks ahead."""
    zone = ZoneInfo(user.time_zone)
    today = sandbox.now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    first_week = monday - timedelta(weeks=8)
    hours = user.working_hours
    user.events.extend(_series(sandbox, user, rng, zone, first_week))
    for week in range(21):
        week_start = first_week + timedelta(weeks=week)
        for _ in range(rng.randint(3, 8)):
            day = week_start + timedelta(days=rng.randint(0, 4))
            hour = rng.randint(hours.start.hour, max(hours.start.hour, hours.end.hour - 2))
            start = datetime.combine(day, time(hour, rng.choice((0, 30))), zone)
            minutes = rng.choice((30, 30, 45, 60, 60, 90))
            status = rng.choices(("busy", "tentative", "free", "oof"), (80, 14, 5, 1))[0]
            private = rng.random() < 0.06
            user.events.append(
                _event(
                    sandbox,
                    user,
                    rng.choice(PRIVATE) if private else rng.choice(MEETINGS),
                    start,
                    start + timedelta(minutes=minutes),
                    show_as=status,
                    location=rng.choice(ROOMS),
                    sensitivity="private" if private else "normal",
                )
            )
    _all_day_items(sandbox, user, rng, zone, first_week)
    sandbox.touch(user)


def _all_day_items(
    sandbox: MicrosoftSandbox, user: User, rng: random.Random, zone: ZoneInfo, first_week: date
) -> None:
    if rng.random() < 0.35:  # vacation: multi-day all-day out-of-office
        start = first_week + timedelta(days=rng.randint(0, 140))
        length = rng.randint(2, 5)
        user.events.append(
            _event(
                sandbox,
                user,
                "Vacation",
                _midnight(start, zone),
                _midnight(start + timedelta(days=length), zone),
                show_as="oof",
                is_all_day=True,
            )
        )
    for _ in range(rng.randint(0, 4)):  # single-day all-day working elsewhere / conference
        day = first_week + timedelta(days=rng.randint(0, 146))
        if day.weekday() < 5:
            elsewhere = rng.random() < 0.7
            user.events.append(
                _event(
                    sandbox,
                    user,
                    "Working from home" if elsewhere else "Industry conference",
                    _midnight(day, zone),
                    _midnight(day + timedelta(days=1), zone),
                    show_as="workingElsewhere" if elsewhere else "busy",
                    is_all_day=True,
                )
            )


def _series(
    sandbox: MicrosoftSandbox, user: User, rng: random.Random, zone: ZoneInfo, first_week: date
) -> list[Event]:
    series = []
    start_day = first_week - timedelta(weeks=2)
    if rng.random() < 0.6:
        at = (datetime.combine(start_day, user.working_hours.start) + timedelta(minutes=30)).time()
        standup = _recurring(
            sandbox,
            user,
            "Daily stand-up",
            start_day,
            at,
            15,
            zone,
            {
                "type": "weekly",
                "interval": 1,
                "firstDayOfWeek": "sunday",
                "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            },
        )
        _exceptions(sandbox, standup, rng, zone, cancel=3, move=1)
        series.append(standup)
    weekday = rng.choice(WEEKDAYS)
    day = start_day + timedelta(days=WEEKDAYS.index(weekday))
    at = time(rng.randint(user.working_hours.start.hour + 1, user.working_hours.end.hour - 2))
    one_on_one = _recurring(
        sandbox,
        user,
        "1:1 with manager",
        day,
        at,
        30,
        zone,
        {"type": "weekly", "interval": 1, "firstDayOfWeek": "sunday", "daysOfWeek": [weekday]},
        end=day + timedelta(weeks=rng.choice((20, 30, 52))),
    )
    _exceptions(sandbox, one_on_one, rng, zone, cancel=1, move=1)
    series.append(one_on_one)
    if rng.random() < 0.5:
        series.append(
            _recurring(
                sandbox,
                user,
                "Team sync",
                day + timedelta(days=1),
                time(user.working_hours.start.hour + 2),
                60,
                zone,
                {
                    "type": "weekly",
                    "interval": 2,
                    "firstDayOfWeek": "sunday",
                    "daysOfWeek": [_next_weekday(weekday)],
                },
            )
        )
    if rng.random() < 0.4:
        series.append(
            _recurring(
                sandbox,
                user,
                "All hands",
                start_day,
                time(16),
                60,
                zone,
                {
                    "type": "relativeMonthly",
                    "interval": 1,
                    "daysOfWeek": ["thursday"],
                    "index": "first",
                },
                numbered=12,
            )
        )
    return series


def _recurring(
    sandbox: MicrosoftSandbox,
    user: User,
    subject: str,
    day: date,
    at: time,
    minutes: int,
    zone: ZoneInfo,
    pattern: dict,
    *,
    end: date | None = None,
    numbered: int | None = None,
) -> Event:
    start = datetime.combine(day, at, zone)
    rng_json: dict = {
        "type": "noEnd",
        "startDate": day.isoformat(),
        "endDate": "0001-01-01",
        "recurrenceTimeZone": user.time_zone,
        "numberOfOccurrences": 0,
    }
    if end is not None:
        rng_json.update(type="endDate", endDate=end.isoformat())
    if numbered is not None:
        rng_json.update(type="numbered", numberOfOccurrences=numbered)
    full = {
        "dayOfMonth": 0,
        "month": 0,
        "index": "first",
        "firstDayOfWeek": "sunday",
        "daysOfWeek": [],
        **pattern,
    }
    return _event(
        sandbox,
        user,
        subject,
        start,
        start + timedelta(minutes=minutes),
        recurrence={"pattern": full, "range": rng_json},
        location="Teams meeting",
        is_online_meeting=True,
    )


def _exceptions(
    sandbox: MicrosoftSandbox,
    event: Event,
    rng: random.Random,
    zone: ZoneInfo,
    *,
    cancel: int,
    move: int,
) -> None:
    from .recurrence import build_rule

    now_local = sandbox.now.astimezone(zone).replace(tzinfo=None)
    window = build_rule(event).between(
        now_local - timedelta(weeks=6), now_local + timedelta(weeks=8)
    )
    picks = rng.sample(window, min(len(window), cancel + move))
    for n, original in enumerate(picks):
        if n < cancel:
            event.exceptions[original.date()] = None
            continue
        start = datetime.combine(original.date(), original.time(), zone) + timedelta(hours=1)
        event.exceptions[original.date()] = Override(
            start, start + (event.end - event.start), subject=f"{event.subject} (moved)"
        )


def _event(
    sandbox: MicrosoftSandbox,
    user: User,
    subject: str,
    start: datetime,
    end: datetime,
    **attrs: object,
) -> Event:
    return Event(
        id=sandbox.new_event_id(),
        subject=subject,
        start=start,
        end=end,
        time_zone=user.time_zone,
        organizer=user.mail,
        created=sandbox.now - timedelta(days=70),
        **attrs,
    )  # type: ignore[arg-type]


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _next_weekday(name: str) -> str:
    return WEEKDAYS[(WEEKDAYS.index(name) + 1) % 5]
