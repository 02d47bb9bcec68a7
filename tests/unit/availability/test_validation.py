"""Bad requests are refused with a message that says what to change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hiresync.availability import (
    AvailabilityError,
    AvailabilityQuery,
    Group,
    InvalidQuery,
    Period,
    Person,
    find_availability,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAY = timedelta(days=1)
PEOPLE = [Person("a"), Person("b"), Person("c")]


def ask(**changes: object) -> None:
    base: dict[str, object] = {
        "groups": (Group(("a", "b")),),
        "periods": (Period(T0, T0 + DAY),),
        "duration": timedelta(minutes=30),
    }
    base.update(changes)
    find_availability(AvailabilityQuery(**base), PEOPLE, T0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"groups": (Group(("a", "b"), 3),)}, "between 1 and 2"),
        ({"groups": (Group(("a", "b"), 0),)}, "between 1 and 2"),
        ({"groups": (Group(()),)}, "add at least one person"),
        ({"groups": ()}, "add at least one group"),
        ({"groups": (Group(("a",)), Group(("a", "b"), 1))}, "in groups 1 and 2"),
        ({"groups": (Group(("a", "a")),)}, "twice in group 1"),
        ({"groups": (Group(("zed",)),)}, "not among the people"),
        ({"duration": timedelta(0)}, "duration must be"),
        ({"duration": timedelta(minutes=-5)}, "duration must be"),
        ({"interval": timedelta(minutes=7)}, "(5, 10, 15, 20, 30, 60)"),
        ({"periods": (Period(T0, T0 + 13 * 7 * DAY),)}, "12 weeks or less"),
        ({"periods": (Period(T0, T0 + DAY), Period(T0 + DAY / 2, T0 + 2 * DAY))}, "overlap"),
        ({"periods": (Period(T0 + DAY, T0),)}, "ends before it starts"),
        ({"periods": (Period(T0, T0),)}, "ends before it starts"),
        ({"periods": ()}, "at least one start/end"),
        ({"periods": (Period(datetime(2026, 3, 2), datetime(2026, 3, 3)),)}, "time zone"),
        ({"max_results": 0}, "max_results"),
    ],
)
def test_bad_query_is_refused_with_a_fix(changes: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        ask(**changes)
    assert says in str(caught.value)
    assert isinstance(caught.value, AvailabilityError)
    assert isinstance(caught.value, ValueError)


def test_unknown_time_zone_names_the_person_and_an_example() -> None:
    with pytest.raises(InvalidQuery, match=r"'Mars/Olympus'.*'b'.*Europe/London"):
        find_availability(
            AvailabilityQuery((Group(("b",)),), (Period(T0, T0 + DAY),), timedelta(hours=1)),
            [Person("b", "Mars/Olympus")],
            T0,
        )


def test_touching_periods_are_one_window_and_exactly_12_weeks_is_allowed() -> None:
    ask(periods=(Period(T0, T0 + DAY), Period(T0 + DAY, T0 + 2 * DAY)))
    ask(periods=(Period(T0, T0 + 12 * 7 * DAY),))
